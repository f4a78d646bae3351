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


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (proc / "net" / table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) < 10 or cols[3] != _LISTEN:
                    continue
                if int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(cols[9])
    return inodes


def listener(port: int, proc: Path = PROC) -> Listener | None:
    """The process listening on TCP `port` on any address, or None when nobody listens."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (pid_dir / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        return _describe(int(pid_dir.name), port, proc)
    return Listener(port, None, "", ())


def _describe(pid: int, port: int, proc: Path) -> Listener:
    cmdline: tuple[str, ...] = ()
    with contextlib.suppress(OSError):
        cmdline = tuple(a for a in (proc / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0") if a)
    command = os.path.basename(cmdline[0]) if cmdline else ""
    return Listener(port, pid, command, cmdline)
