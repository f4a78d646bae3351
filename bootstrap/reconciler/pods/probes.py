"""Probe workers: one thread per (container instance, probe kind), the kubelet's prober worker semantics.

A worker starts when the pod worker sees the container running and stops when that container instance is gone.
Initial results: readiness Failure, liveness Success, startup Unknown. Nothing is probed before
`initialDelaySeconds` (counted from the container's start), and liveness/readiness wait for the startup probe
to succeed. A result flips after `failureThreshold` consecutive failures or `successThreshold` consecutive
successes; a liveness or startup failure puts the worker on hold (the pod worker then kills the container, and
the next instance gets a fresh worker). Every failed run emits an `Unhealthy` event. Workers of containers that
were already running when the reconciler started sleep a random part of one period first, as the kubelet does.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from bootstrap.reconciler import metrics, model
from bootstrap.reconciler.events import PodRef, Recorder
from bootstrap.reconciler.pods import prober
from bootstrap.reconciler.runtime import Runtime

Result = Literal["success", "failure", "unknown"]
_INITIAL: dict[model.ProbeKind, Result] = {"liveness": "success", "readiness": "failure", "startup": "unknown"}
_TITLE = {"liveness": "Liveness", "readiness": "Readiness", "startup": "Startup"}


class ProbeWorker:
    def __init__(
        self,
        kind: model.ProbeKind,
        probe: model.Probe,
        target: prober.Target,
        started_at: datetime | None,
        *,
        runtime: Runtime,
        recorder: Recorder,
        pod: PodRef,
        on_change: Callable[[], None],
        started: Callable[[], bool],
        initial_jitter: bool,
        initial: Result | None = None,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.target = target
        self.started_at = started_at or datetime.now(UTC)
        self.result: Result = initial or _INITIAL[kind]
        self.message = ""
        self._runtime = runtime
        self._recorder = recorder
        self._pod = pod
        self._on_change = on_change
        self._started = started
        self._jitter = initial_jitter
        self._stop = threading.Event()
        self._last: Result | None = None
        self._run = 0
        self._thread = threading.Thread(target=self._loop, name=f"probe-{kind}-{target.container.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        if self._jitter and self._stop.wait(random.uniform(0, self.probe.period)):
            return
        while not self._stop.is_set():
            keep_going = self._tick()
            if not keep_going or self._stop.wait(self.probe.period):
                return

    def _tick(self) -> bool:
        if self.kind == "startup" and self.result == "success":
            return False  # startup probes stop once they succeed
        if self.kind != "startup" and not self._started():
            return True
        running_for = (datetime.now(UTC) - self.started_at).total_seconds()
        if running_for < self.probe.initial_delay:
            return True
        began = time.monotonic()
        ok, message = prober.run(self.probe.handler, self.target, self._runtime, self.probe.timeout)
        if self._stop.is_set():
            return False
        outcome: Result = "success" if ok else "failure"
        metrics.PROBES.observe(
            self.kind,
            outcome,
            container=self.target.container.name,
            pod=self._pod.name,
            namespace=self._pod.namespace,
            uid=self._pod.uid,
            seconds=time.monotonic() - began,
        )
        if not ok:
            self._recorder.event(
                "Warning",
                "Unhealthy",
                f"{_TITLE[self.kind]} probe failed: {message}",
                pod=self._pod,
                container=self.target.container.name,
            )
        self._run = self._run + 1 if outcome == self._last else 1
        self._last = outcome
        threshold = self.probe.failure_threshold if outcome == "failure" else self.probe.success_threshold
        if self._run < threshold:
            return True
        changed = outcome != self.result
        self.result, self.message = outcome, message
        if changed:
            self._on_change()
        # After a liveness or startup failure the worker is on hold until the container is replaced.
        return not (outcome == "failure" and self.kind in ("liveness", "startup"))


class PodProbes:
    """The probe workers of one pod, keyed by container ID and kind."""

    def __init__(self, runtime: Runtime, recorder: Recorder, pod: PodRef, on_change: Callable[[], None]) -> None:
        self._runtime = runtime
        self._recorder = recorder
        self._pod = pod
        self._on_change = on_change
        self._workers: dict[tuple[str, model.ProbeKind], ProbeWorker] = {}
        self._lock = threading.Lock()

    def ensure(
        self,
        container: model.Container,
        container_id: str,
        pod_ip: str,
        started_at: datetime | None,
        *,
        adopted: bool,
        initial_ready: bool = False,
    ) -> None:
        """Start the workers for a running container instance (idempotent)."""
        target = prober.Target(container, container_id, pod_ip)
        kinds: tuple[tuple[model.ProbeKind, model.Probe | None], ...] = (
            ("startup", container.startup),
            ("liveness", container.liveness),
            ("readiness", container.readiness),
        )

        def started() -> bool:
            return self.started(container_id, container)

        for kind, probe in kinds:
            if probe is None:
                continue
            key = (container_id, kind)
            with self._lock:
                if key in self._workers:
                    continue
                initial: Result | None = None
                if adopted and initial_ready and kind in ("readiness", "startup"):
                    initial = "success"  # it was ready before the reconciler restarted: do not flap
                worker = ProbeWorker(
                    kind,
                    probe,
                    target,
                    started_at,
                    runtime=self._runtime,
                    recorder=self._recorder,
                    pod=self._pod,
                    on_change=self._on_change,
                    started=started,
                    initial_jitter=adopted,
                    initial=initial,
                )
                self._workers[key] = worker
            worker.start()

    def prune(self, running_ids: set[str]) -> None:
        """Stop the workers of container instances that are no longer running."""
        with self._lock:
            for key in [k for k in self._workers if k[0] not in running_ids]:
                self._workers.pop(key).stop()

    def stop_all(self) -> None:
        self.prune(set())
        metrics.PROBES.forget_pod(self._pod.uid)

    def result(self, container_id: str, kind: model.ProbeKind) -> Result | None:
        with self._lock:
            worker = self._workers.get((container_id, kind))
        return worker.result if worker else None

    def message(self, container_id: str, kind: model.ProbeKind) -> str:
        with self._lock:
            worker = self._workers.get((container_id, kind))
        return worker.message if worker else ""

    def started(self, container_id: str, container: model.Container) -> bool:
        if container.startup is None:
            return True
        return self.result(container_id, "startup") == "success"

    def ready(self, container_id: str, container: model.Container) -> bool:
        if not self.started(container_id, container):
            return False
        if container.readiness is None:
            return True
        return self.result(container_id, "readiness") == "success"

    def failed(self, container_id: str) -> model.ProbeKind | None:
        """Which probe ("startup" or "liveness") has failed for this container instance, if any."""
        kinds: tuple[model.ProbeKind, ...] = ("startup", "liveness")
        for kind in kinds:
            if self.result(container_id, kind) == "failure":
                return kind
        return None
