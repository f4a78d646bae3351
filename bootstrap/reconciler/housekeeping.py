"""The Reconciler's view of the runtime: Docker events, the periodic relist, orphans, stale status files.

Mixed into manager.Reconciler (RuntimeWatch lists the state it shares with it). Docker is watched, not trusted
alone: the event stream wakes the worker of the pod a container belongs to, and a relist every relist_period
(or on reconnect) wakes the workers whose containers changed, catching events lost while Docker was away. Pods
found running with no desired manifest are judged orphans only once every source was read; each gets an
OrphanTerminator that holds its full name until its containers are gone. Garbage collection and the removal of
status files no pod owns also happen here, on the housekeeping thread that /healthz watches.
"""

from __future__ import annotations

import logging
import threading
import time

from bootstrap.errors import RuntimeUnavailableError
from bootstrap.reconciler import model, orphans
from bootstrap.reconciler.events import Recorder
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.pods.worker import PodWorker
from bootstrap.reconciler.runtime import ContainerRecord, Runtime
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import read_statuses, remove_status

_log = logging.getLogger(LOGGER)
Worker = PodWorker | orphans.OrphanTerminator


class RuntimeWatch:
    """The runtime half of the Reconciler; the attributes are the Reconciler's, set in its __init__."""

    settings: Settings
    runtime: Runtime
    recorder: Recorder
    _lock: threading.RLock
    _stop: threading.Event
    _workers: dict[str, Worker]
    _order: dict[str, list[str]]
    _owner: dict[str, str]
    _pending_orphans: dict[str, set[str]]
    _summary: dict[str, tuple[tuple[str, str], ...]]
    _heartbeat: float
    _last_relist: float
    _last_gc: float
    _stale_status_checked: bool

    # Provided by the Reconciler (the source-set side).
    @property
    def sources_ready(self) -> bool:
        raise NotImplementedError

    def synced(self) -> bool:
        raise NotImplementedError

    def worker_done(self, worker: Worker) -> None:
        raise NotImplementedError

    def _desired_uid(self, uid: str) -> model.StaticPod | None:
        raise NotImplementedError

    def _note_running(self, records: list[ContainerRecord]) -> None:
        with self._lock:
            for record in records:
                if record.running and record.pod_uid:
                    self._pending_orphans.setdefault(record.full_name, set()).add(record.pod_uid)

    def _watch_runtime(self) -> None:
        delay, down = 1.0, False
        while not self._stop.is_set():
            try:
                for event in self.runtime.watch(self._stop):
                    if down:
                        log(_log, logging.INFO, "Docker is reachable again")
                        down, delay = False, 1.0
                    if event.action == "resync":
                        self._relist(wake_all=True)
                        continue
                    uid = event.labels.get("io.kubernetes.pod.uid", "")
                    log(_log, logging.DEBUG, "Runtime event", action=event.action, container=event.labels.get("name"))
                    with self._lock:
                        worker = self._workers.get(uid)
                    if worker is not None:
                        worker.wake()
            except RuntimeUnavailableError as exc:
                if not down:
                    log(_log, logging.WARNING, "Lost the Docker event stream, reconnecting", error=exc.message)
                down = True
            except Exception:
                _log.exception("runtime watcher failed")
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 20.0)

    def _housekeeping(self) -> None:
        announced = False
        while not self._stop.wait(self.settings.housekeeping_period):
            self._heartbeat = time.monotonic()
            if not announced and self.synced():
                announced = True
                with self._lock:
                    count = sum(isinstance(w, PodWorker) for w in self._workers.values())
                log(_log, logging.INFO, "All sources read and every pod synced", pods=count)
            try:
                now = time.monotonic()
                if now - self._last_relist >= self.settings.relist_period:
                    self._relist(wake_all=False)
            except RuntimeUnavailableError:
                pass
            except Exception:
                _log.exception("housekeeping failed")

    def _relist(self, *, wake_all: bool) -> None:
        self._last_relist = time.monotonic()
        records = self.runtime.list()
        pods = orphans.by_pod(records)
        summary = {uid: tuple(sorted((r.id, r.state) for r in mine)) for uid, mine in pods.items()}
        with self._lock:
            changed = {uid for uid in set(summary) | set(self._summary) if summary.get(uid) != self._summary.get(uid)}
            self._summary = summary
            to_wake = [w for uid, w in self._workers.items() if wake_all or uid in changed]
        for worker in to_wake:
            worker.wake()
        self._judge_orphans(pods)
        if time.monotonic() - self._last_gc >= self.settings.gc_period:
            self._last_gc = time.monotonic()
            with self._lock:
                live = set(self._workers)
                names = {w.full_name for w in self._workers.values()}
            orphans.collect_garbage(
                self.runtime, records, live_uids=live, live_names=names, may_touch=self._source_read
            )

    def _source_read(self, source: str | None) -> bool:
        """Whether containers of a pod from `source` may be judged orphans: only once every source was read.

        (The kubelet's rule, and the issue's. Judging per source would let a file pod's old generation go while
        an unreachable URL source is still unread, but a URL pod could then be killed by mistake.)
        """
        del source
        return self.sources_ready

    def _judge_orphans(self, pods: dict[str, list[ContainerRecord]]) -> None:
        starters: list[orphans.OrphanTerminator] = []
        with self._lock:
            for uid, mine in pods.items():
                if uid in self._workers or self._desired_uid(uid) is not None:
                    continue
                if not self._source_read(orphans.source_of(mine)):
                    continue
                full_name = mine[0].full_name
                self._pending_orphans.get(full_name, set()).discard(uid)
                if any(r.running for r in mine):
                    terminator = orphans.OrphanTerminator(self.runtime, self.recorder, mine, self.worker_done)
                    self._workers[uid] = terminator
                    self._order.setdefault(full_name, []).insert(0, uid)
                    starters.append(terminator)
            if self.sources_ready:
                for full_name in [n for n, uids in self._pending_orphans.items() if not uids]:
                    del self._pending_orphans[full_name]
                waiting = [w for w in self._workers.values() if not w.started]
            else:
                waiting = []
        for terminator in starters:
            terminator.start()
        for worker in waiting:
            worker.wake()
        if self.sources_ready and not self._stale_status_checked:
            self._stale_status_checked = True
            self._remove_stale_statuses()

    def _remove_stale_statuses(self) -> None:
        with self._lock:
            owners = dict(self._owner)
        for status in read_statuses(self.settings.state_dir):
            if owners.get(status.full_name) != status.uid:
                remove_status(self.settings.state_dir, status.namespace, status.name, status.uid)
