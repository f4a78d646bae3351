"""`securityContext.privileged: true` granted the way containerd's CRI grants it, on a Docker engine.

containerd (pkg/oci `WithPrivileged`) gives a privileged container the capabilities its own process holds (CapEff
of /proc/self/status), every host device, no masked or read-only paths, a writable /sys, and unconfined seccomp and
AppArmor. Docker's `--privileged` asks for *every* capability the kernel knows instead; where the engine's root does
not hold them all (a sandbox without CAP_SYS_RESOURCE, as on this project's machines) runc fails with "unable to
apply caps: operation not permitted", while the kubelet with containerd runs the same pod.

So the Docker runtime asks once which capabilities the engine holds: the CapEff of the process that listens on the
engine's unix socket (the dockerd that will start the container). When that is the kernel's full set, Docker's own
`privileged=True` is used, exactly what it always was. Otherwise privileged is spelled out: `cap_add` with exactly
the engine's capabilities (less any the engine has no name for: Docker 20.10 rejects CAP_BPF, CAP_PERFMON and
CAP_CHECKPOINT_RESTORE as unknown, so each is dropped on the first such answer and remembered), every host device
(as containerd lists them, plus the rule `a *:* rwm` for devices that appear later), `seccomp=unconfined`,
`apparmor=unconfined`, empty MaskedPaths and ReadonlyPaths (the CLI's `systempaths=unconfined`), and the host's
/sys bound read-write. For a remote engine (tcp://) the daemon's capabilities cannot be read: Docker's
`privileged=True`. Not granted as containerd does: a writable /sys/fs/cgroup (Docker mounts it read-only).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# capability numbers -> names (include/uapi/linux/capability.h), the names Docker's cap_add accepts
CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)
SKIPPED_DEVICE_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})  # as containerd
ALL_DEVICES_RULE = "a *:* rwm"
DOCKER_PREFIX = "CAP_"
_UNKNOWN = re.compile(r'unknown capability:? "?(?:CAP_)?([A-Z_]+)"?')
SECURITY_OPTS = ("seccomp=unconfined", "apparmor=unconfined")


@dataclass(frozen=True)
class Privileged:
    """How this engine grants privileged: `native` = Docker's privileged=True, else the explicit pieces."""

    native: bool
    capabilities: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # what the kernel knows and the engine does not hold
    source: str = ""  # where the capability set was read, for the log

    def describe(self) -> str:
        if self.native:
            return f"Docker's privileged mode ({self.source})"
        return (
            f"containerd-style privileged with the engine's {len(self.capabilities)} capabilities "
            f"({self.source}; it lacks {', '.join(self.missing)})"
        )


def bitmap_names(bitmap: int) -> tuple[str, ...]:
    return tuple(name for bit, name in enumerate(CAPABILITIES) if bitmap >> bit & 1)


def status_capabilities(status: str, field: str = "CapEff") -> int | None:
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            try:
                return int(line.split()[1], 16)
            except (IndexError, ValueError):
                return None
    return None


def kernel_bitmap(proc: Path = Path("/proc")) -> int:
    """Every capability this kernel knows (cap_last_cap), capped at the names known here."""
    try:
        last = int((proc / "sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        last = len(CAPABILITIES) - 1
    return (1 << (min(last, len(CAPABILITIES) - 1) + 1)) - 1


def socket_owner(socket_path: str, proc: Path = Path("/proc")) -> int | None:
    """The pid of a process holding the listening unix socket `socket_path` (the engine), or None."""
    inodes: set[str] = set()
    try:
        for line in (proc / "net/unix").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == socket_path:
                inodes.add(fields[6])
    except OSError:
        return None
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name)
        except OSError:
            continue
    return None


def detect(base_url: str | None, proc: Path = Path("/proc")) -> Privileged:
    """How to grant privileged on the engine at `base_url` (None: $DOCKER_HOST or the default socket)."""
    url = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not url.startswith("unix://"):
        return Privileged(native=True, source=f"remote engine {url}: its capabilities cannot be read")
    socket_path = url.removeprefix("unix://")
    pid = socket_owner(socket_path, proc) or socket_owner(os.path.realpath(socket_path), proc)
    bitmap = None
    source = ""
    if pid is not None:
        try:
            bitmap = status_capabilities((proc / str(pid) / "status").read_text())
            source = f"CapEff of the engine, pid {pid}"
        except OSError:
            bitmap = None
    if bitmap is None:  # the engine's process is not visible (another pid namespace): root here is the best guess
        try:
            bitmap = status_capabilities((proc / "self/status").read_text())
        except OSError:
            bitmap = None
        source = "CapEff of this process: the engine's process is not visible"
    if bitmap is None:
        return Privileged(native=True, source="no capability set readable")
    full = kernel_bitmap(proc)
    if bitmap & full == full:
        return Privileged(native=True, source=f"the engine holds every capability: {source}")
    return Privileged(
        native=False, capabilities=bitmap_names(bitmap), missing=bitmap_names(full & ~bitmap), source=source
    )


def host_devices(root: Path = Path("/dev")) -> Iterator[str]:
    """Every character and block device under /dev, as containerd's HostDevices lists them."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return
    for entry in entries:
        try:
            mode = entry.lstat().st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode):
            if entry.name not in SKIPPED_DEVICE_DIRS:
                yield from host_devices(entry)
        elif (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and entry.name != "console":
            yield str(entry)


def unknown_capability(message: str) -> str | None:
    """The capability an engine's "unknown capability" error names (without the CAP_ prefix), if it is one."""
    found = _UNKNOWN.search(message)
    return found.group(1) if found else None


def host_config(
    how: Privileged,
    *,
    binds: list[str],
    cap_add: list[str],
    security_opt: list[str],
    unknown: Collection[str] = (),
) -> dict[str, Any]:
    """The create_host_config arguments for a privileged container (replacing the unprivileged ones).

    `unknown`: capabilities the engine rejected by name before (it is older than the kernel), left out."""
    if how.native:
        return {"privileged": True, "binds": binds, "cap_add": cap_add, "security_opt": security_opt}
    # containerd ignores capabilities.add/drop for a privileged container: it has every capability there is
    caps = sorted(DOCKER_PREFIX + c for c in how.capabilities if c not in unknown)
    opts = [o for o in security_opt if o.split("=", 1)[0] not in ("seccomp", "apparmor")]
    sys_bound = any(b.split(":")[1:2] == ["/sys"] for b in binds)
    return {
        "privileged": False,
        "binds": binds if sys_bound else [*binds, "/sys:/sys:rw"],
        "cap_add": caps,
        "cap_drop": [],
        "security_opt": [*opts, *SECURITY_OPTS],
        "devices": [f"{d}:{d}:rwm" for d in host_devices()],
        "device_cgroup_rules": [ALL_DEVICES_RULE],
        "unmasked": True,  # HostConfig MaskedPaths = ReadonlyPaths = []: docker-py has no argument for them
    }
