"""PodRegistry: the desired pods of every source and the worker of every pod UID, under one lock.

    registry = PodRegistry(required_sources={"file"}, make_worker=lambda pod: PodWorker(host, pod))
    registry.set_source("file", pods, duplicate=warn)   # a source's complete set: add / update / remove
    registry.may_start(worker)                            # the one-pod-per-full-name rule
    registry.worker_done(worker, drop_status)             # a worker finished; the next of its name may start

The kubelet's rule for static pods, as methods: one pod per full name (`<name>_<namespace>`) runs at a time. A
new UID gets a worker; a missing UID's worker terminates; the same UID with new content (a fixed metadata.uid)
is updated in place. A replacement waits until the old pod - or the orphaned containers of an older generation
found running at start-up - has fully stopped (`order` lists the UIDs of a name in the order they may start).
Status files belong to the newest pod of a name (`owner`). Nothing here touches the runtime or sleeps; workers
are made by the factory given and started outside the lock where possible.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from bootstrap.reconciler import defaulting, model
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.runtime import ContainerRecord
from bootstrap.reconciler.status import PodStatus


class Worker(Protocol):
    """What the registry and the reconciler need from a pod's worker: a PodWorker or an OrphanTerminator."""

    @property
    def uid(self) -> str: ...

    @property
    def full_name(self) -> str: ...

    @property
    def synced(self) -> threading.Event: ...

    @property
    def terminating(self) -> bool: ...

    @property
    def started(self) -> bool: ...

    @property
    def last_status(self) -> PodStatus | None: ...

    def start(self) -> None: ...

    def wake(self) -> None: ...

    def update(self, pod: model.StaticPod) -> None: ...

    def terminate(self) -> None: ...

    def shutdown(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


_log = logging.getLogger(LOGGER)

DuplicateHandler = Callable[[model.StaticPod, str, str], None]  # (pod, its source, the source that has the name)


class PodRegistry:
    def __init__(self, required_sources: Iterable[str], make_worker: Callable[[model.StaticPod], Worker]) -> None:
        self._lock = threading.RLock()
        self._required = frozenset(required_sources)
        self._make_worker = make_worker
        self._closed = False
        self._desired: dict[str, dict[str, model.StaticPod]] = {}  # source -> UID -> pod
        self._seen: set[str] = set()  # sources that sent a set
        self._workers: dict[str, Worker] = {}  # UID -> worker (pod workers and orphan terminators)
        self._order: dict[str, list[str]] = {}  # full name -> UIDs in the order they may start
        self._readd: set[str] = set()  # UIDs wanted again while their worker was terminating
        self._owner: dict[str, str] = {}  # full name -> UID whose status the file shows
        self._pending_orphans: dict[str, set[str]] = {}  # full name -> running UIDs found at start, not yet judged

    # --- life ------------------------------------------------------------------------------------------------
    def close(self) -> list[Worker]:
        """No more sets are taken; the workers, to shut down."""
        with self._lock:
            self._closed = True
            return list(self._workers.values())

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    # --- sources --------------------------------------------------------------------------------------------
    @property
    def sources_ready(self) -> bool:
        with self._lock:
            return self._required <= self._seen

    def set_source(self, source: str, pods: Sequence[model.StaticPod], duplicate: DuplicateHandler) -> None:
        """A source's complete desired set: new UIDs get a worker, missing ones terminate, changed ones update."""
        with self._lock:
            if self._closed:
                return
            self._seen.add(source)
            old = self._desired.get(source, {})
            claimed = {p.full_name: s for s, desired in self._desired.items() if s != source for p in desired.values()}
            new: dict[str, model.StaticPod] = {}
            for pod in pods:
                if pod.full_name in claimed:
                    duplicate(pod, source, claimed[pod.full_name])
                    continue
                previous = old.get(pod.uid)
                if previous is not None and defaulting.semantically_equal(previous, pod):
                    new[pod.uid] = previous
                    continue
                if previous is not None:
                    pod.annotations.setdefault(
                        defaulting.CONFIG_SEEN, previous.annotations.get(defaulting.CONFIG_SEEN, "")
                    )
                    new[pod.uid] = pod
                    self._update(pod)
                    continue
                pod.annotations.setdefault(defaulting.CONFIG_SEEN, defaulting.seen_timestamp())
                new[pod.uid] = pod
            self._desired[source] = new
            for uid, pod in old.items():
                if uid not in new:
                    self._remove(pod)
            for uid, pod in new.items():
                if uid not in old:
                    self._add(pod)

    def desired(self, uid: str) -> model.StaticPod | None:
        with self._lock:
            for desired in self._desired.values():
                if uid in desired:
                    return desired[uid]
            return None

    # --- workers (the lock is held) -------------------------------------------------------------------------
    def _add(self, pod: model.StaticPod) -> None:
        self._pending_orphans.get(pod.full_name, set()).discard(pod.uid)
        existing = self._workers.get(pod.uid)
        if existing is not None:
            if existing.terminating:
                self._readd.add(pod.uid)
            return
        log(_log, logging.INFO, "Pod added", pod=pod.describe(), uid=pod.uid, source=pod.source, origin=pod.origin)
        worker = self._make_worker(pod)
        self._workers[pod.uid] = worker
        self._order.setdefault(pod.full_name, []).append(pod.uid)
        self._owner[pod.full_name] = pod.uid
        worker.start()

    def _remove(self, pod: model.StaticPod) -> None:
        self._readd.discard(pod.uid)
        worker = self._workers.get(pod.uid)
        if worker is not None and not worker.terminating:
            log(_log, logging.INFO, "Pod removed, stopping it", pod=pod.describe(), uid=pod.uid)
            worker.terminate()

    def _update(self, pod: model.StaticPod) -> None:
        worker = self._workers.get(pod.uid)
        if worker is not None:
            log(_log, logging.INFO, "Pod updated in place (fixed metadata.uid)", pod=pod.describe(), uid=pod.uid)
            worker.update(pod)

    # --- the one-pod-per-full-name rule ---------------------------------------------------------------------
    def may_start(self, worker: Worker) -> bool:
        """A pod starts only when it is the oldest of its full name and no older generation may still run."""
        with self._lock:
            order = self._order.get(worker.full_name, [])
            if order and order[0] != worker.uid:
                return False
            return not (self._pending_orphans.get(worker.full_name, set()) - {worker.uid})

    def worker_done(self, worker: Worker, drop_status: Callable[[PodStatus], None]) -> list[Worker]:
        """`worker` finished terminating; `drop_status` runs (under the lock) when it owned its name's status.
        Returns the workers of the same full name, to wake."""
        with self._lock:
            if self._workers.get(worker.uid) is worker:
                del self._workers[worker.uid]
            order = self._order.get(worker.full_name, [])
            if worker.uid in order:
                order.remove(worker.uid)
            if not order:
                self._order.pop(worker.full_name, None)
            if self._owner.get(worker.full_name) == worker.uid:
                del self._owner[worker.full_name]
                if worker.last_status is not None:
                    drop_status(worker.last_status)
            again = self.desired(worker.uid) if worker.uid in self._readd else None
            self._readd.discard(worker.uid)
            if again is not None:
                self._add(again)
            return [self._workers[u] for u in self._order.get(worker.full_name, []) if u in self._workers]

    def owns_status(self, status: PodStatus) -> bool:
        """Whether `status` is the one its name's status file shows (the newest pod of the name, or no pod)."""
        with self._lock:
            return self._owner.get(status.full_name) in (None, status.uid)

    def owners(self) -> dict[str, str]:
        with self._lock:
            return dict(self._owner)

    # --- orphans --------------------------------------------------------------------------------------------
    def note_running(self, records: Iterable[ContainerRecord]) -> None:
        """Containers found running at start-up: their full names wait until they are judged."""
        with self._lock:
            for record in records:
                if record.running and record.pod_uid:
                    self._pending_orphans.setdefault(record.full_name, set()).add(record.pod_uid)

    def judge_orphans(
        self,
        pods: dict[str, list[ContainerRecord]],
        make_terminator: Callable[[list[ContainerRecord]], Worker],
    ) -> tuple[list[Worker], list[Worker]]:
        """Once every source was read: a terminator for each running pod no source wants, ahead of its name's
        queue. Returns (terminators to start, workers that were waiting and may start now)."""
        starters: list[Worker] = []
        with self._lock:
            if not self.sources_ready:
                return [], []
            for uid, mine in pods.items():
                if uid in self._workers or self.desired(uid) is not None:
                    continue
                full_name = mine[0].full_name
                self._pending_orphans.get(full_name, set()).discard(uid)
                if any(r.running for r in mine):
                    terminator = make_terminator(mine)
                    self._workers[uid] = terminator
                    self._order.setdefault(full_name, []).insert(0, uid)
                    starters.append(terminator)
            for full_name in [n for n, uids in self._pending_orphans.items() if not uids]:
                del self._pending_orphans[full_name]
            waiting = [w for w in self._workers.values() if not w.started]
        return starters, waiting

    # --- reading --------------------------------------------------------------------------------------------
    def worker(self, uid: str) -> Worker | None:
        with self._lock:
            return self._workers.get(uid)

    def workers(self) -> list[Worker]:
        with self._lock:
            return list(self._workers.values())

    def live(self) -> tuple[set[str], set[str]]:
        """The UIDs and full names that have a worker (garbage collection leaves their containers alone)."""
        with self._lock:
            return set(self._workers), {w.full_name for w in self._workers.values()}

    def synced(self) -> bool:
        """Every source was read once, start-up orphans were judged, every worker synced once."""
        with self._lock:
            workers = list(self._workers.values())
            ready = self.sources_ready and not any(self._pending_orphans.values())
        return ready and all(w.synced.is_set() for w in workers)

    def statuses(self) -> list[PodStatus]:
        """The status of the newest pod of each full name, sorted by namespace and name."""
        with self._lock:
            out = [
                w.last_status
                for w in self._workers.values()
                if w.last_status is not None and self._owner.get(w.full_name) == w.uid
            ]
        return sorted(out, key=lambda s: (s.namespace, s.name))
