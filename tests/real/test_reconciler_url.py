"""The --manifest-url source on the real engine: a Pod, then a PodList; errors keep pods; an empty body removes."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.real.conftest import TestBed
from tests.support.reconciler import Bed
from tests.support.wait import wait_until


class _Body:
    def __init__(self) -> None:
        self.status = 200
        self.data = b""
        self.headers: list[dict[str, str]] = []


@pytest.fixture
def served() -> Iterator[tuple[str, _Body]]:
    body = _Body()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body.headers.append(dict(self.headers))
            self.send_response(body.status)
            self.send_header("Content-Length", str(len(body.data)))
            self.end_headers()
            self.wfile.write(body.data)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pods", body
    finally:
        server.shutdown()
        server.server_close()


BED_PREFIX = "kbs-url"  # the node name of this module's beds (the `bed` fixture, tests/real/conftest.py)


def pod(name: str, image: str) -> str:
    return f"""
  metadata: {{name: {name}}}
  spec:
    terminationGracePeriodSeconds: 2
    containers:
    - {{name: c, image: {image}, args: [pause]}}"""


def running_pods(bed: Bed) -> set[str]:
    return {r.pod_name for r in bed.containers() if r.running and not r.is_sandbox}


def test_url_source_runs_pods_keeps_them_on_errors_and_removes_them_on_an_empty_body(
    bed: Bed, testbed: TestBed, served: tuple[str, _Body]
) -> None:
    url, body = served
    image = testbed.images["agnhost"]
    body.data = f"apiVersion: v1\nkind: Pod\n{pod('one', image).replace(chr(10) + '  ', chr(10))}\n".encode()
    reconciler = bed.start(
        manifest_dir=None,
        manifest_url=url,
        manifest_url_headers=(("X-Token", "abc"), ("X-Token", "def")),
        http_check_frequency=1.0,
    )
    wait_until("pod from the URL", lambda: running_pods(bed) == {bed.pod_name("one")}, timeout=60, interval=0.1)
    one = bed.status_when("one", lambda s: s.phase == "Running", "status of the URL pod")
    assert one.source == "http" and one.origin == url
    assert not one.manifest["spec"].get("tolerations")  # URL pods get no NoExecute toleration
    assert body.headers[0]["X-Token"] == "abc, def"  # a repeated header name keeps both values, in order

    body.data = f"apiVersion: v1\nkind: PodList\nitems:\n-{pod('one', image)[2:]}\n-{pod('two', image)[2:]}\n".encode()
    wait_until(
        "PodList", lambda: running_pods(bed) == {bed.pod_name("one"), bed.pod_name("two")}, timeout=60, interval=0.1
    )
    assert bed.status("one").uid == one.uid  # type: ignore[union-attr]  # same content and URL: same pod

    body.status = 500
    requests_before = len(body.headers)
    wait_until("failing polls", lambda: len(body.headers) >= requests_before + 3, timeout=30, interval=0.1)
    assert running_pods(bed) == {bed.pod_name("one"), bed.pod_name("two")}  # the last good content keeps running

    body.status, body.data = 200, b"not: [valid"
    requests_before = len(body.headers)
    wait_until("broken body polled", lambda: len(body.headers) >= requests_before + 2, timeout=30, interval=0.1)
    assert running_pods(bed) == {bed.pod_name("one"), bed.pod_name("two")}
    assert any(e.reason == "FailedValidation" and e.origin == url for e in reconciler.recorder.recent())

    body.data = b""
    wait_until("empty body removes every URL pod", lambda: not running_pods(bed), timeout=60, interval=0.1)
