"""A client that writes through a cluster's endpoint every 100 ms and records what happened (bench/ha_bench.py,
bench/upgrade_bench.py, tests/real/test_ha_upgrade.py): one ConfigMap PATCHed with admin.conf's client
certificate, a new connection per request (what a load balancer sees from many clients), 1 s per request."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

INTERVAL = 0.1
REQUEST_TIMEOUT = 1.0


@dataclass
class Attempt:
    at: float  # seconds since the writer started
    ok: bool
    detail: str = ""


class Writer:
    """PATCHes one ConfigMap through the endpoint with admin.conf's client certificate."""

    def __init__(self, admin_conf: str, workdir: Path, name: str = "ha-bench") -> None:
        conf: dict[str, Any] = yaml.safe_load(admin_conf)
        cluster = conf["clusters"][0]["cluster"]
        user = conf["users"][0]["user"]
        self.host, port = cluster["server"].removeprefix("https://").rsplit(":", 1)
        self.port = int(port)
        self.name = name
        files = {}
        for file, data in (
            ("ca.crt", cluster["certificate-authority-data"]),
            ("client.crt", user["client-certificate-data"]),
            ("client.key", user["client-key-data"]),
        ):
            path = workdir / file
            path.write_bytes(base64.b64decode(data))
            path.chmod(0o600)
            files[file] = path
        self.ctx = ssl.create_default_context(cafile=str(files["ca.crt"]))
        self.ctx.load_cert_chain(str(files["client.crt"]), str(files["client.key"]))
        self.path = "/api/v1/namespaces/default/configmaps"

    def _request(self, method: str, path: str, body: dict[str, Any], content_type: str) -> int:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, json.dumps(body), {"Content-Type": content_type})
            return conn.getresponse().status
        finally:
            conn.close()

    def create(self) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": self.name}, "data": {"n": "0"}}
        self._request("POST", self.path, body, "application/json")

    def write(self, n: int) -> tuple[bool, str]:
        try:
            status = self._request(
                "PATCH", f"{self.path}/{self.name}", {"data": {"n": str(n)}}, "application/merge-patch+json"
            )
        except (OSError, http.client.HTTPException) as exc:
            return False, type(exc).__name__
        return status == 200, str(status)


class Background(threading.Thread):
    """`writer.write(n)` every INTERVAL from a thread until `stop()`; `summary()` counts what failed."""

    def __init__(self, writer: Writer) -> None:
        super().__init__(daemon=True)
        self.writer = writer
        self.attempts: list[Attempt] = []
        self.last_written = 0
        self._halt = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        for n in itertools.count(1):
            if self._halt.is_set():
                return
            tick = time.monotonic()
            ok, detail = self.writer.write(n)
            self.attempts.append(Attempt(tick - start, ok, detail))
            if ok:
                self.last_written = n
            self._halt.wait(max(0.0, INTERVAL - (time.monotonic() - tick)))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def summary(self) -> dict[str, Any]:
        successes = [a.at for a in self.attempts if a.ok]
        gaps = [b - a for a, b in itertools.pairwise(successes)]
        failed = [a for a in self.attempts if not a.ok]
        return {
            "writes": len(self.attempts),
            "failed": len(failed),
            "longest_gap_s": round(max(gaps, default=0.0), 2),
            "failure_kinds": sorted({a.detail for a in failed}),
            "failures": [f"{a.at:.1f}s {a.detail}" for a in failed][:50],
        }
