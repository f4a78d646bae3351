"""Pod spec -> runtime.CreateSpec: the sandbox and each container, as dockershim / cri-dockerd laid them out.

Sandbox: the pause image, host network/IPC/PID when the pod asks for them (else the Docker bridge, a shareable
IPC namespace), the pod's hostname, DNS settings, hostPort bindings, OOM score -998. Containers: `command` ->
Entrypoint and `args` -> Cmd with `$(VAR)` expansion, env (values, fieldRef, resourceFieldRef), the network and
IPC namespace of the sandbox (`container:<id>`), or the host's for hostNetwork pods, volume mounts, resources
(CPU shares / CFS quota / memory limit), privileged, runAsUser/runAsGroup, capabilities, seccomp, and the OOM
score of a critical pod. Volumes are prepared here too: hostPath type checks (and creation for *OrCreate),
emptyDir directories under the state dir, the termination-message file.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from math import ceil
from pathlib import Path

from bootstrap import constants
from bootstrap.reconciler import model
from bootstrap.reconciler.errors import RuntimeOperationError
from bootstrap.reconciler.quantity import parse_quantity
from bootstrap.reconciler.runtime import CreateSpec, Mount, naming

SECCOMP_ROOT = Path("/var/lib/kubelet/seccomp")
CPU_PERIOD = 100_000
MIN_SHARES, MAX_SHARES, MIN_QUOTA = 2, 262_144, 1_000
_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class VolumeError(RuntimeOperationError):
    """A volume cannot be set up (hostPath type check, permissions): the pod stays ContainerCreating."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}', reason="ContainerCreating")
        self.volume = volume


@dataclass(frozen=True)
class PodContext:
    """What translation needs besides the spec: where pod files live and the addresses env vars may name."""

    pod: model.StaticPod
    instance: str
    pod_dir: Path  # <state-dir>/pods/<uid>
    node_ip: str
    pod_ip: str = ""


def expand(text: str, env: Mapping[str, str]) -> str:
    """The kubelet's `$(VAR)` expansion: known names are replaced, `$$` is a literal `$`, the rest is kept."""

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return _VAR.sub(replace, text)


def sandbox_spec(ctx: PodContext, pause_image: str, attempt: int) -> CreateSpec:
    pod, spec = ctx.pod, ctx.pod.spec
    bindings: list[tuple[int, str, int, str]] = []
    if not spec.host_network:
        for container in spec.containers:
            for port in container.ports:
                if port.host_port:
                    bindings.append((port.container_port, port.protocol, port.host_port, port.host_ip or ""))
    dns: tuple[str, ...] = spec.dns_nameservers
    search, options = spec.dns_searches, spec.dns_options
    hostname = None if spec.host_network else (spec.hostname or pod.name)[:63].rstrip("-.")
    return CreateSpec(
        name=naming.sandbox_name(pod, attempt),
        image=pause_image,
        labels=naming.sandbox_labels(pod, ctx.instance, attempt),
        network_mode="host" if spec.host_network else "default",
        ipc_mode="host" if spec.host_ipc else "shareable",
        pid_mode="host" if spec.host_pid else None,
        hostname=hostname,
        dns=() if spec.host_network else dns,
        dns_search=() if spec.host_network else search,
        dns_options=() if spec.host_network else options,
        extra_hosts=() if spec.host_network else tuple(f"{h}:{ip}" for ip, names in spec.host_aliases for h in names),
        port_bindings=tuple(bindings),
        cpu_shares=MIN_SHARES,
        oom_score_adj=constants.SANDBOX_OOM_SCORE_ADJ,
        sysctls={} if spec.host_network else dict(spec.sysctls),
    )


def _field_value(path: str, ctx: PodContext) -> str:
    pod = ctx.pod
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.nodeName": str(pod.manifest["spec"].get("nodeName", "")),
        "spec.serviceAccountName": "",
        "status.podIP": ctx.pod_ip,
        "status.podIPs": ctx.pod_ip,
        "status.hostIP": ctx.node_ip,
        "status.hostIPs": ctx.node_ip,
    }
    if path in simple:
        return simple[path]
    match = re.match(r"^metadata\.(labels|annotations)\['([^']+)'\]$", path)
    if match:
        source = pod.labels if match[1] == "labels" else pod.annotations
        return source.get(match[2], "")
    return ""


