"""`/exec`, `/attach` and `/portForward` over SPDY/3.1, as the kubelet's streaming server serves them.

The API server opens one SPDY connection per request (see spdy.py for why SPDY) and then the client opens streams:

    exec, attach   streams by `streamType` header: error, stdin, stdout, stderr, resize (protocols
                   v4/v3/v2/channel.k8s.io, the first the client offers). When the command ends, stdout and
                   stderr are closed and the error stream carries the result: in v4 a JSON Status, `Success` or
                   `Failure` with reason NonZeroExitCode and the exit code as cause (kubectl exits with it).
    portForward    pairs of streams (`data` and `error`, same `requestID` header) naming a `port`; each pair is
                   one TCP connection opened inside the pod's network namespace (portforward.k8s.io).

The container side is a `Backend` (Docker: exec create/start/resize/inspect on the engine's socket, attach,
and setns into the sandbox's network namespace); a session never blocks the connection's I/O thread: one
thread copies the container's output out, one copies the client's input in. When the client goes away the
process is killed (as containerd does when an exec's context ends) and every thread ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bootstrap.reconciler.apiserver import spdy
from bootstrap.reconciler.apiserver.logs import LogRequestError as StreamRequestError

__all__ = ["Backend", "Options", "PortForward", "Process", "RemoteCommand", "StreamRequestError", "negotiate"]
EXEC_PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
PORTFORWARD_PROTOCOLS = ("portforward.k8s.io",)
STREAM_CREATION_TIMEOUT = 30.0  # the kubelet's default


@dataclass(frozen=True)
class Options:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, query: Mapping[str, Sequence[str]]) -> Options:
        def flag(name: str) -> bool:
            return (query.get(name) or [""])[-1] == "1"

        tty = flag("tty")
        options = cls(flag("input"), flag("output"), flag("error") and not tty, tty)  # a TTY has no stderr
        if not (options.stdin or options.stdout or options.stderr):
            raise StreamRequestError(400, "you must specify at least 1 of stdin, stdout, stderr")
        return options


def negotiate(offered: Sequence[str], supported: Sequence[str]) -> str:
    """The first protocol the client offers that this node speaks (X-Stream-Protocol-Version), as the kubelet."""
    wanted = [p.strip() for value in offered for p in value.split(",") if p.strip()]
    if not wanted:
        raise StreamRequestError(400, "unable to upgrade: header X-Stream-Protocol-Version does not exist")
    for protocol in wanted:
        if protocol in supported:
            return protocol
    raise StreamRequestError(
        403, f"unable to upgrade: unable to negotiate protocol: client supports {wanted}, server accepts {supported}"
    )


class Process(Protocol):
    """A running exec (or an attach): its stdio socket, and what else the session needs."""

    sock: socket.socket
    multiplexed: bool  # Docker's 8-byte frame headers on output (no TTY)

    def resize(self, width: int, height: int) -> None: ...

    def exit_code(self) -> int | None:
        """The exit code once the output has ended; None for an attach (no exit code of its own)."""

    def kill(self) -> None: ...


class Backend(Protocol):
    def exec(self, container_id: str, command: Sequence[str], options: Options) -> Process: ...

    def attach(self, container_id: str, options: Options) -> Process: ...

    def dial(self, sandbox_id: str, port: int) -> socket.socket: ...

    def stats(self, container_id: str) -> dict[str, Any]:
        """The engine's stats of one container (Docker's JSON: cpu_stats, memory_stats, read)."""


def status_success() -> dict[str, object]:
    return {"metadata": {}, "status": "Success"}


def status_exit(code: int, command: Sequence[str]) -> dict[str, object]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {list(command)}, "
        f"exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def status_internal(message: str) -> dict[str, object]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "code": 500,
    }


class RemoteCommand:
    """One exec or attach on one SPDY connection. `on_stream` is the connection's callback; `run` the worker."""

    def __init__(
        self, options: Options, protocol: str, start: Callable[[], Process], command: Sequence[str] = ()
    ) -> None:
        self.options = options
        self.protocol = protocol
        self.start = start
        self.command = tuple(command)
        self.streams: dict[str, spdy.Stream] = {}
        self.ready = threading.Event()
        self.process: Process | None = None
        self.finished = threading.Event()
        resizing = options.tty and protocol in ("v4.channel.k8s.io", "v3.channel.k8s.io")
        self.expected = 1 + options.stdin + options.stdout + options.stderr + resizing

    def on_stream(self, stream: spdy.Stream) -> None:
        kind = stream.get("streamType")
        if kind not in ("error", "stdin", "stdout", "stderr", "resize") or kind in self.streams:
            raise ValueError(f"unexpected stream type {kind!r}")
        self.streams[kind] = stream
        if len(self.streams) >= self.expected:
            self.ready.set()

    def run(self, conn: spdy.Connection) -> None:
        try:
            if not self.ready.wait(STREAM_CREATION_TIMEOUT) or conn.closed:
                return
            self._run()
        finally:
            self.finished.set()
            conn.close()

    def _run(self) -> None:
        try:
            process = self.process = self.start()
        except Exception as exc:  # the engine refused: the client sees why
            self._status(status_internal(f"error executing command in container: {exc}"))
            return
        threads = []
        if "stdin" in self.streams:
            threads.append(_thread("exec-stdin", self._stdin, process))
        if "resize" in self.streams:
            threads.append(_thread("exec-resize", self._resize, process))
        try:
            self._output(process)
        except (OSError, spdy.StreamClosedError):
            self.abort()
            return
        for kind in ("stdout", "stderr"):
            if kind in self.streams:
                self.streams[kind].close()
        code = process.exit_code()
        if code is None or code == 0:
            self._status(status_success())
        else:
            self._status(status_exit(code, self.command))
        if "stdin" in self.streams:
            self.streams["stdin"].reset()  # the stdin thread stops reading
        for thread in threads:
            thread.join(5)
        with contextlib.suppress(OSError):
            process.sock.close()

    def _status(self, status: dict[str, object]) -> None:
        stream = self.streams.get("error")
        if stream is None:
            return
        with contextlib.suppress(spdy.StreamClosedError):
            if self.protocol == "v4.channel.k8s.io":
                stream.write(json.dumps(status).encode())
            elif status["status"] != "Success":
                stream.write(str(status.get("message", "")).encode())
            stream.close()

    def _output(self, process: Process) -> None:
        out, err = self.streams.get("stdout"), self.streams.get("stderr")
        buffer = b""
        while True:
            chunk = process.sock.recv(64 * 1024)
            if not chunk:
                return
            if not process.multiplexed:
                if out is not None:
                    out.write(chunk)
                continue
            buffer += chunk
            while len(buffer) >= 8:
                kind, size = buffer[0], struct.unpack_from(">I", buffer, 4)[0]
                if len(buffer) < 8 + size:
                    break
                payload, buffer = buffer[8 : 8 + size], buffer[8 + size :]
                target = err if kind == 2 else out
                if target is not None and payload:
                    target.write(payload)

    def _stdin(self, process: Process) -> None:
        stream = self.streams["stdin"]
        while (piece := stream.read()) is not None:
            try:
                process.sock.sendall(piece)
            except OSError:
                return
        if not stream.reset_by_peer:
            with contextlib.suppress(OSError):
                process.sock.shutdown(socket.SHUT_WR)  # EOF on the command's stdin

    def _resize(self, process: Process) -> None:
        stream, buffer, decoder = self.streams["resize"], "", json.JSONDecoder()
        while (piece := stream.read()) is not None:
            buffer += piece.decode(errors="replace")
            while buffer.strip():
                try:
                    size, end = decoder.raw_decode(buffer.lstrip())
                except ValueError:
                    break
                buffer = buffer.lstrip()[end:]
                with contextlib.suppress(Exception):
                    process.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))

    def abort(self) -> None:
        """The client went away: stop the process and the threads copying its stdio."""
        process = self.process
        if process is None or self.finished.is_set():
            return
        with contextlib.suppress(Exception):
            process.kill()
        with contextlib.suppress(OSError):
            process.sock.shutdown(socket.SHUT_RDWR)


