"""Mirror pods of the same static manifest, one from the real kubelet's node and one from kbs's reconciler's node,
compared field by field.

`normalise` replaces what must differ between two nodes of one cluster, and nothing else: the node name (in the
mirror pod's name, spec.nodeName and the owner reference; the pod's name and config hash also inside messages such
as a back-off's), UIDs, resource versions, timestamps, IP addresses and
the hex part of container and image IDs. The *form* of an ID (`docker://` against `containerd://`, a repo digest
against a bare `sha256:`) is kept: that is a difference a user sees, to be listed, not hidden.

`flatten` turns an object into {field path: value}; lists of objects with a `name` (containers, volumes...) or a
`type` (conditions) are keyed by it, so a reordering is no difference and a path names the item
(`status.conditions[Ready].reason`). `compare` returns the differences; `unexplained` leaves those that no row
of tests/support/kubelet_differences.py allows.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.kubelet_differences import ALLOWED, Allowed

NODE = "<node>"
UID = "<uid>"
TIME = "<time>"
IP = "<ip>"
HEX = "<hex>"
VERSION = "<resourceVersion>"
HASH = "<config-hash>"

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_HEX_RUN = re.compile(r"[0-9a-f]{32,}")  # container IDs (64), image digests (64)
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_IP_FIELDS = ("hostIP", "podIP")
_IP_LIST_FIELDS = ("hostIPs", "podIPs")
_DROPPED_METADATA = ("managedFields", "resourceVersion", "generation")


@dataclass(frozen=True)
class Difference:
    path: str
    kubelet: Any  # missing: MISSING
    kbs: Any

    def __str__(self) -> str:
        return f"{self.path}: kubelet {self.kubelet!r}, kbs {self.kbs!r}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def normalise(pod: Mapping[str, Any], node: str) -> dict[str, Any]:
    """A copy of a mirror pod with node-specific values replaced by placeholders (see the module docstring)."""
    out: dict[str, Any] = copy.deepcopy(dict(pod))
    meta = out.setdefault("metadata", {})
    for key in _DROPPED_METADATA:
        meta.pop(key, None)
    name = meta.get("name", "")
    renames: dict[str, str] = {}  # node-specific words inside messages: the pod's name, its config hash (its UID)
    if name.endswith(f"-{node}"):
        meta["name"] = renames[name] = name[: -len(node)] + NODE
    for ref in meta.get("ownerReferences", []):
        if ref.get("kind") == "Node" and ref.get("name") == node:
            ref["name"] = NODE
    annotations = meta.get("annotations", {})
    for key in ("kubernetes.io/config.hash", "kubernetes.io/config.mirror"):
        if key in annotations:
            renames[annotations[key]] = HASH
            annotations[key] = HASH  # a hash of the pod as read on that node: it includes the node name
    spec = out.get("spec", {})
    if spec.get("nodeName") == node:
        spec["nodeName"] = NODE
    return dict(_placeholders(out, renames=renames))


def _placeholders(value: Any, key: str = "", *, renames: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _placeholders(v, k, renames=renames) for k, v in value.items()}
    if isinstance(value, list):
        if key in _IP_LIST_FIELDS:
            return [{"ip": IP} for _ in value]
        return [_placeholders(v, key, renames=renames) for v in value]
    if not isinstance(value, str):
        return value
    for old, new in renames.items():
        value = value.replace(old, new)
    if key in _IP_FIELDS or _IPV4.match(value):
        return IP
    if _TIMESTAMP.match(value):
        return TIME
    if _UID.match(value):
        return UID
    if key in ("containerID", "imageID"):
        return _HEX_RUN.sub(HEX, value)
    return value


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """{field path: leaf value}; an empty dict or list is a leaf (an explicit `{}` is something a user sees)."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for k, v in value.items():
            flat.update(flatten(v, f"{path}.{k}" if path else str(k)))
        return flat
    if isinstance(value, list) and value:
        flat = {}
        for i, item in enumerate(value):
            flat.update(flatten(item, f"{path}[{_list_key(item, i)}]"))
        return flat
    return {path: value}


def _list_key(item: Any, index: int) -> str:
    if isinstance(item, dict):
        for key in ("name", "type"):
            if isinstance(item.get(key), str):
                return str(item[key])
    return str(index)


def compare(kubelet: Mapping[str, Any], kbs: Mapping[str, Any]) -> list[Difference]:
    """The field paths where two (normalised) objects differ, sorted by path."""
    left, right = flatten(kubelet), flatten(kbs)
    return [
        Difference(path, left.get(path, MISSING), right.get(path, MISSING))
        for path in sorted(set(left) | set(right))
        if left.get(path, MISSING) != right.get(path, MISSING)
    ]


def compare_pods(
    kubelet_pod: Mapping[str, Any], kubelet_node: str, kbs_pod: Mapping[str, Any], kbs_node: str
) -> list[Difference]:
    return compare(normalise(kubelet_pod, kubelet_node), normalise(kbs_pod, kbs_node))


def allowed_by(difference: Difference, table: Iterable[Allowed] = ALLOWED) -> Allowed | None:
    """The row of the table that explains a difference, if any: its path pattern matches (`*` is any text, it crosses
    dots; brackets are literal) and, where the row names them, the values on each side are the ones it names."""
    for row in table:
        if not _matches(row.path, difference.path):
            continue
        if row.kubelet is not None and _shown(difference.kubelet) != row.kubelet:
            continue
        if row.kbs is not None and _shown(difference.kbs) != row.kbs:
            continue
        return row
    return None


def _matches(pattern: str, path: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), path) is not None


def _shown(value: Any) -> str:
    return "(absent)" if value is MISSING else str(value)


def unexplained(differences: Iterable[Difference], table: Iterable[Allowed] = ALLOWED) -> list[Difference]:
    rows = list(table)
    return [d for d in differences if allowed_by(d, rows) is None]


def node_view(node: Mapping[str, Any]) -> dict[str, Any]:
    """What a Node shows of its agent and of the node lifecycle controller, under `node.`: each condition's status,
    reason and message (keyed by type; its times left out) and the controller's NoSchedule taints
    (node.kubernetes.io/*, as `key:effect` in order). Its NoExecute taints depend on how many of the zone's nodes
    are down (none while all are: "full disruption"), not on the node. The rest (addresses, capacity, nodeInfo,
    the roles' labels and taints) is the machine's or the node's role, not behaviour; so is NetworkUnavailable,
    which the pod network's agent sets (flannel, on the kubelet's node only: kbs's node runs static pods only)."""
    status, spec = node.get("status") or {}, node.get("spec") or {}
    shown = [c for c in status.get("conditions") or [] if c["type"] != "NetworkUnavailable"]
    conditions = {c["type"]: {k: c[k] for k in ("status", "reason", "message") if k in c} for c in shown}
    taints = sorted(
        f"{t['key']}:{t['effect']}"
        for t in spec.get("taints") or []
        if t["key"].startswith("node.kubernetes.io/") and t["effect"] == "NoSchedule"
    )
    return {"node": {"status": {"conditions": conditions}, "spec": {"taints": ", ".join(taints) or "(none)"}}}


def compare_nodes(kubelet_node: Mapping[str, Any], kbs_node: Mapping[str, Any]) -> list[Difference]:
    """The differences of two Nodes' node_view, with paths like `node.status.conditions.Ready.reason`."""
    return compare(node_view(kubelet_node), node_view(kbs_node))
