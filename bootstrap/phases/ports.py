"""Who listens on a TCP port: /proc/net/tcp{,6} gives the socket inode, /proc/<pid>/fd finds the process.

Preflight uses it to tell "port 6443 is taken by our own kube-apiserver" (a converged node: fine) from "port 6443
is taken by something else" (an error), which a bind() probe alone cannot do. Processes in host-network
containers are ordinary host processes here, so the control-plane containers are found the same way.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"
PROC = Path("/proc")


@dataclass(frozen=True)
class Listener:
    port: int
    pid: int | None  # None: the socket's owner is not visible (another pid namespace, or not root)
    command: str  # argv[0]'s base name, "" when unknown
    cmdline: tuple[str, ...]

    def describe(self) -> str:
        if self.pid is None:
            return "an unknown process"
        return f"{self.command or '?'} (pid {self.pid})"


def _listening_inodes(wanted: set[int], proc: Path) -> dict[str, int]:
    """socket inode -> port, for the LISTEN sockets on any of the `wanted` ports."""
    inodes: dict[str, int] = {}
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (proc / "net" / table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) < 10 or cols[3] != _LISTEN:
                    continue
                port = int(cols[1].rsplit(":", 1)[1], 16)
                if port in wanted:
                    inodes[cols[9]] = port
    return inodes


def listeners(wanted: list[int], proc: Path = PROC) -> dict[int, Listener]:
    """Port -> the process listening on it, for the `wanted` ports that someone listens on (one /proc walk)."""
    inodes = _listening_inodes(set(wanted), proc)
    if not inodes:
        return {}
    targets = {f"socket:[{inode}]": port for inode, port in inodes.items()}
    found: dict[int, Listener] = {}
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (pid_dir / "fd").iterdir():
                with contextlib.suppress(OSError):
                    port = targets.get(os.readlink(fd))
                    if port is not None and port not in found:
                        found[port] = _describe(int(pid_dir.name), port, proc)
        if len(found) == len(set(inodes.values())):
            break
    for port in set(inodes.values()) - set(found):
        found[port] = Listener(port, None, "", ())
    return found


def listener(port: int, proc: Path = PROC) -> Listener | None:
    """The process listening on TCP `port` on any address, or None when nobody listens."""
    return listeners([port], proc).get(port)


def _describe(pid: int, port: int, proc: Path) -> Listener:
    cmdline: tuple[str, ...] = ()
    with contextlib.suppress(OSError):
        cmdline = tuple(a for a in (proc / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0") if a)
    command = os.path.basename(cmdline[0]) if cmdline else ""
    return Listener(port, pid, command, cmdline)
