"""HTTPNodeAPI against a stub HTTP server on loopback: request shapes, error translation, the watch."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bootstrap.errors import APIServerError
from bootstrap.reconciler.apiserver.client import GoneError, HTTPNodeAPI, unreachable

Reply = tuple[int, Any]  # status, JSON body (or a list of watch lines)


class Stub:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Callable[[str, str], Reply] = lambda method, path: (200, {})
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                stub.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "query": urllib.parse.parse_qs(url.query),
                        "type": self.headers.get("Content-Type"),
                        "agent": self.headers.get("User-Agent"),
                        "body": json.loads(body) if body else None,
                    }
                )
                code, payload = stub.reply(self.command, url.path)
                raw = (
                    b"".join(json.dumps(x).encode() + b"\n" for x in payload)
                    if isinstance(payload, list)
                    else json.dumps(payload).encode()
                )
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                self._any()

            def do_POST(self) -> None:
                self._any()

            def do_PATCH(self) -> None:
                self._any()

            def do_DELETE(self) -> None:
                self._any()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubelet.conf"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[tuple[Stub, HTTPNodeAPI]]:
    s = Stub()
    api = HTTPNodeAPI(kubeconfig(tmp_path, s.url), timeout=5)
    yield s, api
    api.close()
    s.server.shutdown()


def status(code: int, reason: str, message: str) -> Reply:
    return code, {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


def test_delete_sends_grace_zero_and_a_uid_precondition(stub: tuple[Stub, HTTPNodeAPI]) -> None:
    server, api = stub
    api.delete_pod("kube-system", "etcd-n1", uid="abc", grace_seconds=0)
    request = server.requests[-1]
    assert (request["method"], request["path"]) == ("DELETE", "/api/v1/namespaces/kube-system/pods/etcd-n1")
    assert request["body"] == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "abc"},
    }
    assert request["agent"].startswith("kbs-reconciler/")


def test_status_patches_are_strategic_merge_on_the_status_subresource(stub: tuple[Stub, HTTPNodeAPI]) -> None:
    server, api = stub
    api.patch_pod_status("kube-system", "etcd-n1", {"status": {"phase": "Running"}})
    api.patch_node_status("n1", {"status": {}})
    assert [(r["path"], r["type"]) for r in server.requests] == [
        ("/api/v1/namespaces/kube-system/pods/etcd-n1/status", "application/strategic-merge-patch+json"),
        ("/api/v1/nodes/n1/status", "application/strategic-merge-patch+json"),
    ]


def test_list_pods_selects_the_node_by_field(stub: tuple[Stub, HTTPNodeAPI]) -> None:
    server, api = stub
    server.reply = lambda m, p: (200, {"items": [{"metadata": {"name": "a"}}], "metadata": {"resourceVersion": "7"}})
    pods, version = api.list_pods("n1")
    assert version == "7" and pods[0]["metadata"]["name"] == "a"
    assert server.requests[-1]["query"]["fieldSelector"] == ["spec.nodeName=n1"]


def test_refusals_keep_status_and_reason(stub: tuple[Stub, HTTPNodeAPI]) -> None:
    server, api = stub
    server.reply = lambda m, p: status(
        403, "Forbidden", 'pods "x" is forbidden: no PriorityClass with name nope was found'
    )
    with pytest.raises(APIServerError) as caught:
        api.create_pod({"metadata": {"name": "x", "namespace": "default"}})
    assert caught.value.status == 403 and caught.value.reason == "Forbidden"
    assert "no PriorityClass with name nope" in caught.value.message and not unreachable(caught.value)
    server.reply = lambda m, p: status(503, "ServiceUnavailable", "starting")
    with pytest.raises(APIServerError) as busy:
        api.version()
    assert unreachable(busy.value)


def test_a_missing_node_is_none(stub: tuple[Stub, HTTPNodeAPI]) -> None:
    server, api = stub
    server.reply = lambda m, p: status(404, "NotFound", 'nodes "n1" not found')
    assert api.get_node("n1") is None


def test_an_unreachable_server_is_an_error_without_status(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = HTTPNodeAPI(kubeconfig(tmp_path, f"http://127.0.0.1:{port}"), timeout=2)
    with pytest.raises(APIServerError) as caught:
        api.version()
    assert caught.value.status is None and unreachable(caught.value)
    api.close()


def test_watch_yields_events_and_an_expired_version_is_gone(stub: tuple[Stub, HTTPNodeAPI]) -> None:
    server, api = stub
    pod = {"metadata": {"name": "a", "resourceVersion": "8"}}
    server.reply = lambda m, p: (200, [{"type": "ADDED", "object": pod}, {"type": "DELETED", "object": pod}])
    assert [kind for kind, _ in api.watch_pods("n1", "7", threading.Event())] == ["ADDED", "DELETED"]
    query = server.requests[-1]["query"]
    assert query["watch"] == ["true"] and query["resourceVersion"] == ["7"]
    server.reply = lambda m, p: (200, [{"type": "ERROR", "object": {"code": 410, "message": "too old"}}])
    with pytest.raises(GoneError):
        list(api.watch_pods("n1", "1", threading.Event()))


def test_a_kubeconfig_that_cannot_be_read_says_which(tmp_path: Path) -> None:
    with pytest.raises(APIServerError, match=r"kubelet\.conf"):
        HTTPNodeAPI(tmp_path / "kubelet.conf")
