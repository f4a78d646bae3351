"""The read API over real TLS on loopback: client certificates, SubjectAccessReviews, logs, 404s."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pki
from bootstrap.reconciler.apiserver.server import Authorizer, ReadAPI, subresources_for
from pki.context import PKIContext

from .conftest import NODE, Cluster, static_pod, wait


@dataclass
class Served:
    api: ReadAPI
    ca: Path
    client: tuple[Path, Path]
    cluster: Cluster
    reviews: list[dict[str, Any]]

    def get(self, path: str, *, cert: bool = True, token: str | None = None) -> tuple[int, str]:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.check_hostname = False
        if cert:
            context.load_cert_chain(str(self.client[0]), str(self.client[1]))
        conn = http.client.HTTPSConnection("127.0.0.1", self.api.port, context=context, timeout=5)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()


@pytest.fixture
def served(cluster: Cluster, tmp_path: Path) -> Iterator[Served]:
    ctx = PKIContext(
        node_name=NODE, advertise_address="127.0.0.1", cert_dir=tmp_path / "pki", encryption_algorithm="ECDSA-P256"
    )
    pki.ensure_certificates(ctx, "apiserver-kubelet-client")
    serving = (tmp_path / "serving.crt", tmp_path / "serving.key")
    pki.ensure_serving_certificate(ctx, *serving)
    reviews: list[dict[str, Any]] = []
    allowed = {"kube-apiserver-kubelet-client"}

    def sar(review: dict[str, Any]) -> bool:
        reviews.append(review)
        return review["spec"]["user"] in allowed

    cluster.api.sar = sar
    api = ReadAPI(
        address="127.0.0.1",
        port=0,
        cert=serving[0],
        key=serving[1],
        client_ca=pki.read_ca_bundle(ctx),
        authorizer=Authorizer(cluster.api, NODE),
        runtime=cluster.runtime,
        pod_status=cluster.publisher.desired.lookup,
        statuses=cluster.publisher.desired.all,
    )
    api.start()
    pki_dir = tmp_path / "pki"
    yield Served(
        api,
        pki_dir / "ca.crt",
        (pki_dir / "apiserver-kubelet-client.crt", pki_dir / "apiserver-kubelet-client.key"),
        cluster,
        reviews,
    )
    api.stop()


def _pod_running(served: Served) -> None:
    served.cluster.set(static_pod())
    wait("the pod in the publisher", lambda: served.cluster.publisher.desired.lookup("kube-system", f"web-{NODE}"))
    wait("the container", served.cluster.running)


def test_logs_of_a_static_pod_container_for_the_api_servers_client(served: Served) -> None:
    _pod_running(served)
    code, body = served.get(f"/containerLogs/kube-system/web-{NODE}/c?tailLines=10")
    assert code == 200 and body.startswith("log of k8s_c_web-")
    review = served.reviews[-1]["spec"]
    assert review["user"] == "kube-apiserver-kubelet-client" and "system:authenticated" in review["groups"]
    assert review["resourceAttributes"] == {
        "verb": "get",
        "group": "",
        "version": "v1",
        "resource": "nodes",
        "subresource": "proxy",
        "name": NODE,
    }


def test_authorization_answers_are_cached(served: Served) -> None:
    _pod_running(served)
    for _ in range(3):
        assert served.get(f"/containerLogs/kube-system/web-{NODE}/c")[0] == 200
    assert len(served.reviews) == 1


def test_a_client_without_certificate_is_401(served: Served) -> None:
    code, body = served.get("/pods", cert=False)
    assert code == 401 and "client certificate" in body


def test_a_bearer_token_is_reviewed_then_authorized_as_its_user(served: Served) -> None:
    served.cluster.api.tokens["good"] = {"username": "kube-apiserver-kubelet-client", "groups": ["g"]}
    served.cluster.api.tokens["nobody"] = {"username": "nobody", "groups": ["system:authenticated"]}
    assert served.get("/pods", cert=False, token="good")[0] == 200
    assert served.get("/pods", cert=False, token="good")[0] == 200  # cached: one review
    assert served.reviews[-1]["spec"]["groups"] == ["g"]
    assert served.get("/pods", cert=False, token="nobody")[0] == 403
    code, body = served.get("/pods", cert=False, token="of-another-cluster")
    assert code == 401 and "bearer token" in body


def test_the_kubelets_subresource_mapping() -> None:
    assert subresources_for("/stats/summary") == ("stats",)
    assert subresources_for("/metrics/resource") == ("metrics",)
    assert subresources_for("/logs/") == ("log",)
    assert subresources_for("/pods") == ("pods", "proxy")
    assert subresources_for("/healthz") == ("healthz", "proxy")
    assert subresources_for("/exec/ns/pod/c") == ("proxy",)
    assert subresources_for("/containerLogs/ns/pod/c") == ("proxy",)
    assert subresources_for("/podsx") == ("proxy",)


def test_a_client_the_api_server_does_not_allow_is_403(served: Served) -> None:
    served.cluster.api.sar = lambda review: False
    code, body = served.get(f"/containerLogs/kube-system/web-{NODE}/c")
    assert code == 403
    assert body.startswith("Forbidden (user=kube-apiserver-kubelet-client, verb=get, resource=nodes")


def test_previous_log_without_a_previous_container_is_400(served: Served) -> None:
    _pod_running(served)
    code, body = served.get(f"/containerLogs/kube-system/web-{NODE}/c?previous=true")
    assert code == 400 and "previous terminated container" in body


def test_unknown_pod_is_404(served: Served) -> None:
    code, body = served.get("/containerLogs/kube-system/nope/c")
    assert code == 404 and "does not exist" in body


def test_exec_without_a_streaming_runtime_and_everything_else_is_404(served: Served) -> None:
    code, body = served.get(f"/exec/kube-system/web-{NODE}/c?command=sh")
    assert code == 404 and "not served" in body
    assert served.get("/stats/summary")[0] == 404
    assert served.get("/anything")[0] == 404


def test_pods_lists_the_static_pods(served: Served) -> None:
    _pod_running(served)
    code, body = served.get("/pods")
    assert code == 200
    items = json.loads(body)["items"]
    assert [p["metadata"]["name"] for p in items] == [f"web-{NODE}"]


def test_a_certificate_from_another_ca_is_refused_at_the_handshake(served: Served, tmp_path: Path) -> None:
    other = PKIContext(
        node_name=NODE, advertise_address="127.0.0.1", cert_dir=tmp_path / "other", encryption_algorithm="ECDSA-P256"
    )
    pki.ensure_certificates(other, "apiserver-kubelet-client")
    served.client = (tmp_path / "other/apiserver-kubelet-client.crt", tmp_path / "other/apiserver-kubelet-client.key")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        served.get("/pods")


def test_metrics_and_metrics_probes_are_served_after_a_nodes_metrics_review(served: Served) -> None:
    _pod_running(served)
    code, body = served.get("/metrics")
    assert code == 200
    assert f'kubelet_node_name{{node="{NODE}"}} 1' in body.splitlines()
    assert "kubelet_running_pods 1" in body.splitlines()
    assert 'kubelet_running_containers{container_state="running"} 1' in body.splitlines()
    assert served.reviews[-1]["spec"]["resourceAttributes"]["subresource"] == "metrics"
    code, body = served.get("/metrics/probes")
    assert code == 200 and "# TYPE prober_probe_total counter" in body
    assert served.get("/metrics/cadvisor")[0] == 404
