"""The mirror-pod comparator of the kubelet differential test, and the page section generated from its table."""

from __future__ import annotations

import copy
from typing import Any

from tests.support import kubelet_differences
from tests.support.kubelet_diff import (
    HEX,
    IP,
    MISSING,
    NODE,
    TIME,
    UID,
    Difference,
    allowed_by,
    compare,
    compare_nodes,
    compare_pods,
    flatten,
    normalise,
    unexplained,
)
from tests.support.kubelet_differences import Allowed

CID = "a" * 64


def mirror(node: str, *, scheme: str = "containerd", ip: str = "172.18.0.3") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"web-{node}",
            "namespace": "default",
            "uid": "0b7a3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
            "resourceVersion": "812",
            "creationTimestamp": "2026-12-04T20:01:02Z",
            "managedFields": [{"manager": "kubelet"}],
            "annotations": {
                "kubernetes.io/config.hash": f"hash-of-{node}",
                "kubernetes.io/config.mirror": f"hash-of-{node}",
                "kubernetes.io/config.source": "file",
            },
            "ownerReferences": [{"kind": "Node", "name": node, "uid": "9b7a3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}],
        },
        "spec": {"nodeName": node, "containers": [{"name": "web", "image": "agnhost"}]},
        "status": {
            "phase": "Running",
            "hostIP": ip,
            "hostIPs": [{"ip": ip}],
            "startTime": "2026-12-04T20:01:03.123456Z",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-04T20:01:04Z"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [
                {"name": "web", "containerID": f"{scheme}://{CID}", "imageID": f"sha256:{'b' * 64}", "restartCount": 0}
            ],
        },
    }


def test_normalise_replaces_what_differs_between_nodes_and_keeps_id_forms() -> None:
    pod = normalise(mirror("worker-1"), "worker-1")
    meta, status = pod["metadata"], pod["status"]
    assert meta["name"] == f"web-{NODE}"
    assert meta["uid"] == UID and meta["creationTimestamp"] == TIME
    assert "managedFields" not in meta and "resourceVersion" not in meta
    assert meta["ownerReferences"] == [{"kind": "Node", "name": NODE, "uid": UID}]
    assert meta["annotations"]["kubernetes.io/config.source"] == "file"
    assert pod["spec"]["nodeName"] == NODE
    assert status["hostIP"] == IP and status["hostIPs"] == [{"ip": IP}]
    assert status["startTime"] == TIME
    assert status["containerStatuses"][0]["containerID"] == f"containerd://{HEX}"
    assert status["containerStatuses"][0]["imageID"] == f"sha256:{HEX}"


def test_normalise_replaces_the_pod_name_and_hash_inside_messages() -> None:
    pod = mirror("cp-1")
    message = "back-off 10s restarting failed container=web pod=web-cp-1_default(hash-of-cp-1)"
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    waiting = normalise(pod, "cp-1")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["message"] == f"back-off 10s restarting failed container=web pod=web-{NODE}_default(<config-hash>)"


def test_normalise_leaves_its_argument_alone() -> None:
    pod = mirror("cp-1")
    before = copy.deepcopy(pod)
    normalise(pod, "cp-1")
    assert pod == before


def test_flatten_keys_named_and_typed_list_items() -> None:
    flat = flatten({"status": {"conditions": [{"type": "Ready", "status": "True"}], "podIPs": [{"ip": "x"}]}})
    assert flat == {"status.conditions[Ready].type": "Ready", "status.conditions[Ready].status": "True",
                    "status.podIPs[0].ip": "x"}  # fmt: skip
    assert flatten({"a": {}, "b": []}) == {"a": {}, "b": []}


def test_two_nodes_same_runtime_show_no_difference() -> None:
    kubelet = mirror("worker-1", ip="172.18.0.3")
    kbs = mirror("cp-1", ip="172.18.0.2")
    kbs["status"]["conditions"].reverse()  # order of keyed items is not a difference
    assert compare_pods(kubelet, "worker-1", kbs, "cp-1") == []


def test_container_id_scheme_is_a_difference() -> None:
    found = compare_pods(mirror("worker-1"), "worker-1", mirror("cp-1", scheme="docker"), "cp-1")
    assert found == [Difference("status.containerStatuses[web].containerID", f"containerd://{HEX}", f"docker://{HEX}")]


