"""The daemon side of `kbs reconcile`: the local /healthz endpoint (like the kubelet's 127.0.0.1:10248).

`GET /healthz` answers 200 `ok` while the reconciler's housekeeping loop runs, 500 otherwise; systemd or a
supervisor can use it as a liveness check. The server is a small ThreadingHTTPServer on its own thread.
"""

from __future__ import annotations

import http.server
from collections.abc import Callable
from typing import Any

from bootstrap.errors import KbsError
from bootstrap.reconciler.httpserve import BackgroundHTTPServer


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?")[0] not in ("/healthz", "/healthz/syncloop"):
            self._answer(404, "not found\n")
            return
        if self.server.healthy():  # type: ignore[attr-defined]
            self._answer(200, "ok")
        else:
            self._answer(500, "[-]syncloop failed: the reconcile loop is not running\nhealthz check failed\n")

    def _answer(self, code: int, body: str) -> None:
        raw = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        return


class HealthServer(BackgroundHTTPServer):
    def __init__(self, healthy: Callable[[], bool], address: str, port: int) -> None:
        try:
            server = http.server.ThreadingHTTPServer((address, port), _Handler)
        except OSError as exc:
            raise KbsError(
                f"cannot listen on {address}:{port} for /healthz: {exc.strerror}",
                hint="another reconciler or a kubelet may be running; stop it or pass --healthz-port 0",
            ) from exc
        server.daemon_threads = True
        server.healthy = healthy  # type: ignore[attr-defined]
        super().__init__(server, "healthz")