class PortForward:
    """Port-forwarding on one SPDY connection: each (data, error) pair of streams is one TCP connection."""

    def __init__(self, dial: Callable[[int], socket.socket]) -> None:
        self.dial = dial
        self.pairs: dict[str, dict[str, spdy.Stream]] = {}
        self.sockets: set[socket.socket] = set()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def on_stream(self, stream: spdy.Stream) -> None:
        port_text, kind = stream.get("port"), stream.get("streamType")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"invalid port {port_text!r}")
        if kind not in ("data", "error"):
            raise ValueError(f"invalid stream type {kind!r}")
        request = stream.get("requestID") or str(stream.id - (2 if kind == "data" else 0))
        pair = self.pairs.setdefault(request, {})
        if kind in pair:
            raise ValueError(f"{kind} stream already assigned for request {request}")
        pair[kind] = stream
        if len(pair) == 2:
            del self.pairs[request]
            thread = _thread("port-forward", self._forward, pair["data"], pair["error"], int(port_text))
            with self.lock:
                self.threads = [t for t in self.threads if t.is_alive()] + [thread]

    def _forward(self, data: spdy.Stream, error: spdy.Stream, port: int) -> None:
        try:
            sock = self.dial(port)
        except Exception as exc:
            with contextlib.suppress(spdy.StreamClosedError):
                error.write(f"error forwarding port {port} to pod: {exc}".encode())
            data.reset()
            error.reset()
            data.conn.forget(data, error)
            return
        with self.lock:
            self.sockets.add(sock)
        upload = _thread("port-forward-in", self._upload, data, sock)
        try:
            while chunk := sock.recv(64 * 1024):
                data.write(chunk)
            data.close()
        except (OSError, spdy.StreamClosedError):
            data.reset()
        upload.join()
        error.close()
        with self.lock:
            self.sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.close()
        data.conn.forget(data, error)

    @staticmethod
    def _upload(data: spdy.Stream, sock: socket.socket) -> None:
        while (piece := data.read()) is not None:
            try:
                sock.sendall(piece)
            except OSError:
                return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR if not data.reset_by_peer else socket.SHUT_RDWR)

    def abort(self) -> None:
        """The client went away: close every pod-side connection; the threads end."""
        with self.lock:
            sockets, threads = list(self.sockets), list(self.threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(5)


def _thread(name: str, target: Callable[..., None], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
