"""The node API on port 10250: the part of the kubelet's server that users reach through the API server.

TLS with a serving certificate signed by the cluster CA. Clients authenticate with a client certificate signed
by the CA the API server trusts (the API server's is apiserver-kubelet-client) or a bearer token the API server
vouches for (TokenReview, cached 2 minutes); anonymous is 401. Every request is authorized as the kubelet does,
with a SubjectAccessReview for `nodes/<subresource>` of this node (the kubelet's mapping: `subresources_for`),
answers cached 5 minutes when allowed and 30 s when denied. Then:

    GET /containerLogs/<ns>/<pod>/<container>   the container's log (follow, previous, tailLines, ...)
    POST|GET /exec/<ns>/<pod>[/<uid>]/<container>?command=...&input=1&output=1&error=1&tty=1
    POST|GET /attach/<ns>/<pod>[/<uid>]/<container>?...  upgraded to SPDY/3.1 (streaming.py, spdy.py)
    POST|GET /portForward/<ns>/<pod>[/<uid>]
    GET /pods                                   the static pods as a PodList
    GET /healthz                                ok
    GET /stats/summary, /metrics/resource       the node's and pods' CPU and memory (stats.py), for metrics-server
    GET /metrics, /metrics/probes               the kubelet's pod/container gauges and probe counters (metrics.py)
    anything else                               404 (/metrics/cadvisor, /run, /checkpoint, ...: not served)

One thread per connection (ThreadingHTTPServer); the TLS handshake happens on that thread, not the acceptor's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bootstrap.errors import APIServerError, KbsError
from bootstrap.reconciler import metrics
from bootstrap.reconciler.apiserver import logs, spdy, stats, streaming
from bootstrap.reconciler.apiserver.client import NodeAPI, unreachable
from bootstrap.reconciler.httpserve import BackgroundHTTPServer
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.runtime import Runtime
from bootstrap.reconciler.status import PodStatus

_log = logging.getLogger(LOGGER)
ALLOWED_TTL = 300.0
DENIED_TTL = 30.0
HANDSHAKE_TIMEOUT = 10.0
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_UNSERVED = ("run", "stats", "metrics", "logs", "spec", "checkpoint", "configz")  # but for the paths below
_STATS_PATHS = ("/stats/summary", "/metrics/resource")
_METRICS_PATHS = ("/metrics", "/metrics/probes")
_STREAMING = ("exec", "attach", "portForward")
_FINE_GRAINED = (("/pods", "pods"), ("/healthz", "healthz"), ("/configz", "configz"), ("/runningpods", "pods"))
_COARSE = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/checkpoint", "checkpoint"))
TOKEN_TTL = 120.0
MAX_STREAMING_SESSIONS = 64  # exec/attach/port-forward connections at once; more get 429
# Small SPDY frames (replies, a command's last output, its exit status) go out at once instead of waiting for
# the peer's delayed ACK (Nagle): up to 40 ms per exec otherwise. Go, and so the kubelet, sets it on every
# TCP connection by default.
NO_DELAY = True


class Authorizer:
    """SubjectAccessReviews for `nodes/<subresource>` of one node, with the kubelet's cache lifetimes."""

    def __init__(self, api: NodeAPI, node_name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.node_name = self._node = node_name
        self._clock = clock
        self._cache: dict[tuple[str, tuple[str, ...], str, str], tuple[bool, float, str]] = {}
        self._lock = threading.Lock()

    def allowed(self, user: str, groups: tuple[str, ...], verb: str, subresource: str) -> tuple[bool, str]:
        key = (user, groups, verb, subresource)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0], hit[2]
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": list(groups),
                "resourceAttributes": {
                    "verb": verb,
                    "group": "",
                    "version": "v1",
                    "resource": "nodes",
                    "subresource": subresource,
                    "name": self._node,
                },
            },
        }
        status = self.api.subject_access_review(review).get("status") or {}
        allowed = bool(status.get("allowed"))
        reason = str(status.get("reason") or "")
        with self._lock:
            self._cache[key] = (allowed, now + (ALLOWED_TTL if allowed else DENIED_TTL), reason)
        return allowed, reason


