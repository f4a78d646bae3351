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

Composition, one job each: sources (sources/) send complete sets to the PodRegistry (registry.py: desired pods,
workers, the one-pod-per-full-name rule); it makes a PodWorker per UID (pods/worker.py), which executes what
pods/actions.compute_pod_actions decides against the Runtime; RuntimeWatch (housekeeping.py) wakes workers on
Docker events and relists, judges orphans, collects garbage; statuses go to files and to the Publisher
(apiserver/). This module wires them, and is the Host the workers call back.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bootstrap import constants
from bootstrap.errors import KbsError, RuntimeUnavailableError
from bootstrap.reconciler import model
from bootstrap.reconciler.events import Listener, Recorder
from bootstrap.reconciler.housekeeping import RuntimeWatch
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.pods.worker import PodWorker
from bootstrap.reconciler.registry import PodRegistry, Worker
from bootstrap.reconciler.runtime import Runtime
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.sources import Source
from bootstrap.reconciler.status import PodStatus, read_statuses, remove_status, write_status

if TYPE_CHECKING:
    from bootstrap.reconciler.apiserver import Publisher
    from bootstrap.reconciler.apiserver.settings import ApiServerSettings
    from bootstrap.reconciler.daemon import HealthServer

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


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        *,
        runtime: Runtime | None = None,
        listeners: Sequence[Listener] = (),
        sources: Callable[[Reconciler], list[Source]] | None = None,
    ) -> None:
        """`sources` makes the config sources (default: the file and URL sources the settings name); tests pass
        `lambda r: []` and feed sets through on_set."""
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
        self.registry = PodRegistry(settings.sources, lambda pod: PodWorker(self, pod))
        self._stop = threading.Event()
        self.watch = RuntimeWatch(
            settings, runtime, self.recorder, self.registry, stop=self._stop, worker_done=self.worker_done
        )
        self._make_sources = sources or default_sources
        self._previous: dict[str, PodStatus] = {}
        self._sources: list[Source] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()  # the publisher hand-over
        self._healthz: HealthServer | None = None
        self._publisher: Publisher | None = None

    # --- public API -------------------------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self.recorder.add_listener(listener)

    def start(self) -> None:
        """Adopt what runs, start the sources and the background threads; returns at once."""
        self._previous = {s.uid: s for s in read_statuses(self.settings.state_dir)}
        try:
            self.runtime.ping()
            self.registry.note_running(self.runtime.list())
        except RuntimeUnavailableError as exc:
            log(_log, logging.WARNING, "Docker is not reachable yet, will keep trying", error=exc.message)
        self._sources = self._make_sources(self)
        for name, target in (("runtime-events", self.watch.watch_runtime), ("housekeeping", self.watch.housekeeping)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        for source in self._sources:
            source.start()
        if self.settings.healthz_port:
            from bootstrap.reconciler.daemon import HealthServer

            server = HealthServer(self.healthy, self.settings.healthz_bind_address, self.settings.healthz_port)
            server.start()
            self._healthz = server
        if self.settings.apiserver is not None:  # node, mirror pods, events, read API
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
        workers = self.registry.close()
        if publisher is not None:
            publisher.stop()
        for source in self._sources:
            source.stop()
        self.runtime.interrupt_watch()
        for worker in workers:
            worker.shutdown()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._healthz is not None:
            self._healthz.stop()
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
        return self.registry.sources_ready

    def synced(self) -> bool:
        """Every source was read once, start-up orphans were judged, every pod worker synced once."""
        return self.registry.synced()

    def wait_synced(self, timeout: float | None = None) -> bool:
        """True once `synced()`; False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.synced():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def statuses(self) -> list[PodStatus]:
        return self.registry.statuses()

    def healthy(self) -> bool:
        """The /healthz answer: the housekeeping loop ran recently."""
        return self.watch.healthy()

    # --- sources ----------------------------------------------------------------------------------------------
    def on_set(self, source: str, pods: list[model.StaticPod]) -> None:
        """A source's complete desired set (sources call this; tests may too)."""
        if self._stop.is_set():
            return
        self.registry.set_source(source, pods, self._duplicate)

    def _duplicate(self, pod: model.StaticPod, source: str, holder: str) -> None:
        self.recorder.event(
            "Warning",
            "FailedValidation",
            f"Error validating pod {pod.full_name} from {source} due to duplicate pod name {pod.name!r} "
            f"(already provided by {holder}), ignoring",
            origin=pod.origin,
        )

    # --- the Host the workers call back -----------------------------------------------------------------------
    def may_start(self, worker: PodWorker) -> bool:
        return self.registry.may_start(worker)

    def worker_done(self, worker: Worker) -> None:
        """A worker finished terminating (called from its thread)."""
        following = self.registry.worker_done(worker, self._drop_status)
        last = worker.last_status
        if last is not None:
            self.recorder.removed(last)
        for other in following:
            other.wake()

    def _drop_status(self, status: PodStatus) -> None:
        remove_status(self.settings.state_dir, status.namespace, status.name, status.uid)

    def publish_status(self, status: PodStatus) -> None:
        if self.registry.owns_status(status):
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


def default_sources(reconciler: Reconciler) -> list[Source]:
    """The file source (staticPodPath) and the URL source (manifest URL) the settings name."""
    sources: list[Source] = []
    settings = reconciler.settings
    if settings.manifest_dir is not None:
        from bootstrap.reconciler.sources.file import FileSource

        sources.append(
            FileSource(
                settings.manifest_dir,
                node_name=settings.node_name,
                period=settings.file_check_frequency,
                on_set=reconciler.on_set,
                recorder=reconciler.recorder,
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
                on_set=reconciler.on_set,
                recorder=reconciler.recorder,
            )
        )
    return sources
