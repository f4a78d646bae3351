"""Which static pod each mirror should show: the publisher's view of the reconciler's pods, by full name.

Statuses arrive per pod UID; while a manifest changes, two UIDs share a full name (the old pod stopping, the new
one waiting for it). The mirror follows the newest pod that is not terminating; a pod that reported
`terminating` never becomes the owner again (a late status from its worker is ignored), and when the owner goes,
the newest remaining pod takes over. Thread-safe: the read API looks pods up from its own threads.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

from bootstrap.reconciler.status import PodStatus

_arrival = itertools.count()


@dataclass
class _Name:
    statuses: dict[str, tuple[int, PodStatus]] = field(default_factory=dict)  # uid -> (arrival, status)
    terminating: set[str] = field(default_factory=set)
    owner: str | None = None

    def elect(self) -> None:
        live = [(seq, uid) for uid, (seq, _) in self.statuses.items() if uid not in self.terminating]
        anyone = [(seq, uid) for uid, (seq, _) in self.statuses.items()]
        pool = live or anyone
        self.owner = max(pool)[1] if pool else None


class DesiredPods:
    def __init__(self) -> None:
        self._names: dict[str, _Name] = {}
        self._lock = threading.Lock()

    def update(self, status: PodStatus) -> None:
        with self._lock:
            entry = self._names.setdefault(status.full_name, _Name())
            entry.statuses[status.uid] = (next(_arrival), status)
            if status.terminating:
                entry.terminating.add(status.uid)
            if status.uid not in entry.terminating:
                entry.owner = status.uid
            elif entry.owner in (None, status.uid):
                entry.elect()

    def remove(self, status: PodStatus) -> None:
        with self._lock:
            entry = self._names.get(status.full_name)
            if entry is None:
                return
            entry.statuses.pop(status.uid, None)
            entry.terminating.discard(status.uid)
            if not entry.statuses:
                del self._names[status.full_name]
            elif entry.owner == status.uid:
                entry.elect()

    def get(self, full_name: str) -> PodStatus | None:
        with self._lock:
            entry = self._names.get(full_name)
            if entry is None or entry.owner is None:
                return None
            return entry.statuses[entry.owner][1]

    def lookup(self, namespace: str, name: str) -> PodStatus | None:
        return self.get(f"{name}_{namespace}")

    def names(self) -> set[str]:
        with self._lock:
            return set(self._names)

    def all(self) -> list[PodStatus]:
        with self._lock:
            names = list(self._names)
        found = (self.get(n) for n in names)
        return sorted((s for s in found if s is not None), key=lambda s: (s.namespace, s.name))
