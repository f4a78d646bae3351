"""A minimal gRPC health check (grpc.health.v1.Health/Check) over cleartext HTTP/2, without grpcio.

The kubelet's grpc probe is one unary call on an insecure channel; grpcio would add ~20 MB to a daemon whose
footprint budget is 60 MB, so this speaks just enough HTTP/2 (RFC 9113) for that call: the client preface,
SETTINGS (and their ACK), one HEADERS frame with literal HPACK fields (no Huffman, no dynamic table), one DATA
frame, then it reads frames until the stream ends, answering PING. The response headers are not decoded: a
HealthCheckResponse message in a DATA frame with status SERVING (1) is success, anything else is failure.
"""

from __future__ import annotations

import socket
import struct
import time

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _RST, _SETTINGS, _PING, _GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
_END_STREAM, _END_HEADERS, _ACK = 0x1, 0x4, 0x1
_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _literal(name: str, value: str) -> bytes:
    """Literal header field without indexing, new name (RFC 7541 6.2.2), no Huffman coding."""
    raw_name, raw_value = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(raw_name), 7) + raw_name + _hpack_int(len(raw_value), 7) + raw_value


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise ValueError("truncated varint")


def _health_status(message: bytes) -> int:
    pos, status = 0, 0
    while pos < len(message):
        key, pos = _varint(message, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(message, pos)
            if field == 1:
                status = value
        elif wire == 2:
            length, pos = _varint(message, pos)
            pos += length
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return status


def check(host: str, port: int, service: str, timeout: float, user_agent: str = "kube-probe") -> tuple[bool, str]:
    """(healthy, message) for the gRPC health service at host:port."""
    deadline = time.monotonic() + timeout
    request = (b"\x0a" + _hpack_int(len(service.encode()), 7) + service.encode()) if service else b""
    body = b"\x00" + struct.pack(">I", len(request)) + request
    headers = b"".join(
        _literal(k, v)
        for k, v in (
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/grpc.health.v1.Health/Check"),
            (":authority", f"{host}:{port}"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("user-agent", user_agent),
        )
    )
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(
                _PREFACE
                + _frame(_SETTINGS, 0, 0, b"")
                + _frame(_HEADERS, _END_HEADERS, 1, headers)
                + _frame(_DATA, _END_STREAM, 1, body)
            )
            data = _read_response(sock, deadline)
    except (OSError, ValueError) as exc:
        return False, f'timeout: failed to connect service "{host}:{port}" within {timeout:g}s: {exc}'
    if len(data) < 5:
        return False, "rpc error: the server sent no health status (is the service registered?)"
    status = _health_status(data[5 : 5 + struct.unpack(">I", data[1:5])[0]])
    name = _STATUS.get(status, str(status))
    if status == 1:
        return True, ""
    return False, f'service unhealthy (responded with "{name}")'


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    buffer = b""
    data = b""

    def need(count: int) -> bytes:
        nonlocal buffer
        while len(buffer) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("deadline exceeded")
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            buffer += chunk
        out, buffer = buffer[:count], buffer[count:]
        return out

    while True:
        header = need(9)
        length = int.from_bytes(header[:3], "big")
        kind, flags = header[3], header[4]
        stream = int.from_bytes(header[5:9], "big") & 0x7FFFFFFF
        payload = need(length)
        if kind == _SETTINGS and not flags & _ACK:
            sock.sendall(_frame(_SETTINGS, _ACK, 0, b""))
        elif kind == _PING and not flags & _ACK:
            sock.sendall(_frame(_PING, _ACK, 0, payload))
        elif kind == _GOAWAY or (kind == _RST and stream == 1):
            return data
        elif stream == 1 and kind == _DATA:
            padded = flags & 0x8
            data += payload[1 : len(payload) - payload[0]] if padded else payload
            if flags & _END_STREAM:
                return data
        elif stream == 1 and kind == _HEADERS and flags & _END_STREAM:
            return data