def _resource_value(resource: str, divisor: str, container: model.Container) -> str:
    res = container.resources
    node_cpu_milli = (os.cpu_count() or 1) * 1000
    try:
        node_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        node_memory = 0
    values = {
        "limits.cpu": (res.cpu_limit_milli or node_cpu_milli) / 1000,
        "requests.cpu": (res.cpu_request_milli or 0) / 1000,
        "limits.memory": res.memory_limit or node_memory,
        "requests.memory": res.memory_request or 0,
    }
    value = values.get(resource)
    if value is None:
        return ""
    try:
        unit = float(parse_quantity(divisor)) or 1.0
    except ValueError:
        unit = 1.0
    return str(ceil(value / unit))


def environment(container: model.Container, ctx: PodContext) -> dict[str, str]:
    env: dict[str, str] = {}
    for var in container.env:
        if var.field_path is not None:
            env[var.name] = _field_value(var.field_path, ctx)
        elif var.resource is not None:
            env[var.name] = _resource_value(var.resource[0], var.resource[1], container)
        else:
            env[var.name] = expand(var.value or "", env)
    return env


def _check_host_path(name: str, volume: model.HostPathVolume) -> None:
    path, kind = volume.path, volume.type
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise VolumeError(name, f"cannot stat {path}: {exc.strerror}") from exc
    try:
        if info is None and kind == "DirectoryOrCreate":
            os.makedirs(path, mode=0o755, exist_ok=True)
            return
        if info is None and kind == "FileOrCreate":
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            return
    except OSError as exc:
        raise VolumeError(name, f"cannot create {path}: {exc.strerror}") from exc
    checks = {
        "Directory": (stat.S_ISDIR, "a directory"),
        "DirectoryOrCreate": (stat.S_ISDIR, "a directory"),
        "File": (stat.S_ISREG, "a file"),
        "FileOrCreate": (stat.S_ISREG, "a file"),
        "Socket": (stat.S_ISSOCK, "a socket"),
        "CharDevice": (stat.S_ISCHR, "a character device"),
        "BlockDevice": (stat.S_ISBLK, "a block device"),
    }
    if kind not in checks:
        return
    test, what = checks[kind]
    if info is None:
        raise VolumeError(name, f"hostPath type check failed: {path} is not {what}")
    if not test(info.st_mode):
        raise VolumeError(name, f"hostPath type check failed: {path} is not {what}")


def empty_dir(ctx: PodContext, name: str) -> Path:
    return ctx.pod_dir / "volumes" / "kubernetes.io~empty-dir" / name


def _mounts(container: model.Container, ctx: PodContext, restart_count: int) -> tuple[list[Mount], dict[str, str]]:
    mounts: list[Mount] = []
    tmpfs: dict[str, str] = {}
    for mount in container.volume_mounts:
        volume = ctx.pod.spec.volume(mount.name)
        if isinstance(volume, model.HostPathVolume):
            _check_host_path(mount.name, volume)
            source = os.path.join(volume.path, mount.sub_path) if mount.sub_path else volume.path
        elif isinstance(volume, model.EmptyDirVolume):
            if volume.medium == "Memory":
                size = f",size={volume.size_limit}" if volume.size_limit else ""
                tmpfs[mount.mount_path] = ("ro" if mount.read_only else "rw") + size
                continue
            directory = empty_dir(ctx, mount.name)
            try:
                directory.mkdir(parents=True, exist_ok=True)
                directory.chmod(0o777)  # like the kubelet: any runAsUser may write its emptyDir
                if mount.sub_path:
                    (directory / mount.sub_path).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise VolumeError(mount.name, f"cannot create {directory}: {exc.strerror}") from exc
            source = str(directory / mount.sub_path) if mount.sub_path else str(directory)
        else:  # parse.py only lets hostPath and emptyDir through
            raise VolumeError(mount.name, "unsupported volume type")
        mounts.append(Mount(source, mount.mount_path, mount.read_only))
    if container.termination_message_path and not any(m.target == container.termination_message_path for m in mounts):
        log_dir = ctx.pod_dir / "containers" / container.name
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            message_file = log_dir / f"{restart_count}-termination-log"
            message_file.touch(mode=0o666)
            message_file.chmod(0o666)
        except OSError as exc:
            raise VolumeError("termination-log", f"cannot create {log_dir}: {exc.strerror}") from exc
        mounts.append(Mount(str(message_file), container.termination_message_path))
    return mounts, tmpfs


