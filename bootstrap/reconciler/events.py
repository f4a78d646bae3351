"""Events and the listener seam: how the reconciler tells the rest of kbs what happens to static pods.

Everything noteworthy becomes an `Event` with the kubelet's reason (Pulling, Pulled, Created, Started, Killing,
BackOff, Unhealthy, Failed, FailedValidation, ...). The `Recorder` logs each one as a structured line, keeps the
last few hundred in memory, and hands it to every registered `Listener`. A listener also gets each pod status
change and the removal of a pod. The API-server publisher (mirror pods, node status, events, `kubectl logs`)
is such a listener: it must return quickly (queue and publish on its own thread) and may be added at any time;
`Recorder.recent()` replays what it missed, e.g. a FailedValidation emitted before the API server was reachable.

Listener exceptions are logged and swallowed: a broken publisher never stops a pod.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from bootstrap.reconciler.logfmt import LOGGER, log

if TYPE_CHECKING:
    from bootstrap.reconciler.status import PodStatus

_log = logging.getLogger(LOGGER)
RECENT_EVENTS = 500


@dataclass(frozen=True)
class PodRef:
    """What an event is about: a pod (name, namespace, uid), or, with empty fields, the node itself."""

    name: str = ""
    namespace: str = ""
    uid: str = ""

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}" if self.name else ""


@dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    pod: PodRef = field(default_factory=PodRef)
    container: str | None = None  # involvedObject.fieldPath spec.containers{<name>}
    origin: str | None = None  # the manifest file or URL, for source events
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def field_path(self) -> str | None:
        return f"spec.containers{{{self.container}}}" if self.container else None


class Listener(Protocol):
    """Implemented by whoever publishes what the reconciler does (the API-server side). Must not block."""

    def on_event(self, event: Event) -> None: ...

    def on_pod_status(self, status: PodStatus) -> None:
        """A pod's status changed (also its first status, and `terminating=True` once it is being stopped)."""

    def on_pod_removed(self, status: PodStatus) -> None:
        """The pod has stopped and its containers are gone (its last status is passed)."""


class Recorder:
    """Fans events and statuses out to the log, a bounded in-memory history and the listeners."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._recent: collections.deque[Event] = collections.deque(maxlen=RECENT_EVENTS)
        self._lock = threading.Lock()

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [x for x in self._listeners if x is not listener]

    def recent(self) -> list[Event]:
        with self._lock:
            return list(self._recent)

    def event(
        self,
        type_: Literal["Normal", "Warning"],
        reason: str,
        message: str,
        *,
        pod: PodRef | None = None,
        container: str | None = None,
        origin: str | None = None,
    ) -> Event:
        event = Event(type_, reason, message, pod or PodRef(), container, origin)
        level = logging.WARNING if type_ == "Warning" else logging.INFO
        log(
            _log,
            level,
            message,
            reason=reason,
            pod=event.pod.describe() or None,
            container=container,
            origin=origin,
        )
        with self._lock:
            self._recent.append(event)
            listeners = list(self._listeners)
        for listener in listeners:
            self._call(listener.on_event, event)
        return event

    def status(self, status: PodStatus) -> None:
        for listener in self._snapshot():
            self._call(listener.on_pod_status, status)

    def removed(self, status: PodStatus) -> None:
        for listener in self._snapshot():
            self._call(listener.on_pod_removed, status)

    def _snapshot(self) -> list[Listener]:
        with self._lock:
            return list(self._listeners)

    @staticmethod
    def _call(method: object, arg: object) -> None:
        try:
            method(arg)  # type: ignore[operator]
        except Exception:
            _log.exception("a reconciler listener failed", extra={"kbs": {"listener": repr(method)}})