def test_a_field_on_one_side_only_is_a_difference() -> None:
    kubelet, kbs = mirror("worker-1"), mirror("cp-1")
    kubelet["status"]["conditions"][0]["reason"] = "ContainersNotReady"
    found = compare_pods(kubelet, "worker-1", kbs, "cp-1")
    assert found == [Difference("status.conditions[Ready].reason", "ContainersNotReady", MISSING)]


def test_allowed_rows_match_by_path_pattern_and_values() -> None:
    table = (
        Allowed("status.containerStatuses[*].containerID", f"containerd://{HEX}", f"docker://{HEX}", "runtime"),
        Allowed("status.qosClass", None, None, "anything"),
        Allowed("status.conditions[*].reason", "(absent)", "X", "one side"),
    )
    scheme = Difference("status.containerStatuses[c].containerID", f"containerd://{HEX}", f"docker://{HEX}")
    assert allowed_by(scheme, table) is table[0]
    other = Difference("status.containerStatuses[c].containerID", f"cri-o://{HEX}", f"docker://{HEX}")
    assert allowed_by(other, table) is None
    assert allowed_by(Difference("status.qosClass", "A", "B"), table) is table[1]
    assert allowed_by(Difference("status.conditions[Ready].reason", MISSING, "X"), table) is table[2]
    assert unexplained([scheme, other], table) == [other]


def test_differences_are_sorted_by_path() -> None:
    found = compare({"b": 1, "a": 1}, {"b": 2, "a": 2})
    assert [d.path for d in found] == ["a", "b"]


def test_the_page_lists_exactly_the_allowed_differences() -> None:
    """docs/kubelet-compatibility.md's generated section is render()'s output: regenerate it with
    `python -m tests.support.kubelet_differences --write` after changing the table."""
    page = kubelet_differences.DOC.read_text()
    assert kubelet_differences.section(page) == kubelet_differences.render()


def test_render_has_one_row_per_allowed_difference() -> None:
    table = (Allowed("status.x", None, "(absent)", "because"),)
    rendered = kubelet_differences.render(table).splitlines()
    assert rendered[2:] == ["| `status.x` | any | `(absent)` | because |"]
    page = f"intro\n{kubelet_differences.BEGIN}\nold\n{kubelet_differences.END}\nafter\n"
    new = kubelet_differences.with_section(page, kubelet_differences.render(table))
    assert kubelet_differences.section(new) == kubelet_differences.render(table)
    assert new.startswith("intro\n") and new.endswith(f"{kubelet_differences.END}\nafter\n")


def a_node(reason: str, *taints: str, network: bool = False) -> dict[str, Any]:
    conditions = [
        {
            "type": "Ready",
            "status": "True",
            "reason": reason,
            "message": "m",
            "lastHeartbeatTime": "2026-01-01T00:00:00Z",
        }
    ]
    if network:
        conditions.append({"type": "NetworkUnavailable", "status": "False", "reason": "FlannelIsUp"})
    return {
        "spec": {"taints": [{"key": key, "effect": effect} for key, effect in (t.split(":") for t in taints)]},
        "status": {"conditions": conditions, "addresses": [{"type": "InternalIP", "address": reason}]},
    }


def test_nodes_compare_conditions_and_the_lifecycle_controllers_noschedule_taints_only() -> None:
    """Times, addresses, NetworkUnavailable (the pod network's), role taints and NoExecute taints (the zone's
    disruption state decides them) are no difference; a reason and a NoSchedule taint are."""
    kubelet = a_node("KubeletReady", "node.kubernetes.io/unreachable:NoSchedule", "x/role:NoSchedule", network=True)
    kbs = a_node(
        "ReconcilerReady", "node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"
    )
    assert compare_nodes(kubelet, kbs) == [
        Difference("node.status.conditions.Ready.reason", "KubeletReady", "ReconcilerReady")
    ]
    assert unexplained(compare_nodes(kubelet, kbs)) == []
    untainted = a_node("ReconcilerReady")
    assert [d.path for d in compare_nodes(kubelet, untainted)] == [
        "node.spec.taints", "node.status.conditions.Ready.reason"
    ]  # fmt: skip
