"""RuntimeWatch: the reconciler's view of the runtime - Docker events, the periodic relist, orphans, stale status.

Docker is watched, not trusted alone: the event stream wakes the worker of the pod a container belongs to, and
a relist every relist_period (or on reconnect) wakes the workers whose containers changed, catching events lost
while Docker was away. Pods found running with no desired manifest are judged orphans only once every source
was read (the kubelet's rule: judging per source would let a URL pod be killed while its source is unreachable);
each gets an OrphanTerminator that holds its full name until its containers are gone. Garbage collection and
the removal of status files no pod owns also happen here, on the housekeeping thread that /healthz watches.
Everything it knows about pods it asks the PodRegistry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bootstrap.errors import RuntimeUnavailableError
from bootstrap.reconciler import orphans
from bootstrap.reconciler.events import Recorder
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.registry import PodRegistry, Worker
from bootstrap.reconciler.runtime import ContainerRecord, Runtime
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import read_statuses, remove_status

_log = logging.getLogger(LOGGER)


class RuntimeWatch:
    def __init__(
        self,
        settings: Settings,
        runtime: Runtime,
        recorder: Recorder,
        registry: PodRegistry,
        *,
        stop: threading.Event,
        worker_done: Callable[[Worker], None],
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.recorder = recorder
        self.registry = registry
        self.heartbeat = time.monotonic()
        self._stop = stop
        self._worker_done = worker_done
        self._summary: dict[str, tuple[tuple[str, str], ...]] = {}
        self._summary_lock = threading.Lock()  # both threads relist: the event watcher on reconnect
        self._last_relist = 0.0
        self._last_gc = 0.0
        self._stale_status_checked = False

    def healthy(self) -> bool:
        """The housekeeping loop ran recently (the /healthz answer)."""
        return not self._stop.is_set() and time.monotonic() - self.heartbeat < max(
            10.0, 5 * self.settings.housekeeping_period
        )

    def watch_runtime(self) -> None:
        """The event watcher thread: wake the worker of the pod an event is about; reconnect with backoff."""
        delay, down = 1.0, False
        while not self._stop.is_set():
            try:
                for event in self.runtime.watch(self._stop):
                    if down:
                        log(_log, logging.INFO, "Docker is reachable again")
                        down, delay = False, 1.0
                    if event.action == "resync":
                        self.relist(wake_all=True)
                        continue
                    uid = event.labels.get("io.kubernetes.pod.uid", "")
                    log(_log, logging.DEBUG, "Runtime event", action=event.action, container=event.labels.get("name"))
                    worker = self.registry.worker(uid)
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

    def housekeeping(self) -> None:
        """The housekeeping thread: a heartbeat for /healthz, the periodic relist."""
        announced = False
        while not self._stop.wait(self.settings.housekeeping_period):
            self.heartbeat = time.monotonic()
            if not announced and self.registry.synced():
                announced = True
                count = sum(not w.terminating for w in self.registry.workers())
                log(_log, logging.INFO, "All sources read and every pod synced", pods=count)
            try:
                now = time.monotonic()
                if now - self._last_relist >= self.settings.relist_period:
                    self.relist(wake_all=False)
            except RuntimeUnavailableError:
                pass
            except Exception:
                _log.exception("housekeeping failed")

    def relist(self, *, wake_all: bool) -> None:
        self._last_relist = time.monotonic()
        records = self.runtime.list()
        pods = orphans.by_pod(records)
        summary = {uid: tuple(sorted((r.id, r.state) for r in mine)) for uid, mine in pods.items()}
        with self._summary_lock:
            old, self._summary = self._summary, summary
        changed = {uid for uid in set(summary) | set(old) if summary.get(uid) != old.get(uid)}
        for uid, worker in ((w.uid, w) for w in self.registry.workers()):
            if wake_all or uid in changed:
                worker.wake()
        self._judge_orphans(pods)
        if time.monotonic() - self._last_gc >= self.settings.gc_period:
            self._last_gc = time.monotonic()
            live, names = self.registry.live()
            orphans.collect_garbage(
                self.runtime,
                records,
                live_uids=live,
                live_names=names,
                may_touch=lambda _source: self.registry.sources_ready,
            )

    def _judge_orphans(self, pods: dict[str, list[ContainerRecord]]) -> None:
        starters, waiting = self.registry.judge_orphans(
            pods, lambda mine: orphans.OrphanTerminator(self.runtime, self.recorder, mine, self._worker_done)
        )
        for terminator in starters:
            terminator.start()
        for worker in waiting:
            worker.wake()
        if self.registry.sources_ready and not self._stale_status_checked:
            self._stale_status_checked = True
            self._remove_stale_statuses()

    def _remove_stale_statuses(self) -> None:
        owners = self.registry.owners()
        for status in read_statuses(self.settings.state_dir):
            if owners.get(status.full_name) != status.uid:
                remove_status(self.settings.state_dir, status.namespace, status.name, status.uid)