def termination_message_file(ctx: PodContext, container: str, restart_count: int) -> Path:
    return ctx.pod_dir / "containers" / container / f"{restart_count}-termination-log"


def _security_opts(sec: model.SecurityContext) -> tuple[str, ...]:
    opts: list[str] = []
    if not sec.privileged:
        if sec.seccomp is None or sec.seccomp == "Unconfined":
            opts.append("seccomp=unconfined")  # the kubelet's default without a profile
        elif sec.seccomp.startswith("Localhost:"):
            profile = SECCOMP_ROOT / sec.seccomp.split(":", 1)[1]
            try:
                opts.append(f"seccomp={profile.read_text()}")
            except OSError as exc:
                raise RuntimeOperationError(
                    f"cannot read seccomp profile {profile}: {exc.strerror}", reason="CreateContainerConfigError"
                ) from exc
    if sec.allow_privilege_escalation is False:
        opts.append("no-new-privileges")
    return tuple(opts)


def container_spec(
    ctx: PodContext, container: model.Container, sandbox_id: str, restart_count: int, *, init: bool
) -> CreateSpec:
    spec, sec, res = ctx.pod.spec, container.security, container.resources
    env = environment(container, ctx)
    mounts, tmpfs = _mounts(container, ctx, restart_count)
    user = None
    if sec.run_as_user is not None:
        user = str(sec.run_as_user) + (f":{sec.run_as_group}" if sec.run_as_group is not None else "")
    groups = [str(g) for g in spec.supplemental_groups]
    if spec.fs_group is not None:
        groups.append(str(spec.fs_group))
    shares = MIN_SHARES
    if res.cpu_request_milli:
        shares = min(MAX_SHARES, max(MIN_SHARES, res.cpu_request_milli * 1024 // 1000))
    quota = None
    if res.cpu_limit_milli:
        quota = max(MIN_QUOTA, res.cpu_limit_milli * CPU_PERIOD // 1000)
    sandbox = f"container:{sandbox_id}"
    if spec.host_pid:
        pid_mode: str | None = "host"
    elif spec.share_process_namespace:
        pid_mode = sandbox
    else:
        pid_mode = None
    return CreateSpec(
        name=naming.container_name(ctx.pod, container.name, restart_count),
        image=container.image,
        labels=naming.container_labels(ctx.pod, container, ctx.instance, sandbox_id, restart_count, init=init),
        entrypoint=tuple(expand(c, env) for c in container.command) if container.command else None,
        cmd=tuple(expand(a, env) for a in container.args) if container.args else None,
        env=tuple(f"{k}={v}" for k, v in env.items()),
        working_dir=container.working_dir,
        mounts=tuple(mounts),
        tmpfs=tmpfs,
        network_mode="host" if spec.host_network else sandbox,
        ipc_mode="host" if spec.host_ipc else sandbox,
        pid_mode=pid_mode,
        uts_mode="host" if spec.host_network else None,
        privileged=sec.privileged,
        user=user,
        cap_add=sec.capabilities_add,
        cap_drop=sec.capabilities_drop,
        read_only_rootfs=sec.read_only_root_filesystem,
        security_opt=_security_opts(sec),
        group_add=tuple(groups),
        cpu_shares=shares,
        cpu_quota=quota,
        cpu_period=CPU_PERIOD if quota else None,
        memory=res.memory_limit,
        oom_score_adj=constants.STATIC_POD_OOM_SCORE_ADJ,
        stdin=container.stdin,
        tty=container.tty,
    )


def qos_class(spec: model.PodSpec) -> str:
    containers = (*spec.init_containers, *spec.containers)
    resources = [c.resources for c in containers]
    if all(r == model.Resources() for r in resources):
        return "BestEffort"
    guaranteed = all(
        r.cpu_limit_milli is not None
        and r.memory_limit is not None
        and r.cpu_request_milli in (None, r.cpu_limit_milli)
        and r.memory_request in (None, r.memory_limit)
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"
