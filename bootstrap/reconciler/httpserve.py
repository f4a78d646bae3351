"""A threaded HTTP server run on a daemon thread: the plumbing shared by /healthz and the port-10250 read API.

Subclasses build their own `ThreadingHTTPServer` (plain or TLS, with their handler and error message) and pass it
here; this owns the serving thread, the bound port (0 picks a free one) and a stop that never raises.
"""

from __future__ import annotations

import contextlib
import threading
from http.server import ThreadingHTTPServer


class BackgroundHTTPServer:
    def __init__(self, server: ThreadingHTTPServer, thread_name: str) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=thread_name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._server.shutdown()
            self._server.server_close()
