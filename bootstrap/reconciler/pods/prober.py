"""Probe and hook handlers with the kubelet's semantics: exec, httpGet, tcpSocket, grpc (and sleep for preStop).

    httpGet    GET scheme://host:port/path; host defaults to the pod IP; HTTPS skips certificate checks;
               headers User-Agent kube-probe/<major.minor> and Accept */* unless overridden (an empty value
               removes one); success is 200 <= status < 400; the body is read up to 10 KiB; redirects are
               followed (10 at most) on the same host, a redirect elsewhere counts as success
    tcpSocket  a TCP connect from the node succeeds
    exec       the command exits 0 within the timeout (run in the container through the runtime)
    grpc       grpc.health.v1 Check answers SERVING (pods.grpc_health)

Each returns (success, message); the message is the kubelet's wording where it has one.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from functools import cache

from bootstrap.reconciler import model
from bootstrap.reconciler.pods import grpc_health
from bootstrap.reconciler.pods.backoff import format_duration
from bootstrap.reconciler.runtime import Runtime

MAX_BODY = 10 * 1024
MAX_REDIRECTS = 10


@cache
def _insecure_tls() -> ssl.SSLContext:
    """One shared client context that skips verification, as the kubelet's HTTPS probes do.

    Built once: `ssl.create_default_context()` parses the system CA bundle, which at one probe per second was
    most of an idle reconciler's CPU time.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@cache
def user_agent() -> str:
    from bootstrap import versions

    major, minor, _ = versions.parse(versions.default().version)
    return f"kube-probe/{major}.{minor}"


@dataclass(frozen=True)
class Target:
    """Where a probe or hook runs: the container (for exec) and the address (for network probes)."""

    container: model.Container
    container_id: str
    pod_ip: str


def _host(text: str) -> str:
    return f"[{text}]" if ":" in text and not text.startswith("[") else text


def run(handler: model.Handler, target: Target, runtime: Runtime, timeout: float) -> tuple[bool, str]:
    try:
        if isinstance(handler, model.ExecAction):
            return _exec(handler, target, runtime, timeout)
        if isinstance(handler, model.SleepAction):
            time.sleep(min(handler.seconds, timeout))
            return True, ""
        port = target.container.port_number(handler.port) if not isinstance(handler, model.GRPCAction) else handler.port
        if port is None:
            return False, f"no port named {handler.port!r} in container {target.container.name}"
        if isinstance(handler, model.HTTPGetAction):
            return _http(handler, handler.host or target.pod_ip, port, timeout)
        if isinstance(handler, model.TCPSocketAction):
            with socket.create_connection((handler.host or target.pod_ip, port), timeout=timeout):
                return True, ""
        return grpc_health.check(target.pod_ip, port, handler.service, timeout, user_agent())
    except OSError as exc:
        return False, _dial_error(exc)
    except Exception as exc:
        return False, f"probe error: {exc}"


def _dial_error(exc: OSError) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    return f"dial error: {exc.strerror or exc}"


EXEC_OUTPUT_MAX = 10 * 1024  # bytes of an exec probe's output kept, the kubelet's maxReadLength


def _exec(handler: model.ExecAction, target: Target, runtime: Runtime, timeout: float) -> tuple[bool, str]:
    """The kubelet's words: a failed command's output as it is (`Liveness probe failed: ` when it printed
    nothing), and the CRI client's message for a timeout."""
    result = runtime.exec(target.container_id, handler.command, timeout)
    if result.exit_code is None:
        command = json.dumps(" ".join(handler.command))
        return False, f"command timed out: {command} timed out after {format_duration(timeout)}"
    if result.exit_code == 0:
        return True, ""
    return False, result.output[:EXEC_OUTPUT_MAX].decode(errors="replace")


def _http(handler: model.HTTPGetAction, host: str, port: int, timeout: float) -> tuple[bool, str]:
    headers = {"User-Agent": user_agent(), "Accept": "*/*"}
    for name, value in handler.headers:
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        if value:
            headers[name] = value
    scheme, path = handler.scheme.lower(), handler.path if handler.path.startswith("/") else f"/{handler.path}"
    origin_host = host
    for _ in range(MAX_REDIRECTS + 1):
        headers["Host"] = f"{_host(host)}:{port}"
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=_insecure_tls()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read(MAX_BODY)
            status, location = response.status, response.getheader("Location")
        finally:
            conn.close()
        if status in (301, 302, 303, 307, 308) and location:
            url = urllib.parse.urlsplit(urllib.parse.urljoin(f"{scheme}://{_host(host)}:{port}{path}", location))
            if url.hostname and url.hostname != origin_host:
                return True, f"Probe terminated redirects, Response body: {body[:200].decode(errors='replace')}"
            scheme = url.scheme or scheme
            port = url.port or (443 if scheme == "https" else 80)
            path = url.path + (f"?{url.query}" if url.query else "") or "/"
            continue
        if 200 <= status < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {status}"
    return True, "Probe terminated redirects"
