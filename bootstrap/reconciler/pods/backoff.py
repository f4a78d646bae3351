"""Crash-loop backoff with the kubelet's constants (client-go flowcontrol.Backoff as the kubelet configures it).

Per key (pod, container, container hash): the first restart is immediate and records a 10 s backoff; each
later restart waits until `finishedAt + backoff` and doubles it, up to 300 s. A container that ran more than
600 s after its last restart (finishedAt - last restart > 600 s) starts over: immediate restart, 10 s. The
state is in memory only, like the kubelet's: a restarted reconciler begins from scratch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bootstrap import constants


@dataclass
class _Entry:
    backoff: float
    last_update: float


@dataclass(frozen=True)
class BackoffState:
    """A read-only copy of some Backoff entries: what compute_pod_actions reads, with no clock and no lock."""

    entries: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # key -> (backoff, last update)
    reset_after: float = constants.CRASH_LOOP_BACKOFF_RESET

    def remaining(self, key: str, event_time: float, now: float) -> float:
        """Seconds left in backoff at `now` for a container that finished at `event_time` (0: it may start)."""
        entry = self.entries.get(key)
        if entry is None or event_time - entry[1] > self.reset_after:
            return 0.0
        return max(0.0, entry[0] - (now - event_time))

    def current(self, key: str) -> float:
        entry = self.entries.get(key)
        return entry[0] if entry else 0.0


class Backoff:
    def __init__(
        self,
        initial: float = constants.CRASH_LOOP_BACKOFF_INITIAL,
        maximum: float = constants.CRASH_LOOP_BACKOFF_MAX,
        reset_after: float = constants.CRASH_LOOP_BACKOFF_RESET,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.initial = min(initial, maximum)
        self.maximum = maximum
        self.reset_after = reset_after
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _expired(self, entry: _Entry, event_time: float) -> bool:
        return event_time - entry.last_update > self.reset_after

    def snapshot(self, prefix: str = "") -> BackoffState:
        """The entries whose key starts with `prefix`, frozen (a pod's worker passes its own to the decision)."""
        with self._lock:
            entries = {k: (e.backoff, e.last_update) for k, e in self._entries.items() if k.startswith(prefix)}
        return BackoffState(entries, self.reset_after)

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds left in backoff for a container that finished at `event_time` (0 when it may start)."""
        return self.snapshot(key).remaining(key, event_time, self.clock())

    def remaining_since_update(self, key: str) -> float:
        """Seconds left counted from the last `next` (the image-pull backoff: IsInBackOffSinceUpdate)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._expired(entry, self.clock()):
                return 0.0
            return max(0.0, entry.backoff - (self.clock() - entry.last_update))

    def current(self, key: str) -> float:
        with self._lock:
            entry = self._entries.get(key)
            return entry.backoff if entry else 0.0

    def next(self, key: str, event_time: float) -> None:
        """Record a restart of a container that finished at `event_time`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._expired(entry, event_time):
                entry = _Entry(self.initial, 0.0)
            else:
                entry.backoff = min(entry.backoff * 2, self.maximum)
            entry.last_update = self.clock()
            self._entries[key] = entry

    def forget(self, prefix: str) -> None:
        """Drop every key starting with `prefix` (a pod that is gone)."""
        with self._lock:
            for key in [k for k in self._entries if k.startswith(prefix)]:
                del self._entries[key]


def format_duration(seconds: float) -> str:
    """Go's time.Duration format for whole seconds: 10s, 1m20s, 5m0s."""
    total = round(seconds)
    minutes, secs = divmod(total, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
