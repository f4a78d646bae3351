"""The reconciler's events as core/v1 Events, the way the kubelet's event recorder writes them.

An event about a pod names the static pod (kind Pod, its name and namespace, uid = the static pod's UID, i.e. the
config hash, and `spec.containers{<c>}` as fieldPath); `kubectl describe` of a mirror pod looks events up by
the mirror annotation, so they show under the mirror whatever its own UID. Node events (no pod) name the Node
with the node name as UID and live in `default`, as the kubelet's do. Source and reporting component are
`kubelet`, so that describe output and tools that filter on the source read as with a kubelet.

Identical events (same object, type, reason and message) are counted, not repeated: the second one PATCHes
`count` and `lastTimestamp` of the first (the kubelet's EventCorrelator), until the API server has expired it.
"""

from __future__ import annotations

import collections
import itertools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bootstrap.errors import APIServerError
from bootstrap.reconciler.events import Event
from bootstrap.reconciler.logfmt import LOGGER, log

if TYPE_CHECKING:
    from bootstrap.reconciler.apiserver.client import NodeAPI

_log = logging.getLogger(LOGGER)
Obj = dict[str, object]
COMPONENT = "kubelet"
CACHE_SIZE = 4096
MAX_PENDING = 1000  # events kept while the API server is down; the oldest go first
MAX_AGE = timedelta(hours=1)  # the API server's default event TTL: older events are not worth sending
_suffix = itertools.count()


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def involved(event: Event, node_name: str) -> Obj:
    if event.pod.name:
        ref: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "namespace": event.pod.namespace,
            "name": event.pod.name,
            "uid": event.pod.uid,
        }
        if event.field_path:
            ref["fieldPath"] = event.field_path
        return ref
    return {"kind": "Node", "name": node_name, "uid": node_name}


def namespace_of(event: Event) -> str:
    return event.pod.namespace or "default"


def api_event(event: Event, node_name: str) -> Obj:
    """The POST body for one reconciler event."""
    ref = involved(event, node_name)
    stamp = _time(event.timestamp)
    nanos = int(event.timestamp.timestamp() * 1_000_000) * 1000 + next(_suffix) % 1000  # unique per node
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{ref['name']}.{nanos:x}", "namespace": namespace_of(event)},
        "involvedObject": ref,
        "reason": event.reason,
        "message": event.message,
        "type": event.type,
        "source": {"component": COMPONENT, "host": node_name},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "reportingComponent": COMPONENT,
        "reportingInstance": node_name,
    }


def key_of(event: Event) -> tuple[str, ...]:
    return (
        event.pod.namespace,
        event.pod.name,
        event.pod.uid,
        event.field_path or "",
        event.type,
        event.reason,
        event.message,
    )


@dataclass
class Seen:
    namespace: str
    name: str
    count: int


class Correlator:
    """Remembers the last API event of each (object, type, reason, message) to count repeats instead."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._seen: collections.OrderedDict[tuple[str, ...], Seen] = collections.OrderedDict()
        self._size = size

    def previous(self, event: Event) -> Seen | None:
        key = key_of(event)
        seen = self._seen.get(key)
        if seen is not None:
            self._seen.move_to_end(key)
        return seen

    def remember(self, event: Event, namespace: str, name: str, count: int) -> None:
        key = key_of(event)
        self._seen[key] = Seen(namespace, name, count)
        self._seen.move_to_end(key)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def forget(self, event: Event) -> None:
        self._seen.pop(key_of(event), None)


def repeat_patch(event: Event, count: int) -> Obj:
    return {"count": count, "lastTimestamp": _time(event.timestamp)}


def replay_key(event: Event) -> tuple[object, ...]:
    """Identity of one emitted event, to publish an event seen both live and in `Recorder.recent()` once."""
    return (event.timestamp, event.type, event.reason, event.message, event.pod, event.container, event.origin)


class EventSender:
    """Queues events (deduplicated, bounded) and sends them; unreachable-server errors propagate, others drop."""

    def __init__(self, api: NodeAPI, node_name: str) -> None:
        self.api = api
        self.node_name = node_name
        self.pending: collections.deque[Event] = collections.deque(maxlen=MAX_PENDING)
        self.correlator = Correlator()
        self._seen: collections.OrderedDict[tuple[object, ...], None] = collections.OrderedDict()

    def add(self, event: Event) -> None:
        key = replay_key(event)
        if key in self._seen or datetime.now(UTC) - event.timestamp > MAX_AGE:
            return
        self._seen[key] = None
        while len(self._seen) > CACHE_SIZE:
            self._seen.popitem(last=False)
        self.pending.append(event)

    def flush(self) -> None:
        from bootstrap.reconciler.apiserver.client import unreachable

        while self.pending:
            event = self.pending[0]
            try:
                self._send(event)
            except APIServerError as exc:
                if unreachable(exc):
                    raise
                log(_log, logging.DEBUG, "Event not recorded", reason=event.reason, error=exc.message)
            self.pending.popleft()

    def _send(self, event: Event) -> None:
        previous = self.correlator.previous(event)
        if previous is not None:
            try:
                self.api.patch_event(previous.namespace, previous.name, repeat_patch(event, previous.count + 1))
                self.correlator.remember(event, previous.namespace, previous.name, previous.count + 1)
                return
            except APIServerError as exc:
                if exc.status != 404:
                    raise
                self.correlator.forget(event)  # expired on the server: start a new one
        body = api_event(event, self.node_name)
        created = self.api.create_event(body)
        meta = created.get("metadata") or body["metadata"]
        assert isinstance(meta, dict)
        self.correlator.remember(event, str(meta["namespace"]), str(meta["name"]), 1)
