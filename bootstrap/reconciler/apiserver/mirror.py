"""Mirror pods: what the API server shows of a static pod, and the kubelet's rules for keeping it in line.

A mirror is the static pod's defaulted manifest POSTed to the API server with `kubernetes.io/config.mirror` = the
pod's hash (`kubernetes.io/config.hash`) and exactly one ownerReference, the Node, as controller (NodeRestriction
requires both). The API server gives it its own UID; the static pod is found again by full name
(`<name>_<namespace>`) and the mirror annotation. Only the hash is ever compared, so edits to a mirror's labels or
image change nothing anywhere (the kubelet's `IsMirrorPodOf`). Pure functions, no I/O: the publisher acts on
`plan()`'s answer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from bootstrap.reconciler.defaulting import CONFIG_HASH, CONFIG_MIRROR
from bootstrap.reconciler.status import PodStatus

Obj = dict[str, Any]
# Fields the API server owns on create; never sent.
_SERVER_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


def full_name(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}"


def mirror_hash(pod: Obj) -> str | None:
    """The `kubernetes.io/config.mirror` annotation, None for a pod that is not a mirror."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(CONFIG_MIRROR)
    return None if value is None else str(value)


def uid_of(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


def deleting(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_mirror_of(mirror: Obj, status: PodStatus) -> bool:
    """The kubelet's IsMirrorPodOf: same full name and the mirror annotation equals the static pod's hash."""
    return full_name(mirror) == status.full_name and mirror_hash(mirror) == status.hash


def node_owner(node_name: str, node_uid: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid, "controller": True}


def mirror_body(status: PodStatus, node_name: str, node_uid: str) -> Obj:
    """The POST body of the mirror of `status`'s static pod (no status: the API server resets it on create)."""
    manifest = copy.deepcopy(status.manifest)
    meta = dict(manifest.get("metadata") or {})
    for key in _SERVER_META:
        meta.pop(key, None)
    annotations = dict(meta.get("annotations") or {})
    annotations[CONFIG_MIRROR] = annotations.get(CONFIG_HASH, status.hash)
    meta["annotations"] = annotations
    meta["ownerReferences"] = [node_owner(node_name, node_uid)]
    meta["name"], meta["namespace"] = status.name, status.namespace
    spec = dict(manifest.get("spec") or {})
    spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def status_patch(status: PodStatus, mirror_uid: str) -> Obj:
    """The strategic-merge patch of the mirror's status; `metadata.uid` makes it apply to that mirror only.

    qosClass is left out: the API server computes it on create from the same spec and refuses to change it.
    Conditions merge by type, so a condition's reason and message that no longer apply are sent as null (deleted),
    as the kubelet's status manager does; otherwise a Ready condition turned True would keep its old reason.
    """
    body = status.api_status()
    body.pop("qosClass", None)
    body["conditions"] = [{"reason": None, "message": None, **c} for c in body.get("conditions", [])]
    return {"metadata": {"uid": mirror_uid}, "status": body}


Action = Literal["keep", "create", "recreate", "delete", "conflict"]


@dataclass(frozen=True)
class Plan:
    action: Action
    reason: str = ""


def plan(status: PodStatus | None, mirror: Obj | None, *, may_delete_orphans: bool) -> Plan:
    """What to do about one full name, like the kubelet's tryReconcileMirrorPods + orphan cleanup.

    status   the static pod the mirror should show (None: no such static pod any more)
    mirror   the pod of that name bound to this node in the API server (None: none)
    """
    if status is None:
        if mirror is None or mirror_hash(mirror) is None or not may_delete_orphans:
            return Plan("keep")
        return Plan("delete", "the static pod is gone")
    if mirror is None:
        return Plan("create", "no mirror pod yet")
    if mirror_hash(mirror) is None:
        return Plan("conflict", f"a pod named {status.name} that is not a mirror pod exists in the API server")
    if deleting(mirror):
        return Plan("recreate", "the mirror pod was deleted through the API server")
    if mirror_hash(mirror) != status.hash:
        return Plan("recreate", "the mirror pod does not match the static pod (hash changed)")
    return Plan("keep")
