"""The Docker side of exec, attach and port-forward (the `apiserver.streaming.Backend` of the read API).

    exec    POST /exec (create) with the command and which stdio to attach, then POST /exec/<id>/start
            hijacked ("Upgrade: tcp") on a connection of our own to the engine's unix socket: its raw socket is
            the command's stdio (Docker's 8-byte frame headers unless there is a TTY). /exec/<id>/resize and
            /exec/<id>/json (exit code, pid) through the docker SDK.
    attach  POST /containers/<id>/attach?stream=1&... hijacked the same way; resize with /containers/<id>/resize.
    dial    a TCP connection to localhost:<port> inside the pod's network namespace: a short-lived thread
            setns(2)es into /proc/<sandbox pid>/ns/net, connects, and ends (the socket stays in that namespace).

The hijacked requests are written by hand rather than through the SDK's `socket=True`: the SDK reads the HTTP
response through a buffered reader, which can swallow the first bytes of the command's output.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import docker

if TYPE_CHECKING:
    from bootstrap.reconciler.apiserver.streaming import Options

CLONE_NEWNET = 0x40000000
DIAL_TIMEOUT = 10.0


class DockerStreams:
    """`api` gives the runtime's docker client (made when first needed: Docker may be down at start-up)."""

    def __init__(self, api: Callable[[], docker.APIClient], socket_path: str) -> None:
        self._api = api
        self.socket_path = socket_path

    @property
    def api(self) -> docker.APIClient:
        return self._api()

    @classmethod
    def for_base_url(cls, api: Callable[[], docker.APIClient], base_url: str | None) -> DockerStreams:
        url = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        if not url.startswith("unix://"):
            raise ValueError(f"exec and port-forward need the Docker engine's unix socket, not {url}")
        return cls(api, url[len("unix://") :])

    def exec(self, container_id: str, command: Sequence[str], options: Options) -> _Exec:
        created = self.api.exec_create(
            container_id,
            list(command),
            stdout=options.stdout,
            stderr=options.stderr,
            stdin=options.stdin,
            tty=options.tty,
        )
        exec_id = created["Id"]
        body = json.dumps({"Detach": False, "Tty": options.tty}).encode()
        sock = self._hijack(f"/exec/{exec_id}/start", body)
        return _Exec(self.api, exec_id, sock, not options.tty)

    def attach(self, container_id: str, options: Options) -> _Attach:
        query = urllib.parse.urlencode(
            {"stream": 1, "stdin": int(options.stdin), "stdout": int(options.stdout), "stderr": int(options.stderr)}
        )
        sock = self._hijack(f"/containers/{container_id}/attach?{query}", b"")
        tty = bool(self.api.inspect_container(container_id)["Config"].get("Tty"))
        return _Attach(self.api, container_id, sock, not tty)

    def dial(self, sandbox_id: str, port: int) -> socket.socket:
        pid = int(self.api.inspect_container(sandbox_id)["State"]["Pid"])
        if pid <= 0:
            raise OSError(f"the pod's sandbox {sandbox_id[:12]} is not running")
        return connect_in_netns(pid, port)

    def stats(self, container_id: str) -> dict[str, Any]:
        """One sample of the container's CPU and memory, without waiting for a second one."""
        return dict(self.api.stats(container_id, stream=False, one_shot=True))

    def _hijack(self, path: str, body: bytes) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(30)
            sock.connect(self.socket_path)
            version = self.api.api_version
            request = (
                f"POST /v{version}{path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                f"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                byte = sock.recv(1)  # byte by byte: nothing after the headers may be read here
                if not byte:
                    raise OSError("the Docker engine closed the connection")
                head += byte
                if len(head) > 65536:
                    raise OSError("the Docker engine's response headers are too long")
            status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            if status_line.split(" ")[1:2] not in (["101"], ["200"]):
                sock.settimeout(5)
                with contextlib.suppress(OSError):
                    head += sock.recv(4096)
                message = head.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
                with contextlib.suppress(ValueError, AttributeError):
                    message = json.loads(message)["message"]
                raise OSError(f"{status_line}: {message}")
            sock.settimeout(None)
            return sock
        except BaseException:
            sock.close()
            raise


class _Exec:
    def __init__(self, api: docker.APIClient, exec_id: str, sock: socket.socket, multiplexed: bool) -> None:
        self.api = api
        self.exec_id = exec_id
        self.sock = sock
        self.multiplexed = multiplexed

    def resize(self, width: int, height: int) -> None:
        self.api.exec_resize(self.exec_id, height=height, width=width)

    def _inspect(self) -> dict[str, Any]:
        return dict(self.api.exec_inspect(self.exec_id))

    def exit_code(self) -> int | None:
        # The output can end a moment before the engine records the exit: ask until it has, soon at first (this
        # wait is part of every `kubectl exec`'s round trip), then less often; 5 s at most.
        delay, waited = 0.001, 0.0
        while waited < 5.0:
            info = self._inspect()
            if not info.get("Running"):
                code = info.get("ExitCode")
                return int(code) if code is not None else None
            threading.Event().wait(delay)
            waited += delay
            delay = min(delay * 2, 0.05)
        return None

    def kill(self) -> None:
        info = self._inspect()
        pid = int(info.get("Pid") or 0)
        if info.get("Running") and pid > 0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


class _Attach:
    def __init__(self, api: docker.APIClient, container_id: str, sock: socket.socket, multiplexed: bool) -> None:
        self.api = api
        self.container_id = container_id
        self.sock = sock
        self.multiplexed = multiplexed

    def resize(self, width: int, height: int) -> None:
        self.api.resize(self.container_id, height=height, width=width)

    def exit_code(self) -> int | None:
        return None

    def kill(self) -> None:
        return  # detaching leaves the container running, as with the kubelet


def connect_in_netns(pid: int, port: int) -> socket.socket:
    """A TCP connection to localhost:port in the network namespace of process `pid` (IPv4, then IPv6)."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns into the pod's network namespace: {os.strerror(errno)}")
            finally:
                os.close(fd)
            errors = []
            for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                sock = socket.socket(family, socket.SOCK_STREAM)
                try:
                    sock.settimeout(DIAL_TIMEOUT)
                    sock.connect((host, port))
                    sock.settimeout(None)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as Go (containerd) dials
                    result["sock"] = sock
                    return
                except OSError as exc:
                    sock.close()
                    errors.append(f"{host}: {exc.strerror or exc}")
            result["error"] = OSError(f"cannot connect to port {port} in the pod: {'; '.join(errors)}")
        except OSError as exc:
            result["error"] = exc

    # The thread ends right after: its namespace never leaks to other work.
    thread = threading.Thread(target=run, name="port-forward-dial", daemon=True)
    thread.start()
    thread.join()
    if "sock" in result:
        return result["sock"]  # type: ignore[no-any-return]
    raise result["error"]
