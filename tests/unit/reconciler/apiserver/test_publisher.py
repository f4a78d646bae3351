"""The publisher end to end on fakes: mirror pods, their status, events, the node, outages."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bootstrap.reconciler.defaulting import CONFIG_HASH, CONFIG_MIRROR
from bootstrap.reconciler.runtime import ExecResult
from tests.support.fake_apiserver import FakeAPIServer

from .conftest import NODE, Cluster, make_cluster, static_pod, wait


def _running(mirror: dict[str, Any]) -> bool:
    statuses = mirror.get("status", {}).get("containerStatuses") or []
    return bool(statuses) and "running" in statuses[0]["state"]


def _restarts(mirror: dict[str, Any]) -> int:
    return int(mirror["status"]["containerStatuses"][0]["restartCount"])


def test_mirror_pod_carries_the_hash_annotation_and_the_node_as_controller_owner(cluster: Cluster) -> None:
    pod = static_pod()
    cluster.set(pod)
    mirror = cluster.wait_mirror(lambda m: True, "the mirror pod")
    node = cluster.api.nodes[NODE]
    assert mirror["metadata"]["name"] == f"web-{NODE}" and mirror["metadata"]["namespace"] == "kube-system"
    assert mirror["metadata"]["annotations"][CONFIG_MIRROR] == pod.uid == mirror["metadata"]["annotations"][CONFIG_HASH]
    assert mirror["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": node["metadata"]["uid"], "controller": True}
    ]
    assert mirror["metadata"]["uid"] != pod.uid  # the API server's own UID
    assert mirror["metadata"]["labels"] == {"component": "web"}
    assert mirror["spec"]["nodeName"] == NODE


def test_mirror_status_shows_phase_conditions_and_the_running_container(cluster: Cluster) -> None:
    cluster.set(static_pod())
    mirror = cluster.wait_mirror(_running, "a running container in the mirror's status")
    status = mirror["status"]
    assert status["phase"] == "Running"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["PodScheduled"] == conditions["Initialized"] == "True"
    container = status["containerStatuses"][0]
    record = cluster.runtime.by_name("c", running=True)[0]
    assert container["containerID"] == f"docker://{record.id}"
    assert container["imageID"] and container["restartCount"] == 0 and container["state"]["running"]["startedAt"]
    assert status["hostIP"] == "10.0.0.1" and status["podIP"]
    assert status["qosClass"] == "BestEffort"  # set by the API server at create, never patched


def test_deleted_mirror_pod_is_recreated_without_restarting_the_container(cluster: Cluster) -> None:
    cluster.set(static_pod())
    first = cluster.wait_mirror(_running, "the mirror pod")
    container = cluster.running()
    calls = len(cluster.runtime.calls)
    cluster.api.user_delete("kube-system", f"web-{NODE}")  # graceful: deletionTimestamp, as kubectl delete does
    second = cluster.wait_mirror(lambda m: m["metadata"]["uid"] != first["metadata"]["uid"], "a new mirror")
    assert "deletionTimestamp" not in second["metadata"]
    cluster.wait_mirror(_running, "the new mirror's status")
    assert cluster.running() == container
    assert not [c for c in cluster.runtime.calls[calls:] if c[0] in ("create", "start", "stop", "remove")]


def test_force_deleted_mirror_pod_comes_back(cluster: Cluster) -> None:
    cluster.set(static_pod())
    first = cluster.wait_mirror(lambda m: True, "the mirror pod")
    cluster.api.user_delete("kube-system", f"web-{NODE}", grace=0)
    cluster.wait_mirror(lambda m: m["metadata"]["uid"] != first["metadata"]["uid"], "a new mirror")


def test_restart_count_survives_mirror_recreation(cluster: Cluster) -> None:
    cluster.set(static_pod())
    cluster.wait_mirror(_running, "the mirror pod")
    cluster.runtime.exit(cluster.running()[0], 2)
    mirror = cluster.wait_mirror(lambda m: _running(m) and _restarts(m) == 1, "restartCount 1")
    last = mirror["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert last["exitCode"] == 2 and last["reason"] == "Error"
    cluster.api.user_delete("kube-system", f"web-{NODE}")
    cluster.wait_mirror(
        lambda m: m["metadata"]["uid"] != mirror["metadata"]["uid"] and _running(m) and _restarts(m) == 1,
        "a new mirror that still shows 1 restart",
    )


def test_edits_to_a_mirror_pod_change_nothing_on_the_node(cluster: Cluster) -> None:
    cluster.set(static_pod())
    mirror = cluster.wait_mirror(_running, "the mirror pod")
    calls = len(cluster.runtime.calls)
    patch = {"metadata": {"labels": {"edited": "yes"}}, "spec": {"containers": [{"name": "c", "image": "other:1"}]}}
    cluster.api.user_patch("kube-system", f"web-{NODE}", patch)
    time.sleep(0.5)
    after = cluster.mirror()
    assert after is not None and after["metadata"]["uid"] == mirror["metadata"]["uid"]  # not recreated either
    assert not [c for c in cluster.runtime.calls[calls:] if c[0] in ("create", "start", "stop", "pull")]


def test_changed_manifest_replaces_the_mirror_with_the_new_hash(cluster: Cluster) -> None:
    old = static_pod()
    cluster.set(old)
    first = cluster.wait_mirror(_running, "the first mirror")
    new = static_pod(extra="  terminationGracePeriodSeconds: 1\n")
    assert new.uid != old.uid
    cluster.set(new)
    second = cluster.wait_mirror(lambda m: m["metadata"]["annotations"][CONFIG_MIRROR] == new.uid, "the new mirror")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    cluster.wait_mirror(lambda m: m["metadata"]["annotations"][CONFIG_MIRROR] == new.uid and _running(m), "running")


def test_removed_static_pod_removes_its_mirror(cluster: Cluster) -> None:
    cluster.set(static_pod(), static_pod("other"))
    cluster.wait_mirror(lambda m: True, "the mirror pod")
    cluster.wait_mirror(lambda m: True, "the other mirror pod", name="other")
    cluster.set(static_pod("other"))
    wait("the mirror to go", lambda: cluster.mirror() is None)
    assert cluster.mirror("other") is not None


def test_rejected_mirror_is_reported_while_the_pod_keeps_running(cluster: Cluster) -> None:
    cluster.api.admission = lambda pod: "no PriorityClass with name nope was found" if "web" in str(pod) else None
    cluster.set(static_pod())
    rejection = wait("the rejection", lambda: cluster.publisher.rejections().get(f"web-{NODE}_kube-system"))
    assert "no PriorityClass" in rejection.message
    assert cluster.running()
    event = wait(
        "a MirrorPodRejected event",
        lambda: [e for e in cluster.api.event_list() if e["reason"] == "MirrorPodRejected"],
    )[0]
    assert event["type"] == "Warning" and "keeps running" in event["message"]
    assert cluster.mirror() is None


def test_pod_events_name_the_static_pod_and_the_container(cluster: Cluster) -> None:
    pod = static_pod()
    cluster.set(pod)
    started = wait("a Started event", lambda: [e for e in cluster.api.event_list() if e["reason"] == "Started"])[0]
    assert started["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": "kube-system",
        "name": f"web-{NODE}",
        "uid": pod.uid,  # kubectl describe looks a mirror's events up by its config.mirror annotation
        "fieldPath": "spec.containers{c}",
    }
    assert started["source"] == {"component": "kubelet", "host": NODE}
    assert started["message"] == "Container started"


def test_liveness_failure_is_an_unhealthy_event(cluster: Cluster) -> None:
    cluster.runtime.exec_results = lambda _id, cmd: ExecResult(1, b"nope")
    probe = "    livenessProbe: {exec: {command: [check]}, periodSeconds: 1, failureThreshold: 1}\n"
    cluster.set(static_pod(extra=probe))
    unhealthy = wait(
        "an Unhealthy event",
        lambda: [e for e in cluster.api.event_list() if e["reason"] == "Unhealthy"],
        timeout=8,
    )[0]
    assert unhealthy["type"] == "Warning" and "Liveness probe failed" in unhealthy["message"]


def test_repeated_events_are_counted_not_repeated(cluster: Cluster) -> None:
    recorder = cluster.reconciler.recorder
    for _ in range(3):
        recorder.event("Warning", "BackOff", "Back-off restarting failed container c")
    event = wait(
        "one BackOff event counted 3 times",
        lambda: [e for e in cluster.api.event_list() if e["reason"] == "BackOff" and e["count"] == 3],
    )[0]
    assert event["involvedObject"] == {"kind": "Node", "name": NODE, "uid": NODE}
    assert len([e for e in cluster.api.event_list() if e["reason"] == "BackOff"]) == 1


def test_events_from_before_the_publisher_started_are_replayed(tmp_path: Path) -> None:
    c = make_cluster(tmp_path, start_publisher=False)
    try:
        c.set(static_pod())
        wait("the container", c.running)
        assert not c.api.event_list()
        c.publisher.start()
        reasons = wait("replayed events", lambda: {e["reason"] for e in c.api.event_list()} >= {"Created", "Started"})
        assert reasons
        time.sleep(0.3)
        assert len([e for e in c.api.event_list() if e["reason"] == "Started"]) == 1  # not twice
    finally:
        c.publisher.stop()
        c.reconciler.stop()


def test_api_server_outage_keeps_pods_running_and_the_mirror_catches_up(tmp_path: Path) -> None:
    api = FakeAPIServer(NODE)
    api.down = True
    c = make_cluster(tmp_path, api=api)
    try:
        c.set(static_pod())
        wait("the container", c.running)
        c.runtime.exit(c.running()[0], 1)
        wait(
            "the restarted container", lambda: c.runtime.by_name("c", running=True) and len(c.runtime.by_name("c")) == 2
        )
        assert not c.publisher.connected.is_set()
        api.down = False
        mirror = c.wait_mirror(lambda m: _running(m) and _restarts(m) == 1, "the mirror with 1 restart")
        assert mirror["metadata"]["annotations"][CONFIG_MIRROR]
        wait("the events of the outage", lambda: {e["reason"] for e in api.event_list()} >= {"Started", "Created"})
        api.down = True  # and again, with the mirror there: nothing on the node changes
        calls = len(c.runtime.calls)
        time.sleep(0.5)
        api.down = False
        c.runtime.exit(c.running()[0], 1)
        c.wait_mirror(lambda m: _running(m) and _restarts(m) == 2, "restartCount 2 after the second outage")
        assert [x for x in c.runtime.calls[calls:] if x[0] == "stop"] == []
    finally:
        c.publisher.stop()
        c.reconciler.stop()


def test_status_is_only_sent_when_it_changes(cluster: Cluster) -> None:
    cluster.set(static_pod())
    cluster.wait_mirror(_running, "the mirror pod")
    time.sleep(0.5)
    before = len([c for c in cluster.api.calls if c == ("patch", f"pod/web-{NODE}/status")])
    time.sleep(1.0)
    after = len([c for c in cluster.api.calls if c == ("patch", f"pod/web-{NODE}/status")])
    assert after == before


def test_node_is_registered_with_labels_kubelet_pod_capacity_a_lease_and_ready(cluster: Cluster) -> None:
    node = wait("the node", lambda: cluster.api.nodes.get(NODE))
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == NODE and labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] and labels["kbs.dev/static-pods-only"] == "true"
    status = wait(
        "the node status",
        lambda: cluster.api.nodes[NODE].get("status", {}).get("conditions") and cluster.api.nodes[NODE]["status"],
    )
    assert status["capacity"]["pods"] == "110" and status["allocatable"]["pods"] == "110"
    assert {"type": "InternalIP", "address": "10.0.0.1"} in status["addresses"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and "static pods only" in ready["message"]
    assert status["nodeInfo"]["kubeletVersion"].startswith("v1.37.2+kbs")
    assert status["nodeInfo"]["containerRuntimeVersion"] == "docker://fake"
    lease = wait("the lease", lambda: cluster.api.leases.get(("kube-node-lease", NODE)))
    assert lease["spec"]["holderIdentity"] == NODE and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]


def test_existing_node_is_taken_over_and_keeps_its_labels(tmp_path: Path) -> None:
    api = FakeAPIServer(NODE)
    existing = api.create_node(
        {"metadata": {"name": NODE, "labels": {"node-role.kubernetes.io/control-plane": ""}}, "spec": {}}
    )
    c = make_cluster(tmp_path, api=api)
    try:
        c.set(static_pod())
        mirror = c.wait_mirror(lambda m: True, "the mirror pod")
        assert mirror["metadata"]["ownerReferences"][0]["uid"] == existing["metadata"]["uid"]
        labels = api.nodes[NODE]["metadata"]["labels"]
        assert "node-role.kubernetes.io/control-plane" in labels and labels["kubernetes.io/hostname"] == NODE
    finally:
        c.publisher.stop()
        c.reconciler.stop()


def test_a_new_publisher_keeps_live_mirrors_and_deletes_orphans(cluster: Cluster) -> None:
    cluster.set(static_pod())
    mirror = cluster.wait_mirror(_running, "the mirror pod")
    cluster.publisher.stop()
    orphan = cluster.api.create_pod(
        {
            "metadata": {
                "name": f"gone-{NODE}",
                "namespace": "kube-system",
                "annotations": {CONFIG_MIRROR: "0123"},
                "ownerReferences": mirror["metadata"]["ownerReferences"],
            },
            "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": IMAGE_REF}]},
        }
    )
    publisher = cluster.new_publisher()
    try:
        wait("the orphan to be deleted", lambda: cluster.api.mirror(f"gone-{NODE}") is None)
        assert orphan["metadata"]["uid"]
        kept = cluster.mirror()
        assert kept is not None and kept["metadata"]["uid"] == mirror["metadata"]["uid"]
    finally:
        publisher.stop()


IMAGE_REF = "registry.k8s.io/pause:3.10.2"


def test_api_pod_bound_to_the_node_gets_a_warning_and_its_deletion_completed(cluster: Cluster) -> None:
    wait("the node", lambda: cluster.api.nodes.get(NODE))
    with cluster.api._lock:  # a user's pod with spec.nodeName set: NodeRestriction does not judge the user
        created = cluster.api._new(
            {"metadata": {"name": "user-pod", "namespace": "default"}, "spec": {"nodeName": NODE, "containers": []}}
        )
        cluster.api.pods[("default", "user-pod")] = created
        cluster.api._notify("ADDED", created)
    warning = wait(
        "a StaticPodsOnly warning",
        lambda: [e for e in cluster.api.event_list() if e["reason"] == "StaticPodsOnly"],
    )[0]
    assert warning["involvedObject"]["uid"] == created["metadata"]["uid"]
    cluster.api.user_delete("default", "user-pod")
    wait("the deletion to complete", lambda: cluster.api.mirror("user-pod", "default") is None)
