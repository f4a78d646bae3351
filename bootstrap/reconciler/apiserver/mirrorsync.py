"""Keeping the mirror pods in line with the static pods: create, recreate, delete, and their status.

`MirrorSync` owns what the API server told us about the pods bound to this node (a list, then a watch) and acts
per full name with mirror.plan(): create a missing mirror; when it was deleted through the API server (it has a
deletionTimestamp) or its hash is stale, delete it with grace 0 and a UID precondition and create it again at
once; delete a mirror whose static pod is gone (only once the reconciler has read all its sources, so a restart
never drops mirrors). Statuses go out as strategic-merge patches of `pods/<name>/status`, only when they differ
from what was last sent to that mirror UID. Rejections (admission, a non-mirror pod holding the name) are
logged, recorded as a Warning event and retried every minute; the pod keeps running on the node.

Pods bound to this node that are not mirrors are not run here (static pods only): each gets one Warning event,
and when one is deleted its deletion is completed (grace 0), as a kubelet does once the containers are gone.

Called from the publisher's thread only. Unreachable-server errors propagate (the publisher waits and retries).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bootstrap import constants
from bootstrap.errors import APIServerError
from bootstrap.reconciler.apiserver import mirror
from bootstrap.reconciler.apiserver.client import NodeAPI, unreachable
from bootstrap.reconciler.apiserver.desired import DesiredPods
from bootstrap.reconciler.events import Event, PodRef
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.status import PodStatus

_log = logging.getLogger(LOGGER)
Obj = dict[str, Any]
GONE_MEMORY = 1024
STATUS_RETRY = 1.0  # seconds: a status patch refused right after create (the authorizer's graph lags) is retried
REJECTED_REASON = "MirrorPodRejected"
FOREIGN_REASON = "StaticPodsOnly"


@dataclass(frozen=True)
class Rejection:
    hash: str
    message: str
    at: float


class MirrorSync:
    def __init__(
        self,
        api: NodeAPI,
        node_name: str,
        desired: DesiredPods,
        emit: Callable[[Event], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.desired = desired
        self._emit = emit
        self._clock = clock
        self.node_uid: str | None = None
        self.listed = False  # a full list arrived since the last (re)connect: `pods` is complete
        self.pods: dict[str, Obj] = {}  # full name -> pod bound to this node (mirror or not)
        self._gone: collections.deque[str] = collections.deque(maxlen=GONE_MEMORY)  # mirror UIDs we deleted
        self._sent: dict[str, Obj] = {}  # mirror UID -> last status patch
        self._retry: dict[str, float] = {}  # full name -> when to look at it again
        self._dirty: set[str] = set()
        self.rejections: dict[str, Rejection] = {}
        self._warned: set[str] = set()  # UIDs of foreign pods already reported

    # --- what the API server says ---------------------------------------------------------------------------
    def snapshot(self, pods: list[Obj]) -> None:
        self.pods = {mirror.full_name(p): p for p in pods}
        self._sent.clear()  # re-send every status once: the server may have lost or changed them
        self.listed = True
        self._dirty |= set(self.pods) | self.desired.names()

    def observe(self, kind: str, pod: Obj) -> None:
        name, uid = mirror.full_name(pod), mirror.uid_of(pod)
        current = self.pods.get(name)
        if kind == "DELETED":
            if current is not None and mirror.uid_of(current) == uid:
                del self.pods[name]
            self._sent.pop(uid, None)
        elif uid not in self._gone:
            self.pods[name] = pod
        self._dirty.add(name)

    def touch(self, full_name: str) -> None:
        self._dirty.add(full_name)

    def touch_all(self) -> None:
        self._dirty |= set(self.pods) | self.desired.names()

    def next_retry(self) -> float | None:
        return min(self._retry.values(), default=None)

    # --- acting ---------------------------------------------------------------------------------------------
    def sync(self, *, may_delete_orphans: bool) -> None:
        """Work through the names that changed (and retries that are due)."""
        if not self.listed:
            return
        now = self._clock()
        due = {n for n, at in self._retry.items() if at <= now}
        for name in due:
            del self._retry[name]
        todo, self._dirty = self._dirty | due, set()
        try:
            for name in sorted(todo):
                self._sync_one(name, may_delete_orphans=may_delete_orphans)
                todo.discard(name)
        finally:
            self._dirty |= todo  # unreachable mid-way: the rest stays to do

    def _sync_one(self, name: str, *, may_delete_orphans: bool) -> None:
        status = self.desired.get(name)
        pod = self.pods.get(name)
        if pod is not None and mirror.mirror_hash(pod) is None and status is None:
            self._foreign(pod)
            return
        step = mirror.plan(status, pod, may_delete_orphans=may_delete_orphans)
        if step.action == "conflict" and status is not None:
            self._reject(status, step.reason)
            return
        if step.action in ("recreate", "delete") and pod is not None:
            if not self._delete(pod, step.reason):
                return
            pod = None
        if step.action in ("create", "recreate") and status is not None:
            pod = self._create(status)
        if pod is not None and status is not None and not mirror.deleting(pod):
            self._send_status(name, status, pod)

    def _delete(self, pod: Obj, why: str) -> bool:
        meta = pod["metadata"]
        uid = mirror.uid_of(pod)
        try:
            self.api.delete_pod(meta["namespace"], meta["name"], uid=uid, grace_seconds=0)
        except APIServerError as exc:
            if unreachable(exc):
                raise
            if exc.status not in (404, 409):  # gone already, or already another pod: either way not ours to delete
                log(_log, logging.WARNING, "Cannot delete mirror pod", pod=_where(pod), error=exc.message)
                self._retry[mirror.full_name(pod)] = self._clock() + constants.MIRROR_RETRY_PERIOD
                return False
        self._gone.append(uid)
        self._sent.pop(uid, None)
        if self.pods.get(mirror.full_name(pod)) is pod:
            del self.pods[mirror.full_name(pod)]
        log(_log, logging.INFO, "Deleted mirror pod", pod=_where(pod), reason=why)
        return True

    def _create(self, status: PodStatus) -> Obj | None:
        if self.node_uid is None:
            return None  # the Node is not registered yet; the publisher touches every name once it is
        rejected = self.rejections.get(status.full_name)
        if rejected is not None and rejected.hash == status.hash and not self._retry_due(rejected):
            return None
        try:
            created = self.api.create_pod(mirror.mirror_body(status, self.node_name, self.node_uid))
        except APIServerError as exc:
            if unreachable(exc):
                raise
            if exc.reason == "AlreadyExists":
                return None  # the watch brings it; then it is judged like any other
            self._reject(status, exc.message)
            return None
        self.rejections.pop(status.full_name, None)
        self.pods[status.full_name] = created
        log(
            _log,
            logging.INFO,
            "Created mirror pod",
            pod=f"{status.namespace}/{status.name}",
            uid=mirror.uid_of(created),
        )
        return created

    def _retry_due(self, rejected: Rejection) -> bool:
        return self._clock() - rejected.at >= constants.MIRROR_RETRY_PERIOD

    def _send_status(self, name: str, status: PodStatus, pod: Obj) -> None:
        uid = mirror.uid_of(pod)
        patch = mirror.status_patch(status, uid)
        if self._sent.get(uid) == patch:
            return
        meta = pod["metadata"]
        try:
            self.api.patch_pod_status(meta["namespace"], meta["name"], patch)
        except APIServerError as exc:
            if unreachable(exc):
                raise
            if exc.status == 403:  # the Node authorizer learns of a new mirror a moment after it is created
                self._retry[name] = self._clock() + STATUS_RETRY
            elif exc.status not in (404, 409):  # 404/409: that mirror is gone, the watch says what replaced it
                log(_log, logging.WARNING, "Cannot update mirror pod status", pod=_where(pod), error=exc.message)
                self._retry[name] = self._clock() + constants.MIRROR_RETRY_PERIOD
            return
        self._sent[uid] = patch

    def _reject(self, status: PodStatus, message: str) -> None:
        previous = self.rejections.get(status.full_name)
        self.rejections[status.full_name] = Rejection(status.hash, message, self._clock())
        self._retry[status.full_name] = self._clock() + constants.MIRROR_RETRY_PERIOD
        if previous is not None and (previous.hash, previous.message) == (status.hash, message):
            return
        log(
            _log,
            logging.WARNING,
            "The API server rejected the mirror pod; the static pod keeps running on this node",
            pod=f"{status.namespace}/{status.name}",
            error=message,
        )
        self._emit(
            Event(
                "Warning",
                REJECTED_REASON,
                f"Mirror pod not created, the static pod keeps running on this node: {message}",
                PodRef(status.name, status.namespace, status.uid),
            )
        )

    def _foreign(self, pod: Obj) -> None:
        uid = mirror.uid_of(pod)
        if mirror.deleting(pod):
            try:
                self.api.delete_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], uid=uid, grace_seconds=0)
            except APIServerError as exc:
                if unreachable(exc):
                    raise
            return
        if uid in self._warned:
            return
        self._warned.add(uid)
        meta = pod["metadata"]
        log(_log, logging.WARNING, "A pod from the API server is bound to this node; it will not run", pod=_where(pod))
        self._emit(
            Event(
                "Warning",
                FOREIGN_REASON,
                "This node runs static pods only (kbs reconciler): pods from the API server are not run here",
                PodRef(meta["name"], meta["namespace"], uid),
            )
        )


def _where(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