def subresources_for(path: str) -> tuple[str, ...]:
    """The kubelet's mapping of a request path to the `nodes/<subresource>` reviews, any of which allows it:
    fine-grained first (pods, healthz, configz), then stats, metrics, log (for /logs), checkpoint or proxy."""

    def under(prefix: str) -> bool:
        return path == prefix or path.startswith(prefix + "/")

    fine = next((sub for prefix, sub in _FINE_GRAINED if under(prefix)), None)
    coarse = next((sub for prefix, sub in _COARSE if under(prefix)), "proxy")
    return (fine, coarse) if fine else (coarse,)


class Authenticator:
    """Bearer tokens through TokenReview (metrics-server, service accounts), cached like the kubelet's webhook:
    2 minutes; tokens the API server rejects are not cached."""

    def __init__(self, api: NodeAPI, clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._clock = clock
        self._cache: dict[str, tuple[tuple[str, tuple[str, ...]], float]] = {}
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> tuple[str, tuple[str, ...]] | None:
        key = hashlib.sha256(token.encode()).hexdigest()  # the token itself is never kept
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        status = self._api.token_review(review).get("status") or {}
        user = status.get("user") or {}
        if not status.get("authenticated") or not user.get("username"):
            return None
        identity = (str(user["username"]), tuple(str(g) for g in user.get("groups") or ()))
        with self._lock:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = (identity, now + TOKEN_TTL)
        return identity


class ReadAPI(BackgroundHTTPServer):
    """The server. `pod_status(namespace, name)` finds a static pod; `statuses()` lists them all."""

    def __init__(
        self,
        *,
        address: str,
        port: int,
        cert: Path,
        key: Path,
        client_ca: bytes,
        authorizer: Authorizer,
        runtime: Runtime,
        authenticator: Authenticator | None = None,
        node_name: str = "",
        pod_status: Callable[[str, str], PodStatus | None],
        statuses: Callable[[], list[PodStatus]],
        streams: streaming.Backend | None = None,
        max_sessions: int = MAX_STREAMING_SESSIONS,
    ) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(str(cert), str(key))
            context.load_verify_locations(cadata=client_ca.decode())
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise KbsError(
                f"cannot serve the read API with {cert} and {key}: {exc}",
                hint="the serving certificate must be signed by the cluster CA (`kbs certs generate` issues it)",
            ) from exc
        context.verify_mode = ssl.CERT_OPTIONAL
        try:
            server = _TLSServer((address, port), _Handler, context)
        except OSError as exc:
            raise KbsError(
                f"cannot listen on {address}:{port} for the read API: {exc.strerror}",
                hint="a kubelet or another reconciler may hold the port; stop it or choose another port",
            ) from exc
        server.app = self  # type: ignore[attr-defined]
        self.authorizer = authorizer
        self.authenticator = authenticator or Authenticator(authorizer.api)
        self.runtime = runtime
        self.pod_status = pod_status
        self.statuses = statuses
        self.streams = streams
        self.node_name = node_name or authorizer.node_name
        self.rates = stats.Rates()
        self.sessions = threading.BoundedSemaphore(max_sessions)
        super().__init__(server, "read-api")


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext):
        self.context = context
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        if NO_DELAY:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client without an acceptable certificate, or a port scanner
        try:
            tls.settimeout(None)
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            with contextlib.suppress(OSError):
                tls.close()


def _close_when_gone(sock: socket.socket, done: threading.Event, closer: Callable[[], None] | None) -> None:
    """While a followed log is streamed the client sends nothing: the socket turning readable means it has gone
    (FIN or TLS close). Then end the runtime's log read, which frees the handler thread at once."""
    while not done.is_set():
        try:
            readable, _, _ = select.select([sock], [], [], 1.0)
        except (OSError, ValueError):
            readable = [sock]
        if readable and not done.is_set():
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer()
            return


