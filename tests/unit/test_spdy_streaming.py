"""SPDY/3.1 framing and the exec/port-forward sessions over it, with a client written here and fake processes."""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from bootstrap.reconciler.apiserver import spdy, streaming


class Client:
    """The client half of a SPDY connection: opens streams, reads frames (what the API server does)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.codec = spdy.HeaderCodec()
        self.reader = spdy.FrameReader(spdy.HeaderCodec())
        self.frames: list[spdy.Frame] = []
        self.next_id = 1

    def open(self, **headers: str) -> int:
        stream = self.next_id
        self.next_id += 2
        block = self.codec.encode(tuple(headers.items()))
        self.sock.sendall(spdy.control(spdy.SYN_STREAM, 0, struct.pack(">IIBB", stream, 0, 0, 0) + block))
        return stream

    def send(self, stream: int, payload: bytes, fin: bool = False) -> None:
        self.sock.sendall(spdy.data(stream, payload, spdy.FLAG_FIN if fin else 0))

    def pump(self) -> bool:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            return False
        self.frames += self.reader.feed(chunk)
        return True

    def until(self, done: Callable[[Client], bool]) -> None:
        while not done(self) and self.pump():
            pass

    def data(self, stream: int) -> bytes:
        return b"".join(f.payload for f in self.frames if f.kind == 0 and f.stream == stream)

    def finished(self, stream: int) -> bool:
        return any(
            (f.kind == 0 and f.stream == stream and f.flags & spdy.FLAG_FIN)
            or (f.kind == spdy.RST_STREAM and f.stream == stream)
            for f in self.frames
        )


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def serve(sock: socket.socket, on_stream: Callable[[spdy.Stream], None]) -> tuple[spdy.Connection, threading.Thread]:
    conn = spdy.Connection(sock, on_stream)
    thread = threading.Thread(target=conn.run, daemon=True)
    thread.start()
    return conn, thread


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    digest = "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == digest


def test_headers_round_trip_across_blocks_with_one_zlib_stream_per_direction() -> None:
    out, inn = spdy.HeaderCodec(), spdy.HeaderCodec()
    first = out.encode((("streamType", "stdout"), ("port", "80")))
    second = out.encode((("streamType", "stdout"),))
    assert inn.decode(first) == (("streamtype", "stdout"), ("port", "80"))
    assert inn.decode(second) == (("streamtype", "stdout"),)
    assert len(second) < len(first)  # the second block refers back to the first


def test_frames_split_anywhere_are_reassembled() -> None:
    raw = spdy.data(5, b"hello", spdy.FLAG_FIN) + spdy.control(spdy.PING, 0, struct.pack(">I", 7))
    reader = spdy.FrameReader(spdy.HeaderCodec())
    frames = [f for byte in raw for f in reader.feed(bytes([byte]))]
    assert frames == [spdy.Frame(0, spdy.FLAG_FIN, 5, b"hello"), spdy.Frame(spdy.PING, 0, 0, status=7)]


def test_a_version_2_frame_is_a_protocol_error() -> None:
    frame = struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\0\0\0\1"
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameReader(spdy.HeaderCodec()).feed(frame)


def test_streams_are_replied_and_data_flows_both_ways_then_goaway(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client_sock = pair
    seen: list[spdy.Stream] = []

    def echo(stream: spdy.Stream) -> None:
        seen.append(stream)

        def run() -> None:
            while (piece := stream.read()) is not None:
                stream.write(piece.upper())
            stream.close()

        threading.Thread(target=run, daemon=True).start()

    conn, thread = serve(server, echo)
    client = Client(client_sock)
    sid = client.open(streamType="data")
    client.send(sid, b"abc")
    client.send(sid, b"def", fin=True)
    client_sock.sendall(spdy.control(spdy.PING, 0, struct.pack(">I", 1)))
    client.until(lambda c: c.finished(sid) and any(f.kind == spdy.PING for f in c.frames))
    assert client.frames[0].kind == spdy.SYN_REPLY and client.frames[0].stream == sid
    assert client.data(sid) == b"ABCDEF"
    assert seen[0].get("streamType") == "data"
    conn.close()
    client.until(lambda c: any(f.kind == spdy.GOAWAY for f in c.frames))
    client_sock.close()
    thread.join(5)
    assert not thread.is_alive()


class FakeProcess:
    """An exec whose stdio is a socketpair; the 'command' echoes stdin to stdout (Docker framing) and exits 3."""

    multiplexed = True

    def __init__(self, code: int = 3) -> None:
        self.sock, self.inner = socket.socketpair()
        self.code = code
        self.sizes: list[tuple[int, int]] = []
        self.killed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.inner.sendall(b"\x02\0\0\0" + struct.pack(">I", 4) + b"err\n")
        while chunk := self.inner.recv(65536):
            self.inner.sendall(b"\x01\0\0\0" + struct.pack(">I", len(chunk)) + chunk)
        self.inner.close()

    def resize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))

    def exit_code(self) -> int | None:
        self.thread.join(5)
        return self.code

    def kill(self) -> None:
        self.killed = True
        self.inner.close()


def _exec(
    pair: tuple[socket.socket, socket.socket], process: FakeProcess, protocol: str, tty: bool = False
) -> tuple[Client, dict[str, int], spdy.Connection, threading.Thread]:
    server, client_sock = pair
    options = streaming.Options(stdin=True, stdout=True, stderr=not tty, tty=tty)
    session = streaming.RemoteCommand(options, protocol, lambda: process, ("cat",))
    conn, thread = serve(server, session.on_stream)
    threading.Thread(target=session.run, args=(conn,), daemon=True).start()
    client = Client(client_sock)
    kinds = ["error", "stdin", "stdout"] + (["resize"] if tty else ["stderr"])
    return client, {k: client.open(streamType=k) for k in kinds}, conn, thread


def test_exec_v4_copies_stdio_and_reports_the_exit_code(pair: tuple[socket.socket, socket.socket]) -> None:
    process = FakeProcess(code=3)
    client, ids, _, thread = _exec(pair, process, "v4.channel.k8s.io")
    client.send(ids["stdin"], b"x" * 100_000, fin=True)
    client.until(lambda c: c.finished(ids["error"]))
    assert client.data(ids["stdout"]) == b"x" * 100_000
    assert client.data(ids["stderr"]) == b"err\n"
    status = json.loads(client.data(ids["error"]))
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    client.until(lambda c: any(f.kind == spdy.GOAWAY for f in c.frames))
    pair[1].close()
    thread.join(5)


def test_exec_v4_success_and_resize(pair: tuple[socket.socket, socket.socket]) -> None:
    process = FakeProcess(code=0)
    process.multiplexed = False
    client, ids, _, _ = _exec(pair, process, "v4.channel.k8s.io", tty=True)
    client.send(ids["resize"], b'{"Width":111,"Height":33}{"Width":80,')
    client.send(ids["resize"], b'"Height":24}')
    client.send(ids["stdin"], b"", fin=True)
    client.until(lambda c: c.finished(ids["error"]))
    assert json.loads(client.data(ids["error"])) == {"metadata": {}, "status": "Success"}
    assert process.sizes[:2] == [(111, 33), (80, 24)]


def test_exec_v1_to_v3_write_only_failures_as_text(pair: tuple[socket.socket, socket.socket]) -> None:
    client, ids, _, _ = _exec(pair, FakeProcess(code=2), "v2.channel.k8s.io")
    client.send(ids["stdin"], b"", fin=True)
    client.until(lambda c: c.finished(ids["error"]))
    assert b"exit code 2" in client.data(ids["error"])


def test_a_client_that_goes_away_kills_the_process(pair: tuple[socket.socket, socket.socket]) -> None:
    process = FakeProcess()
    server, client_sock = pair
    options = streaming.Options(stdin=True, stdout=True, stderr=True, tty=False)
    session = streaming.RemoteCommand(options, "v4.channel.k8s.io", lambda: process, ("cat",))
    conn = spdy.Connection(server, session.on_stream)
    worker = threading.Thread(target=session.run, args=(conn,), daemon=True)
    worker.start()
    client = Client(client_sock)
    for kind in ("error", "stdin", "stdout", "stderr"):
        client.open(streamType=kind)
    io = threading.Thread(target=conn.run, daemon=True)
    io.start()
    client.until(lambda c: len(c.frames) >= 5)  # 4 replies and stderr's data: the process runs
    client_sock.close()
    io.join(5)
    session.abort()
    worker.join(5)
    assert process.killed and not io.is_alive() and not worker.is_alive()


def test_negotiation_takes_the_clients_first_supported_protocol() -> None:
    offered = ["v5.channel.k8s.io, v4.channel.k8s.io", "v3.channel.k8s.io"]
    assert streaming.negotiate(offered, streaming.EXEC_PROTOCOLS) == "v4.channel.k8s.io"
    with pytest.raises(streaming.StreamRequestError) as refused:
        streaming.negotiate(["v9"], streaming.EXEC_PROTOCOLS)
    assert refused.value.code == 403
    with pytest.raises(streaming.StreamRequestError):
        streaming.negotiate([], streaming.EXEC_PROTOCOLS)


def test_options_need_one_stream_and_a_tty_has_no_stderr() -> None:
    assert streaming.Options.from_query({"output": ["1"], "error": ["1"], "tty": ["1"]}).stderr is False
    with pytest.raises(streaming.StreamRequestError):
        streaming.Options.from_query({})


def test_port_forward_pairs_streams_by_request_id_and_copies_both_ways(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    dialed: list[int] = []

    def dial(port: int) -> socket.socket:
        dialed.append(port)
        return socket.create_connection(listener.getsockname())

    def upstream() -> None:
        conn, _ = listener.accept()
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        conn.sendall(hashlib.sha256(data).hexdigest().encode())
        conn.close()

    threading.Thread(target=upstream, daemon=True).start()
    forward = streaming.PortForward(dial)
    server, client_sock = pair
    serve(server, forward.on_stream)
    client = Client(client_sock)
    error = client.open(streamType="error", port="8080", requestID="0")
    data = client.open(streamType="data", port="8080", requestID="0")
    payload = bytes(range(256)) * 4096
    client.send(data, payload, fin=True)
    client.until(lambda c: c.finished(data) and c.finished(error))
    assert client.data(data) == hashlib.sha256(payload).hexdigest().encode()
    assert dialed == [8080] and client.data(error) == b""
    listener.close()


def test_port_forward_reports_a_refused_connection_on_the_error_stream(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    def dial(port: int) -> socket.socket:
        raise OSError(f"cannot connect to port {port} in the pod: connection refused")

    server, client_sock = pair
    serve(server, streaming.PortForward(dial).on_stream)
    client = Client(client_sock)
    error = client.open(streamType="error", port="81", requestID="1")
    client.open(streamType="data", port="81", requestID="1")
    client.until(lambda c: c.finished(error))
    assert b"connection refused" in client.data(error)


def test_a_bad_port_resets_the_stream(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client_sock = pair
    serve(server, streaming.PortForward(lambda port: socket.socket()).on_stream)
    client = Client(client_sock)
    sid = client.open(streamType="data", port="0")
    client.until(lambda c: c.finished(sid))
    assert any(f.kind == spdy.RST_STREAM and f.stream == sid for f in client.frames)
