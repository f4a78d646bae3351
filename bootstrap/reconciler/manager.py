"""Reconciler: sources in, pod workers out (the kubelet's config mux + pod workers + housekeeping, static pods only).

    r = Reconciler(Settings(node_name="node1", manifest_dir=Path("/etc/kubernetes/manifests")))
    r.start()                 # background threads; returns at once
    r.wait_synced(60)         # every source read once, every pod synced once
    r.statuses()              # in-process PodStatus list (the same data as the status files)
    r.stop()                  # threads stop; containers keep running, a new Reconciler adopts them
    r.run_forever()           # start, /healthz, block until SIGTERM/SIGINT, stop (`kbs reconcile`)

Threads: one per source, one Docker event watcher (wakes a pod's worker when one of its containers dies), one
housekeeping loop (safety relist every 10 s, orphans and garbage collection), one worker per pod UID plus its
probe workers, optionally the /healthz server. Idle, all of them sleep on events or timers.

Diffing a source's SET: a new UID gets a worker; a missing UID is terminated; the same UID with different
content (only possible with a fixed metadata.uid) is updated in place. One pod per full name
(`<name>_<namespace>`) may run at a time: a replacement waits until the old pod - or the orphaned containers
of an older generation found at start-up - has fully stopped. Status files belong to the newest pod of a name.
This module owns the source sets and the worker registry; the runtime side (event watcher, relist, orphans,
garbage collection) is RuntimeWatch in housekeeping.py.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bootstrap import constants
from bootstrap.errors import KbsError, RuntimeUnavailableError
from bootstrap.reconciler import defaulting, model, orphans
from bootstrap.reconciler.events import Listener, Recorder
from bootstrap.reconciler.housekeeping import RuntimeWatch, Worker
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.pods.worker import PodWorker
from bootstrap.reconciler.runtime import Runtime
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.sources import Source
from bootstrap.reconciler.status import PodStatus, read_statuses, remove_status, write_status

if TYPE_CHECKING:
    from bootstrap.reconciler.apiserver.settings import ApiServerSettings

_log = logging.getLogger(LOGGER)


def publisher_files_ready(settings: ApiServerSettings) -> bool:
    """The node's kubeconfig exists and, when the publisher issues its serving certificate, the CA too."""
    if not settings.kubeconfig.is_file():
        return False
    pki = settings.pki
    return pki is None or all((pki.cert_dir / name).is_file() for name in ("ca.crt", "ca.key"))


def detect_node_ip() -> str:
    from bootstrap.config.host import default_route_address

    return default_route_address()[0]