class _Handler(BaseHTTPRequestHandler):
    server_version = "kbs-reconciler"
    rbufsize = 0  # unbuffered: after an upgrade, the bytes that follow the request belong to SPDY

    @property
    def app(self) -> ReadAPI:
        return self.server.app  # type: ignore[attr-defined, no-any-return]

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _identity(self) -> tuple[str, tuple[str, ...]] | None:
        """Who is asking: a client certificate of the cluster CA, else a bearer token the API server vouches for."""
        cert = self.connection.getpeercert()
        if cert:
            user, groups = "", []
            for rdn in cert.get("subject", ()):
                for name, value in rdn:
                    if name == "commonName":
                        user = value
                    elif name == "organizationName":
                        groups.append(value)
            return (user, (*groups, "system:authenticated")) if user else None
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return self.app.authenticator.authenticate(token.strip())
        return None

    def _handle(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        try:
            identity = self._identity()
        except APIServerError as exc:
            self._text(503 if unreachable(exc) else 500, f"Authentication error: {exc.message}\n")
            return
        if identity is None:
            self._text(
                401, "Unauthorized: a client certificate signed by the cluster CA or a valid bearer token is required\n"
            )
            return
        user, groups = identity
        verb = _VERBS.get(self.command, "get")
        head = parts[0] if parts else ""
        subresources = subresources_for(url.path)
        try:
            allowed = any(self.app.authorizer.allowed(user, groups, verb, s)[0] for s in subresources)
        except APIServerError as exc:
            code = 503 if unreachable(exc) else 500
            self._text(code, f"Authorization error (user={user}, verb={verb}, resource=nodes): {exc.message}\n")
            return
        if not allowed:
            shown = subresources[0]
            self._text(403, f"Forbidden (user={user}, verb={verb}, resource=nodes, subresource(s)=[{shown}])\n")
            return
        if url.path.rstrip("/") in _STATS_PATHS and self.app.streams is not None:
            self._stats(url.path.rstrip("/"))
        elif url.path.rstrip("/") in _METRICS_PATHS and self.command in ("GET", "HEAD"):
            self._metrics(url.path.rstrip("/"))
        elif head in _STREAMING and len(parts) >= 3:
            self._stream(head, parts[1:], urllib.parse.parse_qs(url.query))
        elif head in _UNSERVED:
            served = "containerLogs, exec, attach, portForward, stats/summary, metrics, pods and healthz"
            self._text(404, f"/{head} is not served by this node: kbs's reconciler serves {served} only\n")
        elif self.command not in ("GET", "HEAD"):
            self._text(405, f"{self.command} is not served by this node: its read API serves GET only\n")
        elif head == "containerLogs" and len(parts) == 4:
            self._logs(parts[1], parts[2], parts[3], urllib.parse.parse_qs(url.query))
        elif head == "pods" and len(parts) == 1:
            items = [s.pod_object() for s in self.app.statuses()]
            self._json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
        elif head == "healthz" and len(parts) == 1:
            self._text(200, "ok")
        else:
            self._text(404, "404 page not found\n")

    def _logs(self, namespace: str, pod: str, container: str, query: dict[str, list[str]]) -> None:
        try:
            options = logs.LogOptions.from_query(query)
            record = logs.pick(
                self.app.runtime.list(),
                self.app.pod_status(namespace, pod),
                pod,
                namespace,
                container,
                previous=options.previous,
            )
            chunks = self.app.runtime.logs(record.id, **logs.docker_options(options))  # type: ignore[arg-type]
            stream = logs.shape(chunks, options)
            # Without follow, read the first piece before answering 200, so a runtime error becomes a clean 500;
            # with follow, answer at once: a quiet container may print nothing for a long time.
            first = b"" if options.follow else next(stream, b"")
        except logs.LogRequestError as exc:
            self._text(exc.code, exc.message + "\n")
            return
        except KbsError as exc:
            self._text(500, f"cannot read the log of container {container}: {exc.message}\n")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if self.command == "HEAD":
            return
        done = threading.Event()
        if options.follow:  # a quiet container would keep this thread until its next line: watch the client
            closer = getattr(chunks, "close", None)
            threading.Thread(target=_close_when_gone, args=(self.connection, done, closer), daemon=True).start()
        try:
            self.wfile.write(first)
            self.wfile.flush()
            for piece in stream:
                self.wfile.write(piece)
                self.wfile.flush()
        except (OSError, ssl.SSLError):
            return  # the client went away (kubectl logs -f interrupted)
        except KbsError as exc:
            log(_log, logging.WARNING, "Log stream ended early", pod=f"{namespace}/{pod}", error=exc.message)
        finally:
            done.set()

    def _stats(self, path: str) -> None:
        app = self.app
        assert app.streams is not None
        pods: dict[tuple[str, str, str], list[stats.ContainerStats]] = {}
        failed = False
        records = [r for r in app.runtime.list() if r.running and not r.is_sandbox and r.pod_name]
        for record in records:
            try:
                sample = stats.container_sample(app.streams.stats(record.id))
            except Exception:  # a container that just went away: left out, as the kubelet does
                failed = True
                continue
            key = (record.pod_namespace, record.pod_name, record.pod_uid)
            pods.setdefault(key, []).append(stats.ContainerStats(record, sample))
        app.rates.forget_except(r.id for r in records)
        node = stats.node_sample()
        if path == "/stats/summary":
            self._json(200, stats.summary(app.node_name, node, stats.boot_time(), pods, app.rates))
        else:
            self._send(200, stats.resource_metrics(node, pods, failed).encode(), metrics.CONTENT_TYPE)

    def _metrics(self, path: str) -> None:
        app = self.app
        if path == "/metrics/probes":
            body = metrics.PROBES.render()
        else:
            body = metrics.node_metrics(app.node_name, app.runtime.list(), len(app.statuses()))
        self._send(200, body.encode(), metrics.CONTENT_TYPE)

    def _stream(self, head: str, parts: list[str], query: dict[str, list[str]]) -> None:
        app = self.app
        if app.streams is None:
            self._text(404, f"/{head} is not served by this node: its container runtime has no streaming\n")
            return
        if not app.sessions.acquire(blocking=False):
            self._text(
                429,
                f"too many exec, attach and port-forward sessions on this node (at most {MAX_STREAMING_SESSIONS})\n",
            )
            return
        try:
            self._upgrade(app.streams, head, parts, query)
        finally:
            app.sessions.release()
            self.close_connection = True

    def _upgrade(self, backend: streaming.Backend, head: str, parts: list[str], query: dict[str, list[str]]) -> None:
        namespace, pod = parts[0], parts[1]
        session: streaming.RemoteCommand | streaming.PortForward
        try:
            if "spdy/3.1" not in self.headers.get("Upgrade", "").lower():
                raise streaming.StreamRequestError(
                    400, "unable to upgrade: missing upgrade headers in request (Upgrade: SPDY/3.1 is required)"
                )
            status = self.app.pod_status(namespace, pod)
            if status is None:
                raise streaming.StreamRequestError(
                    404, f'pod "{pod}" in namespace "{namespace}" does not exist on this node'
                )
            offered = self.headers.get_all("X-Stream-Protocol-Version") or []
            if head == "portForward":
                protocol = streaming.negotiate(offered, streaming.PORTFORWARD_PROTOCOLS)
                sandbox = self._sandbox(status)
                session = streaming.PortForward(lambda port: backend.dial(sandbox, port))
            else:
                if len(parts) not in (3, 4):
                    raise streaming.StreamRequestError(404, "404 page not found")
                container = parts[-1]
                options = streaming.Options.from_query(query)
                protocol = streaming.negotiate(offered, streaming.EXEC_PROTOCOLS)
                record = logs.pick(self.app.runtime.list(), status, pod, namespace, container, previous=False)
                if not record.running:
                    raise streaming.StreamRequestError(400, f'container "{container}" in pod "{pod}" is not running')
                command = query.get("command") or []
                if head == "exec":
                    if not command:
                        raise streaming.StreamRequestError(400, "you must specify a command (command=...)")
                    session = streaming.RemoteCommand(
                        options, protocol, lambda: backend.exec(record.id, command, options), command
                    )
                else:
                    session = streaming.RemoteCommand(options, protocol, lambda: backend.attach(record.id, options))
        except (streaming.StreamRequestError, logs.LogRequestError) as exc:
            self._text(exc.code, exc.message + "\n")
            return
        except KbsError as exc:
            self._text(500, f"cannot {head} in pod {pod}: {exc.message}\n")
            return
        self.wfile.write(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            + f"X-Stream-Protocol-Version: {protocol}\r\n\r\n".encode()
        )
        conn = spdy.Connection(self.connection, session.on_stream)
        worker = None
        if isinstance(session, streaming.RemoteCommand):
            worker = threading.Thread(target=session.run, args=(conn,), name=f"{head}-session", daemon=True)
            worker.start()
        try:
            conn.run()  # until the client or the session closes the connection
        finally:
            session.abort()
            if worker is not None:
                worker.join(10)

    def _sandbox(self, status: PodStatus) -> str:
        for record in self.app.runtime.list():
            if record.is_sandbox and record.pod_uid == status.uid and record.running:
                return record.id
        raise streaming.StreamRequestError(400, f"pod {status.name} has no running sandbox to forward ports into")

    def _text(self, code: int, body: str) -> None:
        self._send(code, body.encode(), "text/plain; charset=utf-8")

    def _json(self, code: int, body: object) -> None:
        self._send(code, json.dumps(body).encode(), "application/json")

    def _send(self, code: int, raw: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        return
