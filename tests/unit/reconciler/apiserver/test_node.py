"""The Node's registration body, conditions and lease, and the heartbeat against the fake API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.reconciler.apiserver import node as nodes
from bootstrap.reconciler.apiserver.heartbeat import Heartbeat
from tests.support.fake_apiserver import FakeAPIServer
from tests.support.fake_runtime import FakeRuntime

from .conftest import NODE


def facts(tmp_path: Path) -> nodes.NodeFacts:
    return nodes.NodeFacts.gather(
        NODE, "10.0.0.1", 10250, version="v1.37.2+kbs.0.1.0", runtime="docker://29", state_dir=tmp_path
    )


def test_kubelet_version_is_the_api_servers_with_kbs_as_build_metadata() -> None:
    assert nodes.kubelet_version("v1.37.2") == "v1.37.2+kbs.0.1.0"
    assert nodes.kubelet_version("v1.30.0+k3s1") == "v1.30.0+kbs.0.1.0"


def test_node_object_has_the_kubelet_labels_and_no_room_for_api_pods(tmp_path: Path) -> None:
    body = nodes.node_object(facts(tmp_path))
    labels = body["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == NODE and labels["beta.kubernetes.io/os"] == "linux"
    assert labels["kbs.dev/static-pods-only"] == "true"
    assert body["spec"]["taints"] == [{"key": "kbs.dev/static-pods-only", "value": "true", "effect": "NoSchedule"}]
    status = body["status"]
    assert status["capacity"]["pods"] == "110" and int(status["capacity"]["cpu"]) >= 1
    assert status["capacity"]["memory"].endswith("Ki")
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"]["kubeletVersion"] == "v1.37.2+kbs.0.1.0"
    assert status["nodeInfo"]["operatingSystem"] == "linux"


def test_taking_over_a_node_adds_what_registration_would_have_set_and_keeps_the_rest(tmp_path: Path) -> None:
    f = facts(tmp_path)
    control_plane = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    existing = {"metadata": {"labels": {"kubernetes.io/hostname": "other"}}, "spec": {"taints": [control_plane]}}
    patch = nodes.takeover_patch(existing, f)
    assert "kubernetes.io/hostname" not in patch["metadata"]["labels"]  # a value someone set is left alone
    assert patch["metadata"]["labels"]["kbs.dev/static-pods-only"] == "true"
    assert patch["spec"]["taints"] == [
        control_plane,
        {"key": "kbs.dev/static-pods-only", "value": "true", "effect": "NoSchedule"},
    ]
    registered = nodes.node_object(f)
    assert nodes.takeover_patch(registered, f) == {}


def test_ready_condition_follows_the_reconciler_and_says_static_pods_only() -> None:
    healthy = nodes.conditions(nodes.Health(True, memory_available=8 << 30, disk_available_ratio=0.5))
    ready = healthy[-1]
    assert [c["type"] for c in healthy] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert ready["status"] == "True" and "static pods only" in ready["message"]
    assert all(c["status"] == "False" for c in healthy[:3])
    sick = nodes.conditions(nodes.Health(False, "Docker does not answer"))[-1]
    assert sick["status"] == "False" and "Docker does not answer" in sick["message"]
    assert "static pods only" in sick["message"]


def test_pressure_conditions_use_the_kubelet_hard_eviction_thresholds() -> None:
    low = nodes.conditions(nodes.Health(True, memory_available=50 << 20, disk_available_ratio=0.05))
    assert low[0]["status"] == "True" and low[1]["status"] == "True"


def test_condition_reasons_are_the_kubelets_words_after_kbss_prefix() -> None:
    """KubeletHasNoDiskPressure and the like (pkg/kubelet/nodestatus/setters.go), as Reconciler...."""
    ok = nodes.conditions(nodes.Health(True, memory_available=8 << 30, disk_available_ratio=0.5, pids_free_ratio=0.9))
    assert [c["reason"] for c in ok] == [
        "ReconcilerHasSufficientMemory", "ReconcilerHasNoDiskPressure", "ReconcilerHasSufficientPID", "ReconcilerReady"
    ]  # fmt: skip
    low = nodes.conditions(nodes.Health(True, memory_available=1, disk_available_ratio=0.01, pids_free_ratio=0.01))
    assert [c["reason"] for c in low[:3]] == [
        "ReconcilerHasInsufficientMemory", "ReconcilerHasDiskPressure", "ReconcilerHasInsufficientPID"
    ]  # fmt: skip


def test_transition_time_is_kept_while_a_condition_holds() -> None:
    first = nodes.with_times(nodes.conditions(nodes.Health(True)), [], "2026-01-01T00:00:00Z")
    again = nodes.with_times(nodes.conditions(nodes.Health(True)), first, "2026-01-01T00:01:00Z")
    assert again[-1]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert again[-1]["lastHeartbeatTime"] == "2026-01-01T00:01:00Z"
    changed = nodes.with_times(nodes.conditions(nodes.Health(False, "x")), again, "2026-01-01T00:02:00Z")
    assert changed[-1]["lastTransitionTime"] == "2026-01-01T00:02:00Z"


def _heartbeat(api: FakeAPIServer, tmp_path: Path, healthy: list[bool], clock: list[float]) -> Heartbeat:
    return Heartbeat(
        api,
        node_name=NODE,
        node_ip="10.0.0.1",
        port=10250,
        runtime=FakeRuntime(),
        healthy=lambda: healthy[0],
        state_dir=tmp_path,
        clock=lambda: clock[0],
    )


def test_heartbeat_renews_the_lease_and_posts_status_on_change_only(tmp_path: Path) -> None:
    api = FakeAPIServer(NODE)
    healthy, clock = [True], [100.0]
    beat = _heartbeat(api, tmp_path, healthy, clock)
    beat.register()
    beat.beat()
    assert ("create", f"lease/{NODE}") in api.calls and ("patch", f"node/{NODE}/status") in api.calls
    api.calls.clear()
    clock[0] += 10.5
    beat.beat()
    assert api.calls == [("patch", f"lease/{NODE}")]  # renewed; status unchanged, not posted
    healthy[0] = False
    clock[0] += 10.5
    beat.beat()
    ready = next(c for c in api.nodes[NODE]["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and "reconcile loop" in ready["message"]


def test_a_deleted_node_is_registered_again(tmp_path: Path) -> None:
    api = FakeAPIServer(NODE)
    beat = _heartbeat(api, tmp_path, [True], [0.0])
    first = beat.register()
    del api.nodes[NODE]
    beat.beat()
    assert beat.node_uid is None
    assert beat.register() != first


def test_registration_waits_while_the_api_server_refuses_public_paths(tmp_path: Path) -> None:
    from bootstrap.errors import APIServerError
    from bootstrap.reconciler.apiserver.client import unreachable

    api = FakeAPIServer(NODE)

    def not_ready() -> dict[str, str]:
        raise APIServerError('forbidden: User "system:node:node-1" cannot get path "/version"', status=403)

    api.version = not_ready  # type: ignore[method-assign]  # RBAC bootstrap not done yet
    beat = _heartbeat(api, tmp_path, [True], [0.0])
    with pytest.raises(APIServerError) as caught:
        beat.register()
    assert unreachable(caught.value)  # the publisher waits quietly, as for a server that does not answer