class Reconciler(RuntimeWatch):
    def __init__(
        self, settings: Settings, *, runtime: Runtime | None = None, listeners: Sequence[Listener] = ()
    ) -> None:
        if runtime is None:
            from bootstrap.reconciler.runtime.docker import DockerRuntime

            runtime = DockerRuntime(settings.label_value, settings.docker_host)
        self.settings = settings
        self.runtime = runtime
        self.recorder = Recorder()
        for listener in listeners:
            self.recorder.add_listener(listener)
        self.crash_backoff = Backoff()
        self.image_backoff = Backoff()
        self.node_ip = settings.node_ip or detect_node_ip()
        self.started_at = datetime.now(UTC)
        self._lock = threading.RLock()
        self._desired: dict[str, dict[str, model.StaticPod]] = {}
        self._seen: set[str] = set()
        self._workers: dict[str, Worker] = {}
        self._order: dict[str, list[str]] = {}  # full name -> UIDs in the order they may start
        self._readd: set[str] = set()  # UIDs wanted again while their worker was terminating
        self._owner: dict[str, str] = {}  # full name -> UID whose status the file shows
        self._pending_orphans: dict[str, set[str]] = {}  # full name -> running UIDs found at start, not yet judged
        self._previous: dict[str, PodStatus] = {}
        self._sources: list[Source] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._heartbeat = time.monotonic()
        self._last_relist = 0.0
        self._last_gc = 0.0
        self._summary: dict[str, tuple[tuple[str, str], ...]] = {}
        self._stale_status_checked = False
        self._healthz: object | None = None
        self._publisher: object | None = None  # issue 6 hook: the API-server side (reconciler/apiserver)

    # --- public API -------------------------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self.recorder.add_listener(listener)

    def start(self) -> None:
        """Adopt what runs, start the sources and the background threads; returns at once."""
        self._previous = {s.uid: s for s in read_statuses(self.settings.state_dir)}
        try:
            self.runtime.ping()
            self._note_running(self.runtime.list())
        except RuntimeUnavailableError as exc:
            log(_log, logging.WARNING, "Docker is not reachable yet, will keep trying", error=exc.message)
        self._sources = self._make_sources()
        for name, target in (("runtime-events", self._watch_runtime), ("housekeeping", self._housekeeping)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        for source in self._sources:
            source.start()
        if self.settings.healthz_port:
            from bootstrap.reconciler.daemon import HealthServer

            server = HealthServer(self, self.settings.healthz_bind_address, self.settings.healthz_port)
            server.start()
            self._healthz = server
        if self.settings.apiserver is not None:  # issue 6 hook: node, mirror pods, events, read API
            self._start_publisher(self.settings.apiserver)
        log(
            _log,
            logging.INFO,
            "Reconciler started",
            node=self.settings.node_name,
            manifests=str(self.settings.manifest_dir) if self.settings.manifest_dir else None,
            url=self.settings.manifest_url,
            instance=self.runtime.instance,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every thread; containers keep running (a new reconciler adopts them)."""
        with self._lock:
            self._stop.set()
            publisher = self._publisher
        if publisher is not None:  # issue 6 hook
            publisher.stop()  # type: ignore[attr-defined]
        for source in self._sources:
            source.stop()
        self.runtime.interrupt_watch()
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            if isinstance(worker, PodWorker):
                worker.shutdown()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._healthz is not None:
            self._healthz.stop()  # type: ignore[attr-defined]
        self.runtime.close()
        log(_log, logging.INFO, "Reconciler stopped")

    def _start_publisher(self, settings: ApiServerSettings) -> None:
        """Publish from a background thread once the node's kubeconfig exists and the API server it names accepts
        connections. Before that the publisher could only retry, and its start (imports, the serving certificate's
        key) would compete for the CPU with the static pods' own start: `kbs init` starts the reconciler before
        its certs and kubeconfig phases, so the pods are running long before the API server listens."""
        thread = threading.Thread(target=self._publish_when_ready, args=(settings,), name="apiserver-wait", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _publish_when_ready(self, settings: ApiServerSettings) -> None:
        from bootstrap.reconciler.apiserver.client import server_accepts

        said = False
        while not self._stop.is_set():
            if publisher_files_ready(settings) and server_accepts(settings.kubeconfig):
                self._make_publisher(settings)
                return
            if not said:
                log(
                    _log,
                    logging.INFO,
                    "Waiting for kubelet.conf and its API server to publish",
                    kubeconfig=str(settings.kubeconfig),
                )
                said = True
            self._stop.wait(constants.PUBLISHER_FILE_POLL)

    def _make_publisher(self, settings: ApiServerSettings) -> None:
        from bootstrap.reconciler.apiserver import Publisher

        publisher = Publisher(self, settings)  # slow (imports, serving certificate): not under the lock
        publisher.start()
        with self._lock:
            stopped = self._stop.is_set()
            if not stopped:
                self._publisher = publisher
        if stopped:
            publisher.stop()

    def run_forever(self) -> None:
        """`kbs reconcile`: start, then block until SIGTERM or SIGINT, then stop."""
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.start()
        while not stop.wait(3600):
            pass
        self.stop()

    @property
    def sources_ready(self) -> bool:
        return set(self.settings.sources) <= self._seen

    def synced(self) -> bool:
        """Every source was read once, start-up orphans were judged, every pod worker synced once."""
        with self._lock:
            workers = list(self._workers.values())
            ready = self.sources_ready and not any(self._pending_orphans.values())
        return ready and all(w.synced.is_set() for w in workers)

    def wait_synced(self, timeout: float | None = None) -> bool:
        """True once `synced()`; False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.synced():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def statuses(self) -> list[PodStatus]:
        with self._lock:
            workers = [w for w in self._workers.values() if isinstance(w, PodWorker)]
        out = [w.last_status for w in workers if w.last_status is not None and self._owner.get(w.full_name) == w.uid]
        return sorted(out, key=lambda s: (s.namespace, s.name))

    def healthy(self) -> bool:
        """The /healthz answer: the housekeeping loop ran recently."""
        return not self._stop.is_set() and time.monotonic() - self._heartbeat < max(
            10.0, 5 * self.settings.housekeeping_period
        )

    # --- sources ----------------------------------------------------------------------------------------------
    def _make_sources(self) -> list[Source]:
        sources: list[Source] = []
        settings = self.settings
        if settings.manifest_dir is not None:
            from bootstrap.reconciler.sources.file import FileSource

            sources.append(
                FileSource(
                    settings.manifest_dir,
                    node_name=settings.node_name,
                    period=settings.file_check_frequency,
                    on_set=self.on_set,
                    recorder=self.recorder,
                )
            )
        if settings.manifest_url:
            from bootstrap.reconciler.sources.url import URLSource

            sources.append(
                URLSource(
                    settings.manifest_url,
                    headers=settings.manifest_url_headers,
                    node_name=settings.node_name,
                    period=settings.http_check_frequency,
                    on_set=self.on_set,
                    recorder=self.recorder,
                )
            )
        return sources

    def on_set(self, source: str, pods: list[model.StaticPod]) -> None:
        """A source's complete desired set (sources call this; tests may too)."""
        with self._lock:
            if self._stop.is_set():
                return
            self._seen.add(source)
            old = self._desired.get(source, {})
            claimed = {p.full_name: s for s, desired in self._desired.items() if s != source for p in desired.values()}
            new: dict[str, model.StaticPod] = {}
            for pod in pods:
                if pod.full_name in claimed:
                    self.recorder.event(
                        "Warning",
                        "FailedValidation",
                        f"Error validating pod {pod.full_name} from {source} due to duplicate pod name {pod.name!r} "
                        f"(already provided by {claimed[pod.full_name]}), ignoring",
                        origin=pod.origin,
                    )
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

    def _desired_uid(self, uid: str) -> model.StaticPod | None:
        for desired in self._desired.values():
            if uid in desired:
                return desired[uid]
        return None

    # --- worker registry (called with the lock held unless noted) --------------------------------------------
    def _add(self, pod: model.StaticPod) -> None:
        self._pending_orphans.get(pod.full_name, set()).discard(pod.uid)
        existing = self._workers.get(pod.uid)
        if existing is not None:
            if existing.terminating:
                self._readd.add(pod.uid)
            return
        log(_log, logging.INFO, "Pod added", pod=pod.describe(), uid=pod.uid, source=pod.source, origin=pod.origin)
        worker = PodWorker(self, pod)
        self._workers[pod.uid] = worker
        self._order.setdefault(pod.full_name, []).append(pod.uid)
        self._owner[pod.full_name] = pod.uid
        worker.start()

    def _remove(self, pod: model.StaticPod) -> None:
        self._readd.discard(pod.uid)
        worker = self._workers.get(pod.uid)
        if isinstance(worker, PodWorker) and not worker.terminating:
            log(_log, logging.INFO, "Pod removed, stopping it", pod=pod.describe(), uid=pod.uid)
            worker.terminate()

    def _update(self, pod: model.StaticPod) -> None:
        worker = self._workers.get(pod.uid)
        if isinstance(worker, PodWorker):
            log(_log, logging.INFO, "Pod updated in place (fixed metadata.uid)", pod=pod.describe(), uid=pod.uid)
            worker.update(pod)

    def may_start(self, worker: PodWorker) -> bool:
        """A pod starts only when it is the oldest of its full name and no older generation may still run."""
        with self._lock:
            order = self._order.get(worker.full_name, [])
            if order and order[0] != worker.uid:
                return False
            return not (self._pending_orphans.get(worker.full_name, set()) - {worker.uid})

    def worker_done(self, worker: PodWorker | orphans.OrphanTerminator) -> None:
        """A worker finished terminating (called from its thread)."""
        with self._lock:
            if self._workers.get(worker.uid) is worker:
                del self._workers[worker.uid]
            order = self._order.get(worker.full_name, [])
            if worker.uid in order:
                order.remove(worker.uid)
            if not order:
                self._order.pop(worker.full_name, None)
            last = worker.last_status if isinstance(worker, PodWorker) else None
            if self._owner.get(worker.full_name) == worker.uid:
                del self._owner[worker.full_name]
                if last is not None:
                    remove_status(self.settings.state_dir, last.namespace, last.name, worker.uid)
            again = self._desired_uid(worker.uid) if worker.uid in self._readd else None
            self._readd.discard(worker.uid)
            if again is not None:
                self._add(again)
            following = [self._workers[u] for u in self._order.get(worker.full_name, []) if u in self._workers]
        if last is not None:
            self.recorder.removed(last)
        for other in following:
            other.wake()

    def publish_status(self, status: PodStatus) -> None:
        with self._lock:
            owner = self._owner.get(status.full_name)
        if owner in (None, status.uid):
            try:
                write_status(self.settings.state_dir, status)
            except KbsError as exc:
                log(
                    _log,
                    logging.WARNING,
                    "Cannot write pod status",
                    pod=f"{status.namespace}/{status.name}",
                    error=exc.message,
                )
        self.recorder.status(status)

    def previous_status(self, uid: str) -> PodStatus | None:
        return self._previous.get(uid)

    @staticmethod
    def jitter(seconds: float) -> float:
        return seconds * random.uniform(1, 1.5)
