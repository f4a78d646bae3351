"""SPDY/3.1, server side: what the API server speaks to a node for exec, attach and port-forward.

Even in Kubernetes v1.37 the API server talks SPDY/3.1 to the kubelet: kubectl's WebSocket (v5.channel.k8s.io,
or SPDY/3.1 tunnelled in WebSocket messages for port-forward) ends at the API server, which opens a SPDY
connection to the node (StreamTranslator, TunnelingHandler) unless the Node declares `ExtendWebSocketsToKubelet`,
which kbs does not; the kubelet itself hands SPDY to the runtime's streaming server. No maintained Python library
speaks SPDY (it was superseded by HTTP/2 in browsers), so this module implements the part Kubernetes uses:

    frames      SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE, DATA
    headers     name/value blocks compressed with one zlib stream per direction and the SPDY/3 dictionary
    Connection  one thread does all socket I/O (TLS objects must not be read and written from two threads);
                other threads queue frames and read stream data, with backpressure both ways
    Stream      one client-initiated stream: headers, reply, write, half-close (FIN), reset, blocking read

Flow control (WINDOW_UPDATE) is accepted and ignored, as Kubernetes' own SPDY library (moby/spdystream) does;
backpressure comes from TCP: the connection stops reading the socket while a stream's unread data is large,
and writers wait while the outgoing queue is large.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 2, 3, 5, 6
MAX_CHUNK = 32 * 1024  # bytes of one DATA frame this side sends
HIGH_WATER = 4 * 1024 * 1024  # unread bytes of one stream, or unsent bytes of the connection, before backpressure
MAX_HEADER_BLOCK = 256 * 1024
LINGER = 2.0  # seconds to wait for the peer to close after GOAWAY

# The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 section 2.6.10.1): 65 words, each
# with a 4-byte big-endian length, then a run of status lines, dates and content types.
_WORDS = (
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(Exception):
    """The peer broke the framing; the connection is closed."""


class StreamClosedError(Exception):
    """Writing to a stream this side closed, or one the peer reset, or on a closed connection."""


@dataclass(frozen=True)
class Frame:
    """A parsed frame: `kind` 0 for DATA, else the control type; `stream` 0 for session-wide frames."""

    kind: int
    flags: int
    stream: int
    payload: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    status: int = 0  # RST_STREAM and GOAWAY status, PING id, WINDOW_UPDATE delta


def control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def data(stream: int, payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">II", stream & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


class HeaderCodec:
    """One direction's header compression: a zlib stream kept for the whole connection."""

    def __init__(self) -> None:
        self._compress = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zdict=DICTIONARY)
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)

    def encode(self, headers: tuple[tuple[str, str], ...]) -> bytes:
        raw = [struct.pack(">I", len(headers))]
        for name, value in headers:
            n, v = name.lower().encode(), value.encode()
            raw += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
        return self._compress.compress(b"".join(raw)) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, block: bytes) -> tuple[tuple[str, str], ...]:
        try:
            raw = self._decompress.decompress(block, MAX_HEADER_BLOCK)
        except zlib.error as exc:
            raise ProtocolError(f"bad header block: {exc}") from exc
        if self._decompress.unconsumed_tail:
            raise ProtocolError("header block too large")
        offset = 0

        def take() -> bytes:
            nonlocal offset
            if offset + 4 > len(raw):
                raise ProtocolError("truncated header block")
            (size,) = struct.unpack_from(">I", raw, offset)
            value = raw[offset + 4 : offset + 4 + size]
            if len(value) != size:
                raise ProtocolError("truncated header block")
            offset += 4 + size
            return value

        if len(raw) < 4:
            raise ProtocolError("truncated header block")
        (count,) = struct.unpack_from(">I", raw, 0)
        offset = 4
        pairs = []
        for _ in range(count):
            name = take().decode(errors="replace")
            # several values of one name are joined by NUL bytes
            pairs += [(name, v) for v in take().decode(errors="replace").split("\0")]
        return tuple(pairs)


class FrameReader:
    """Incremental parser: feed bytes, get whole frames."""

    def __init__(self, codec: HeaderCodec) -> None:
        self._codec = codec
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buffer += chunk
        frames = []
        while len(self._buffer) >= 8:
            word0, word1 = struct.unpack_from(">II", self._buffer, 0)
            length = word1 & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            frames.append(self._parse(word0, word1 >> 24, payload))
        return frames

    def _parse(self, word0: int, flags: int, payload: bytes) -> Frame:
        if not word0 & 0x80000000:
            return Frame(0, flags, word0 & 0x7FFFFFFF, payload)
        version, kind = (word0 >> 16) & 0x7FFF, word0 & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"SPDY version {version} is not supported (only 3)")

        def word(at: int) -> int:
            if len(payload) < at + 4:
                raise ProtocolError(f"control frame {kind} too short")
            return int(struct.unpack_from(">I", payload, at)[0])

        if kind == SYN_STREAM:
            word(6)
            return Frame(kind, flags, word(0) & 0x7FFFFFFF, headers=self._codec.decode(payload[10:]))
        if kind in (SYN_REPLY, HEADERS):
            return Frame(kind, flags, word(0) & 0x7FFFFFFF, headers=self._codec.decode(payload[4:]))
        if kind in (RST_STREAM, GOAWAY, WINDOW_UPDATE):
            return Frame(kind, flags, word(0) & 0x7FFFFFFF, status=word(4) & 0x7FFFFFFF)
        if kind == PING:
            return Frame(kind, flags, 0, status=word(0))
        return Frame(kind, flags, 0, payload)  # SETTINGS and unknown types: ignored by the connection


