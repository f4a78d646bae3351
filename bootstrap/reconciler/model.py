"""The typed view of a static pod that the reconciler acts on, built from the defaulted v1 Pod by parse.py.

The reconciler keeps two forms of each pod: `StaticPod.manifest`, the full defaulted v1 Pod as a dict (what the
status file and the mirror-pod publisher carry, unknown fields included), and `StaticPod.spec`, the frozen subset
that running it needs (this module). Only fields the reconciler honours are modelled; the rest ride along in the
manifest untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SOURCE_FILE = "file"
SOURCE_HTTP = "http"


@dataclass(frozen=True)
class ExecAction:
    command: tuple[str, ...]


@dataclass(frozen=True)
class HTTPGetAction:
    port: int | str  # a number or the name of a container port
    path: str = "/"
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    host: str | None = None  # None: the pod IP
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TCPSocketAction:
    port: int | str
    host: str | None = None


@dataclass(frozen=True)
class GRPCAction:
    port: int
    service: str = ""


@dataclass(frozen=True)
class SleepAction:
    seconds: int


Handler = ExecAction | HTTPGetAction | TCPSocketAction | GRPCAction | SleepAction
ProbeKind = Literal["liveness", "readiness", "startup"]


@dataclass(frozen=True)
class Probe:
    handler: Handler
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period: int | None = None  # probe-level override for the kill after a failure


@dataclass(frozen=True)
class Port:
    container_port: int
    protocol: str = "TCP"
    name: str | None = None
    host_port: int | None = None
    host_ip: str | None = None


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None
    field_path: str | None = None  # valueFrom.fieldRef.fieldPath
    resource: tuple[str, str] | None = None  # valueFrom.resourceFieldRef: (resource, divisor)


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""


@dataclass(frozen=True)
class Resources:
    cpu_request_milli: int | None = None
    cpu_limit_milli: int | None = None
    memory_request: int | None = None
    memory_limit: int | None = None


@dataclass(frozen=True)
class SecurityContext:
    """Container security settings, already merged with the pod-level ones (container wins)."""

    privileged: bool = False
    run_as_user: int | None = None
    run_as_group: int | None = None
    read_only_root_filesystem: bool = False
    allow_privilege_escalation: bool | None = None
    capabilities_add: tuple[str, ...] = ()
    capabilities_drop: tuple[str, ...] = ()
    seccomp: str | None = None  # "RuntimeDefault", "Unconfined", "Localhost:<file>" or None (unset)


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str | None = None
    env: tuple[EnvVar, ...] = ()
    ports: tuple[Port, ...] = ()
    volume_mounts: tuple[VolumeMount, ...] = ()
    resources: Resources = field(default_factory=Resources)
    security: SecurityContext = field(default_factory=SecurityContext)
    liveness: Probe | None = None
    readiness: Probe | None = None
    startup: Probe | None = None
    pre_stop: Handler | None = None
    termination_message_path: str = "/dev/termination-log"
    termination_message_policy: str = "File"
    stdin: bool = False
    tty: bool = False

    def port_number(self, port: int | str) -> int | None:
        """A probe's port: a number as is, a name looked up among this container's ports."""
        if isinstance(port, int):
            return port
        for candidate in self.ports:
            if candidate.name == port:
                return candidate.container_port
        return None


@dataclass(frozen=True)
class HostPathVolume:
    path: str
    type: str = ""  # "", DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice


@dataclass(frozen=True)
class EmptyDirVolume:
    medium: str = ""  # "" (node disk) or "Memory" (tmpfs)
    size_limit: int | None = None


Volume = HostPathVolume | EmptyDirVolume


@dataclass(frozen=True)
class PodSpec:
    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...] = ()
    volumes: tuple[tuple[str, Volume], ...] = ()
    restart_policy: Literal["Always", "OnFailure", "Never"] = "Always"
    termination_grace_period: int = 30
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    share_process_namespace: bool = False
    hostname: str | None = None
    subdomain: str | None = None
    dns_policy: str = "ClusterFirst"
    dns_nameservers: tuple[str, ...] = ()
    dns_searches: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    host_aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    supplemental_groups: tuple[int, ...] = ()
    fs_group: int | None = None
    sysctls: tuple[tuple[str, str], ...] = ()

    def volume(self, name: str) -> Volume | None:
        return dict(self.volumes).get(name)


@dataclass(frozen=True)
class StaticPod:
    """One desired pod from a source: the defaulted v1 Pod (`manifest`) and its typed spec."""

    manifest: dict[str, Any] = field(compare=False, hash=False)
    spec: PodSpec = field(compare=False, hash=False)
    source: str = SOURCE_FILE  # "file" or "http" (kubernetes.io/config.source)
    origin: str = ""  # the file path or URL it came from

    @property
    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = self.manifest["metadata"]
        return meta

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def namespace(self) -> str:
        return str(self.metadata["namespace"])

    @property
    def uid(self) -> str:
        return str(self.metadata["uid"])

    @property
    def full_name(self) -> str:
        """`<name>_<namespace>`: the kubelet's key; one started pod per full name at a time."""
        return f"{self.name}_{self.namespace}"

    @property
    def annotations(self) -> dict[str, str]:
        annotations: dict[str, str] = self.metadata.get("annotations") or {}
        return annotations

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.metadata.get("labels") or {}
        return labels

    def container(self, name: str) -> Container | None:
        for candidate in (*self.spec.init_containers, *self.spec.containers):
            if candidate.name == name:
                return candidate
        return None

    def describe(self) -> str:
        """`<namespace>/<name>`, the way log lines name a pod."""
        return f"{self.namespace}/{self.name}"
