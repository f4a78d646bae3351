"""The container runtime seam: a small Protocol the pod workers use, Docker behind it, a fake for unit tests.

    Runtime            list / inspect / pull / create / start / stop / remove / exec / logs / watch
    CreateSpec         everything needed to create one container (sandbox or app), runtime-neutral
    ContainerRecord    what the runtime reports about one container, with the pod identity read from labels
    RuntimeEvent       a container died / started / was removed (to wake the pod's worker at once)

Implementations: runtime.docker.DockerRuntime (the docker SDK; its exceptions become kbs errors there) and, not
shipped, tests/support/fake_runtime.FakeRuntime (in memory; tests make containers exit, fail pulls, ...). Every
call may raise bootstrap.errors.RuntimeUnavailableError (engine down: retry later) or a
reconciler.errors.RuntimeOperationError.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bootstrap.reconciler.runtime import naming


@dataclass(frozen=True)
class Mount:
    source: str  # host path
    target: str  # path in the container
    read_only: bool = False


@dataclass(frozen=True)
class CreateSpec:
    name: str
    image: str
    labels: Mapping[str, str]
    entrypoint: tuple[str, ...] | None = None  # the pod's `command`; None keeps the image's
    cmd: tuple[str, ...] | None = None  # the pod's `args`; None keeps the image's (unless entrypoint is set)
    env: tuple[str, ...] = ()  # "NAME=value"
    working_dir: str | None = None
    mounts: tuple[Mount, ...] = ()
    tmpfs: Mapping[str, str] = field(default_factory=dict)  # target -> options
    network_mode: str = "default"  # "host", "none", "default" or "container:<id>"
    ipc_mode: str | None = None  # "shareable", "host", "container:<id>"
    pid_mode: str | None = None
    uts_mode: str | None = None
    hostname: str | None = None
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()  # "name:ip"
    port_bindings: tuple[tuple[int, str, int, str], ...] = ()  # (container port, protocol, host port, host ip)
    privileged: bool = False
    user: str | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    read_only_rootfs: bool = False
    security_opt: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    memory: int | None = None
    oom_score_adj: int | None = None
    sysctls: Mapping[str, str] = field(default_factory=dict)
    stdin: bool = False
    tty: bool = False


@dataclass(frozen=True)
class ContainerRecord:
    id: str
    name: str
    labels: Mapping[str, str]
    state: str  # created, running, paused, restarting, removing, exited, dead
    image: str  # the reference it was created from
    image_id: str = ""
    exit_code: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    oom_killed: bool = False
    error: str = ""
    ip: str | None = None

    @property
    def running(self) -> bool:
        return self.state in ("running", "paused", "restarting")

    @property
    def pod_uid(self) -> str:
        return self.labels.get(naming.POD_UID, "")

    @property
    def pod_name(self) -> str:
        return self.labels.get(naming.POD_NAME, "")

    @property
    def pod_namespace(self) -> str:
        return self.labels.get(naming.POD_NAMESPACE, "")

    @property
    def container_name(self) -> str:
        return self.labels.get(naming.CONTAINER_NAME, "")

    @property
    def is_sandbox(self) -> bool:
        return self.labels.get(naming.DOCKER_TYPE) == naming.TYPE_SANDBOX

    @property
    def sandbox_id(self) -> str:
        return self.labels.get(naming.SANDBOX_ID, "")

    @property
    def attempt(self) -> int:
        """Restart count of an app container, attempt of a sandbox (label, else the name's last field)."""
        key = naming.ATTEMPT if self.is_sandbox else naming.ANNOTATION + naming.RESTART_COUNT
        text = self.labels.get(key) or self.name.rsplit("_", 1)[-1]
        return int(text) if text.isdigit() else 0

    @property
    def hash(self) -> str:
        return self.labels.get(naming.ANNOTATION + naming.CONTAINER_HASH, "")

    @property
    def grace_period(self) -> int | None:
        text = self.labels.get(naming.ANNOTATION + naming.TERMINATION_GRACE, "")
        return int(text) if text.isdigit() else None

    @property
    def full_name(self) -> str:
        return f"{self.pod_name}_{self.pod_namespace}"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None when it timed out
    output: bytes = b""


@dataclass(frozen=True)
class RuntimeEvent:
    action: str  # "die", "start", "destroy", "oom", "create", or "resync" after a reconnect
    container_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


class Runtime(Protocol):
    instance: str  # the io.kbs.reconciler label value this runtime lists and creates

    def ping(self) -> str:
        """The runtime's version; RuntimeUnavailableError if it does not answer."""

    def list(self, pod_uid: str | None = None) -> list[ContainerRecord]:
        """Every container of this instance (any state), or only one pod's."""

    def inspect(self, container_id: str) -> ContainerRecord | None:
        """One container, None if it is gone."""

    def image_present(self, image: str) -> bool: ...

    def image_id(self, image: str) -> str: ...

    def pull(self, image: str) -> None:
        """Pull `image`; ImagePullError with the registry's message if it cannot."""

    def create(self, spec: CreateSpec) -> str:
        """Create a container and return its ID (not started)."""

    def start(self, container_id: str) -> None: ...

    def stop(self, container_id: str, timeout: int) -> None:
        """Stop signal (image STOPSIGNAL or SIGTERM), SIGKILL after `timeout` seconds; no error if not running."""

    def remove(self, container_id: str) -> None:
        """Remove a container (forced); no error if it is already gone."""

    def exec(self, container_id: str, command: tuple[str, ...], timeout: float) -> ExecResult: ...

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, timestamps: bool = False
    ) -> Iterator[bytes]: ...

    def watch(self, stop: threading.Event) -> Iterator[RuntimeEvent]:
        """Container events until `stop` is set or the stream breaks (the caller reconnects)."""

    def interrupt_watch(self) -> None:
        """Make a blocked `watch` return soon (used when stopping)."""

    def close(self) -> None: ...