class Stream:
    """A stream the client opened. Reads block; writes queue on the connection (and wait when it is full)."""

    def __init__(self, conn: Connection, stream_id: int, headers: tuple[tuple[str, str], ...], fin: bool) -> None:
        self.conn = conn
        self.id = stream_id
        self.headers = dict(headers)
        self._inbound: collections.deque[bytes] = collections.deque()
        self.backlog = 0
        self.remote_done = fin  # FIN or RST received, or the connection closed
        self.local_done = False
        self.reset_by_peer = False  # RST_STREAM received, or the connection is gone

    def get(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def reply(self) -> None:
        self.conn.send_control(SYN_REPLY, 0, lambda codec: struct.pack(">I", self.id) + codec.encode(()))

    def write(self, payload: bytes) -> None:
        for at in range(0, len(payload), MAX_CHUNK):
            if self.local_done or self.reset_by_peer:
                raise StreamClosedError(f"stream {self.id} is closed")
            self.conn.send(data(self.id, payload[at : at + MAX_CHUNK]))

    def close(self) -> None:
        """Half-close: this side sends no more (DATA with FIN)."""
        with self.conn.lock:
            if self.local_done or self.reset_by_peer:
                return
            self.local_done = True
        with contextlib.suppress(StreamClosedError):
            self.conn.send(data(self.id, b"", FLAG_FIN), wait=False)

    def reset(self, status: int = CANCEL) -> None:
        with self.conn.lock:
            if self.reset_by_peer:
                return
            self.local_done = self.remote_done = True
            self.conn.lock.notify_all()
        with contextlib.suppress(StreamClosedError):
            self.conn.send_control(RST_STREAM, 0, lambda _: struct.pack(">II", self.id, status), wait=False)

    def read(self, timeout: float | None = None) -> bytes | None:
        """The next piece of data, b"" on timeout, None once the peer has finished (FIN, RST, connection gone)."""
        with self.conn.lock:
            if not self.conn.lock.wait_for(lambda: self._inbound or self.remote_done, timeout):
                return b""
            if not self._inbound:
                return None
            piece = self._inbound.popleft()
            self.backlog -= len(piece)
            self.conn.inbound_backlog -= len(piece)
        self.conn.wake()
        return piece

    def _deliver(self, payload: bytes) -> None:  # under conn.lock, on the I/O thread
        if payload and not self.remote_done:
            self._inbound.append(payload)
            self.backlog += len(payload)
            self.conn.inbound_backlog += len(payload)


class Connection:
    """A server-side SPDY/3.1 session on a connected (TLS) socket. `run()` is the I/O loop; call it on one thread.

    `on_stream(stream)` is called on the I/O thread for each new stream, right after its SYN_REPLY; it must not
    block (raising resets the stream).
    """

    def __init__(
        self,
        sock: socket.socket,
        on_stream: Callable[[Stream], None],
        *,
        max_streams: int = 64,
        idle_timeout: float | None = None,
    ) -> None:
        self.sock = sock
        self.on_stream = on_stream
        self.max_streams = max_streams
        self.idle_timeout = idle_timeout
        self.lock = threading.Condition()
        self.streams: dict[int, Stream] = {}
        self.inbound_backlog = 0
        self.closed = False
        self._out: collections.deque[bytes] = collections.deque()
        self._out_bytes = 0
        self._closing = False
        self._encoder = HeaderCodec()
        self._reader = FrameReader(HeaderCodec())
        self._last_stream = 0
        self._wake_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # --- called from any thread ---------------------------------------------------------------------------------
    def wake(self) -> None:
        with self._wake_lock:
            if self._wake_w >= 0:
                with contextlib.suppress(BlockingIOError, OSError):
                    os.write(self._wake_w, b"x")

    def send(self, frame: bytes, *, wait: bool = True) -> None:
        with self.lock:
            if wait:
                self.lock.wait_for(lambda: self._out_bytes < HIGH_WATER or self.closed)
            if self.closed:
                raise StreamClosedError("the connection is closed")
            self._out.append(frame)
            self._out_bytes += len(frame)
        self.wake()

    def send_control(self, kind: int, flags: int, build: Callable[[HeaderCodec], bytes], *, wait: bool = True) -> None:
        # built under the lock: compressed header blocks must go out in the order they were compressed
        with self.lock:
            if self.closed:
                raise StreamClosedError("the connection is closed")
            frame = control(kind, flags, build(self._encoder))
            self._out.append(frame)
            self._out_bytes += len(frame)
        self.wake()

    def close(self) -> None:
        """Send what is queued, then GOAWAY, then close the socket; `run()` returns."""
        with self.lock:
            if self._closing or self.closed:
                return
            self._closing = True
            goaway = control(GOAWAY, 0, struct.pack(">II", self._last_stream, 0))
            self._out.append(goaway)
            self._out_bytes += len(goaway)
        self.wake()

    def wait_closed(self, timeout: float | None = None) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: self.closed, timeout)

    # --- the I/O thread -----------------------------------------------------------------------------------------
    def run(self) -> None:
        self.sock.setblocking(False)
        pending = b""
        linger: float | None = None
        try:
            while True:
                with self.lock:
                    if not pending and self._out:
                        pending = b"".join(self._out)
                        self._out.clear()
                    if not pending and self._closing and linger is None:
                        # all sent: give the peer a moment to read it and close first (no RST over unread data)
                        linger = time.monotonic() + LINGER
                    reading = self.inbound_backlog < HIGH_WATER
                if linger is not None and time.monotonic() > linger:
                    return
                want_read = [self._wake_r] + ([self.sock] if reading else [])
                if reading and isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                    ready_r: Sequence[object] = [self.sock]
                else:
                    timeout = LINGER if linger is not None else self.idle_timeout
                    ready_r, _, _ = select.select(want_read, [self.sock] if pending else [], [], timeout)
                    if not ready_r and not pending and timeout is not None:
                        return  # idle too long, or lingered long enough
                if self._wake_r in ready_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                if pending:
                    pending = self._write_some(pending)
                if self.sock in ready_r and not self._read_some():
                    return
        except (OSError, ValueError, ProtocolError):  # ValueError: the socket was closed under us
            return
        finally:
            self._shutdown()

    def _write_some(self, pending: bytes) -> bytes:
        try:
            sent = self.sock.send(pending)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            return pending
        with self.lock:
            self._out_bytes -= sent
            self.lock.notify_all()
        return pending[sent:]

    def _read_some(self) -> bool:
        try:
            chunk = self.sock.recv(256 * 1024)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return True
        if not chunk:
            return False
        return all(self._handle(frame) for frame in self._reader.feed(chunk))

    def _handle(self, frame: Frame) -> bool:
        if frame.kind == SYN_STREAM:
            self._open(frame)
        elif frame.kind == 0:
            with self.lock:
                stream = self.streams.get(frame.stream)
                if stream is not None:
                    stream._deliver(frame.payload)
                    if frame.flags & FLAG_FIN:
                        stream.remote_done = True
                    self.lock.notify_all()
        elif frame.kind == RST_STREAM:
            with self.lock:
                stream = self.streams.get(frame.stream)
                if stream is not None:
                    stream.remote_done = stream.reset_by_peer = True
                    self.lock.notify_all()
        elif frame.kind == PING and frame.status % 2 == 1:  # the client's pings are odd; echo them
            self.send_control(PING, 0, lambda _: struct.pack(">I", frame.status), wait=False)
        elif frame.kind == GOAWAY:
            return False
        return True  # SYN_REPLY, HEADERS, SETTINGS, WINDOW_UPDATE: nothing to do for a server of this kind

    def _open(self, frame: Frame) -> None:
        stream = Stream(self, frame.stream, frame.headers, bool(frame.flags & FLAG_FIN))
        with self.lock:
            refused = frame.stream in self.streams or len(self.streams) >= self.max_streams or self._closing
            if not refused:
                self.streams[frame.stream] = stream
                self._last_stream = max(self._last_stream, frame.stream)
        if refused:
            stream.reset(REFUSED_STREAM)
            return
        # Reply first: the peer drops data that arrives on a stream before its SYN_REPLY, and on_stream may hand
        # the stream to a thread that writes at once.
        stream.reply()
        try:
            self.on_stream(stream)
        except Exception:
            stream.reset(REFUSED_STREAM)

    def _shutdown(self) -> None:
        with self.lock:
            self.closed = True
            for stream in self.streams.values():
                stream.remote_done = stream.reset_by_peer = True  # not a FIN: the peer is gone
            self.lock.notify_all()
        with contextlib.suppress(OSError):
            self.sock.setblocking(True)
        with self._wake_lock:
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_r = self._wake_w = -1
        with contextlib.suppress(OSError):
            self.sock.close()

    def forget(self, *streams: Stream) -> None:
        """Drop finished streams so that max_streams counts live ones only."""
        with self.lock:
            for stream in streams:
                self.streams.pop(stream.id, None)
