"""FakeAPIServer: an in-memory NodeAPI for unit tests, with the API server behaviour mirror pods depend on.

It assigns UIDs and resourceVersions, resets a created pod's status, turns a delete of a pod bound to a node
into a graceful one (deletionTimestamp) unless the grace period is 0, honours UID preconditions, refuses what
NodeRestriction refuses to a node (a pod without the mirror annotation or with the wrong Node ownerReference,
a pod of another node), and feeds a watch. Knobs: `down` (every call fails as unreachable), `admission`
(a function that may return a refusal message for a pod), `sar` (SubjectAccessReview answers). Every call is
appended to `calls` as (verb, what).
"""

from __future__ import annotations

import copy
import itertools
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from bootstrap.errors import APIServerError
from bootstrap.reconciler.defaulting import CONFIG_MIRROR

Obj = dict[str, Any]


def _error(code: int, reason: str, message: str) -> APIServerError:
    return APIServerError(f"{message} (HTTP {code})", status=code, reason=reason)


def _smp(base: Any, patch: Any) -> Any:
    """Enough of a strategic merge for tests: maps merge, `conditions` merge by type, other lists replace."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(base) if isinstance(base, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif key == "conditions" and isinstance(value, list) and isinstance(out.get(key), list):
            merged = {c.get("type"): c for c in out[key]}
            for cond in value:
                merged[cond.get("type")] = {**merged.get(cond.get("type"), {}), **cond}
            out[key] = list(merged.values())
        else:
            out[key] = _smp(out.get(key), value)
    return out


class FakeAPIServer:
    def __init__(self, node_name: str, version: str = "v1.37.2") -> None:
        self.node_name = node_name
        self.git_version = version
        self.down = False
        self.admission: Callable[[Obj], str | None] = lambda pod: None
        self.sar: Callable[[Obj], bool] = lambda review: True
        self.tokens: dict[str, Obj] = {}  # bearer token -> TokenReview status.user
        self.nodes: dict[str, Obj] = {}
        self.leases: dict[tuple[str, str], Obj] = {}
        self.pods: dict[tuple[str, str], Obj] = {}
        self.events: dict[tuple[str, str], Obj] = {}
        self.calls: list[tuple[str, str]] = []
        self._rv = itertools.count(1)
        self._lock = threading.RLock()
        self._watchers: list[queue.Queue[tuple[str, Obj] | None]] = []

    # --- test helpers ---------------------------------------------------------------------------------------
    def mirror(self, name: str, namespace: str = "kube-system") -> Obj | None:
        with self._lock:
            pod = self.pods.get((namespace, name))
            return copy.deepcopy(pod) if pod else None

    def user_delete(self, namespace: str, name: str, grace: int = 30) -> None:
        """`kubectl delete pod` by a user: graceful for a pod bound to a node."""
        with self._lock:
            pod = self.pods[(namespace, name)]
            if grace == 0:
                del self.pods[(namespace, name)]
                self._notify("DELETED", pod)
                return
            pod["metadata"]["deletionTimestamp"] = _now()
            pod["metadata"]["deletionGracePeriodSeconds"] = grace
            self._bump(pod)
            self._notify("MODIFIED", pod)

    def user_patch(self, namespace: str, name: str, patch: Obj) -> None:
        """`kubectl patch` / `edit` by a user (labels, image): the object changes, nothing else happens."""
        with self._lock:
            pod = self.pods[(namespace, name)]
            self.pods[(namespace, name)] = _smp(pod, patch)
            self._bump(self.pods[(namespace, name)])
            self._notify("MODIFIED", self.pods[(namespace, name)])

    def event_list(self) -> list[Obj]:
        with self._lock:
            return [copy.deepcopy(e) for e in self.events.values()]

    def end_watches(self) -> None:
        with self._lock:
            for watcher in self._watchers:
                watcher.put(None)

    # --- plumbing -------------------------------------------------------------------------------------------
    def _check(self, verb: str, what: str) -> None:
        self.calls.append((verb, what))
        if self.down:
            raise APIServerError(f"cannot reach the API server to {verb} {what}: connection refused")

    def _bump(self, obj: Obj) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._rv))

    def _new(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        self._bump(obj)
        return obj

    def _notify(self, kind: str, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return
        for watcher in self._watchers:
            watcher.put((kind, copy.deepcopy(pod)))

    # --- NodeAPI --------------------------------------------------------------------------------------------
    def version(self) -> Obj:
        self._check("get", "version")
        return {"gitVersion": self.git_version}

    def get_node(self, name: str) -> Obj | None:
        self._check("get", f"node/{name}")
        with self._lock:
            node = self.nodes.get(name)
            return copy.deepcopy(node) if node else None

    def create_node(self, node: Obj) -> Obj:
        self._check("create", f"node/{node['metadata']['name']}")
        with self._lock:
            name = node["metadata"]["name"]
            if name in self.nodes:
                raise _error(409, "AlreadyExists", f'nodes "{name}" already exists')
            self.nodes[name] = self._new(node)
            return copy.deepcopy(self.nodes[name])

    def patch_node(self, name: str, patch: Obj) -> Obj:
        self._check("patch", f"node/{name}")
        with self._lock:
            if name not in self.nodes:
                raise _error(404, "NotFound", f'nodes "{name}" not found')
            self.nodes[name] = _smp(self.nodes[name], patch)
            return copy.deepcopy(self.nodes[name])

    def patch_node_status(self, name: str, patch: Obj) -> Obj:
        self._check("patch", f"node/{name}/status")
        return self.patch_node(name, {"status": patch["status"]})

    def create_lease(self, lease: Obj) -> Obj:
        meta = lease["metadata"]
        self._check("create", f"lease/{meta['name']}")
        with self._lock:
            key = (meta["namespace"], meta["name"])
            if key in self.leases:
                raise _error(409, "AlreadyExists", f'leases "{meta["name"]}" already exists')
            self.leases[key] = self._new(lease)
            return copy.deepcopy(self.leases[key])

    def patch_lease(self, namespace: str, name: str, patch: Obj) -> Obj:
        self._check("patch", f"lease/{name}")
        with self._lock:
            if (namespace, name) not in self.leases:
                raise _error(404, "NotFound", f'leases "{name}" not found')
            self.leases[(namespace, name)] = _smp(self.leases[(namespace, name)], patch)
            return copy.deepcopy(self.leases[(namespace, name)])

    def list_pods(self, node: str) -> tuple[list[Obj], str]:
        self._check("list", "pods")
        with self._lock:
            items = [copy.deepcopy(p) for p in self.pods.values() if p["spec"].get("nodeName") == node]
            return items, str(next(self._rv))

    def watch_pods(self, node: str, resource_version: str, stop: threading.Event) -> Iterator[tuple[str, Obj]]:
        self._check("watch", "pods")
        events: queue.Queue[tuple[str, Obj] | None] = queue.Queue()
        with self._lock:
            self._watchers.append(events)
        try:
            while not stop.is_set():
                if self.down:
                    raise APIServerError("lost the watch: connection reset")
                try:
                    item = events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if item is None:
                    return
                yield item
        finally:
            with self._lock:
                self._watchers.remove(events)

    def create_pod(self, pod: Obj) -> Obj:
        meta = pod["metadata"]
        self._check("create", f"pod/{meta['name']}")
        with self._lock:
            self._admit_mirror(pod)
            refusal = self.admission(pod)
            if refusal:
                raise _error(403, "Forbidden", f'pods "{meta["name"]}" is forbidden: {refusal}')
            key = (meta["namespace"], meta["name"])
            if key in self.pods:
                raise _error(409, "AlreadyExists", f'pods "{meta["name"]}" already exists')
            created = self._new(pod)
            created["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            self.pods[key] = created
            self._notify("ADDED", created)
            return copy.deepcopy(created)

    def _admit_mirror(self, pod: Obj) -> None:
        """NodeRestriction for pod creation by a node."""
        meta, name = pod["metadata"], pod["metadata"]["name"]
        if CONFIG_MIRROR not in (meta.get("annotations") or {}):
            raise _error(403, "Forbidden", f'pods "{name}" is forbidden: node can only create mirror pods')
        if pod["spec"].get("nodeName") != self.node_name:
            raise _error(403, "Forbidden", f'pods "{name}" is forbidden: node can only create pods bound to itself')
        owners = meta.get("ownerReferences") or []
        node = self.nodes.get(self.node_name)
        if (
            len(owners) != 1
            or owners[0].get("kind") != "Node"
            or owners[0].get("name") != self.node_name
            or not owners[0].get("controller")
            or node is None
            or owners[0].get("uid") != node["metadata"]["uid"]
        ):
            raise _error(403, "Forbidden", f'pods "{name}" is forbidden: node {self.node_name} UID mismatch')

    def delete_pod(self, namespace: str, name: str, *, uid: str | None, grace_seconds: int = 0) -> None:
        self._check("delete", f"pod/{name}")
        with self._lock:
            pod = self.pods.get((namespace, name))
            if pod is None:
                raise _error(404, "NotFound", f'pods "{name}" not found')
            if uid is not None and pod["metadata"]["uid"] != uid:
                raise _error(409, "Conflict", f"Precondition failed: UID in precondition: {uid}")
            if pod["spec"].get("nodeName") != self.node_name:
                raise _error(403, "Forbidden", f"node can only delete pods bound to itself: {name}")
            del self.pods[(namespace, name)]
            self._notify("DELETED", pod)

    def patch_pod_status(self, namespace: str, name: str, patch: Obj) -> Obj:
        self._check("patch", f"pod/{name}/status")
        with self._lock:
            pod = self.pods.get((namespace, name))
            if pod is None:
                raise _error(404, "NotFound", f'pods "{name}" not found')
            want = (patch.get("metadata") or {}).get("uid")
            if want and want != pod["metadata"]["uid"]:
                raise _error(409, "Conflict", "the UID in the precondition does not match")
            pod["status"] = _smp(pod.get("status") or {}, patch["status"])
            self._bump(pod)
            self._notify("MODIFIED", pod)
            return copy.deepcopy(pod)

    def create_event(self, event: Obj) -> Obj:
        meta = event["metadata"]
        self._check("create", f"event/{event['reason']}")
        with self._lock:
            key = (meta["namespace"], meta["name"])
            if key in self.events:
                raise _error(409, "AlreadyExists", "event exists")
            self.events[key] = self._new(event)
            return copy.deepcopy(self.events[key])

    def patch_event(self, namespace: str, name: str, patch: Obj) -> Obj:
        self._check("patch", f"event/{name}")
        with self._lock:
            if (namespace, name) not in self.events:
                raise _error(404, "NotFound", "event not found")
            self.events[(namespace, name)] = _smp(self.events[(namespace, name)], patch)
            return copy.deepcopy(self.events[(namespace, name)])

    def subject_access_review(self, review: Obj) -> Obj:
        self._check("create", "subjectaccessreview")
        return {**review, "status": {"allowed": self.sar(review)}}

    def token_review(self, review: Obj) -> Obj:
        self._check("create", "tokenreview")
        user = self.tokens.get(review["spec"]["token"])
        status = {"authenticated": True, "user": user} if user else {"authenticated": False, "error": "invalid"}
        return {**review, "status": status}

    def close(self) -> None:
        self.end_watches()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
