"""Mirror pod rules (the kubelet's IsMirrorPodOf and tryReconcileMirrorPods) as pure functions."""

from __future__ import annotations

from typing import Any

from bootstrap.reconciler.apiserver import mirror
from bootstrap.reconciler.defaulting import CONFIG_MIRROR
from bootstrap.reconciler.status import ContainerState, ContainerStatus, PodCondition, PodStatus

from .conftest import NODE, static_pod


def status_of(name: str = "web", **changes: Any) -> PodStatus:
    pod = static_pod(name)
    base = PodStatus(
        name=pod.name,
        namespace=pod.namespace,
        uid=pod.uid,
        hash=pod.uid,
        source="http",
        origin=pod.origin,
        phase="Running",
        conditions=(PodCondition("Ready", "True"),),
        container_statuses=(ContainerStatus("c", ContainerState("running"), "img", restart_count=3),),
        host_ip="10.0.0.1",
        pod_ip="10.0.0.1",
        manifest=pod.manifest,
    )
    return PodStatus(**{**base.__dict__, **changes})


def api_mirror(status: PodStatus, **meta: Any) -> dict[str, Any]:
    body = mirror.mirror_body(status, NODE, "node-uid")
    body["metadata"].update({"uid": "mirror-uid", **meta})
    return body


def test_mirror_body_is_the_static_pod_with_mirror_annotation_and_node_owner() -> None:
    status = status_of()
    body = mirror.mirror_body(status, NODE, "node-uid")
    meta = body["metadata"]
    assert meta["annotations"][CONFIG_MIRROR] == status.hash
    assert meta["ownerReferences"] == [mirror.node_owner(NODE, "node-uid")]
    assert "uid" not in meta and "status" not in body
    assert body["spec"]["nodeName"] == NODE
    assert body["spec"]["containers"][0]["name"] == "c"
    assert "kubernetes.io/config.mirror" not in status.manifest["metadata"]["annotations"]  # the input is untouched


def test_status_patch_targets_one_mirror_uid_and_leaves_qos_class_alone() -> None:
    patch = mirror.status_patch(status_of(), "mirror-uid")
    assert patch["metadata"] == {"uid": "mirror-uid"}
    assert patch["status"]["phase"] == "Running"
    assert patch["status"]["containerStatuses"][0]["restartCount"] == 3
    assert "qosClass" not in patch["status"]


def test_plan_creates_a_missing_mirror_and_keeps_a_matching_one() -> None:
    status = status_of()
    assert mirror.plan(status, None, may_delete_orphans=True).action == "create"
    assert mirror.plan(status, api_mirror(status), may_delete_orphans=True).action == "keep"


def test_plan_recreates_a_mirror_being_deleted_or_with_a_stale_hash() -> None:
    status = status_of()
    deleting = api_mirror(status, deletionTimestamp="2026-01-01T00:00:00Z")
    assert mirror.plan(status, deleting, may_delete_orphans=True).action == "recreate"
    stale = api_mirror(status)
    stale["metadata"]["annotations"][CONFIG_MIRROR] = "old"
    assert mirror.plan(status, stale, may_delete_orphans=True).action == "recreate"


def test_plan_ignores_edits_to_anything_but_the_hash() -> None:
    status = status_of()
    edited = api_mirror(status, labels={"edited": "yes"})
    edited["spec"]["containers"][0]["image"] = "other:1"
    assert mirror.plan(status, edited, may_delete_orphans=True).action == "keep"


def test_plan_deletes_orphans_only_once_the_reconciler_has_synced() -> None:
    orphan = api_mirror(status_of())
    assert mirror.plan(None, orphan, may_delete_orphans=False).action == "keep"
    assert mirror.plan(None, orphan, may_delete_orphans=True).action == "delete"


def test_plan_never_touches_a_pod_that_is_not_a_mirror() -> None:
    status = status_of()
    foreign = api_mirror(status)
    del foreign["metadata"]["annotations"][CONFIG_MIRROR]
    assert mirror.plan(status, foreign, may_delete_orphans=True).action == "conflict"
    assert mirror.plan(None, foreign, may_delete_orphans=True).action == "keep"


def test_is_mirror_of_compares_full_name_and_hash_only() -> None:
    status = status_of()
    assert mirror.is_mirror_of(api_mirror(status, labels={"x": "y"}), status)
    assert not mirror.is_mirror_of(api_mirror(status_of("other")), status)
