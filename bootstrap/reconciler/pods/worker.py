"""PodWorker: one thread per pod UID that makes the runtime match the pod (the kubelet's pod worker + SyncPod).

Each sync reads the pod's containers from the runtime and acts, like computePodActions:
- no running sandbox -> kill what is left, create sandbox attempt+1 (not under restartPolicy Never once the
  containers ran), then run the init containers in order;
- a running container whose liveness/startup probe failed, or whose hash (name+image) changed, is killed;
- a container that is not running and should be restarted (restartPolicy) starts after the crash-loop backoff
  (first restart immediate), with restartCount+1 in its name and labels;
- nothing running and nothing to start -> the sandbox is stopped; dead containers beyond the newest per name
  are removed.
The worker sleeps until woken (Docker event, probe change, manifest change) or a timer (backoff expiry, resync).
Termination (pod removed or replaced): preStop + stop with the grace period, then the containers are removed but
the newest dead one per name (for `kbs logs --previous`), the pod's files and status go, and the manager is told,
so a pod with the same full name waiting on this one may start.
This module owns the thread, the pod-level steps (sandbox, stopping a finished pod, status, termination); the
per-container steps (kill, restart with backoff, init containers, probes) are ContainerSteps in containers.py.
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bootstrap import constants
from bootstrap.errors import KbsError, RuntimeUnavailableError
from bootstrap.reconciler import model
from bootstrap.reconciler.errors import RuntimeOperationError
from bootstrap.reconciler.events import PodRef, Recorder
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.pods import kill, start, translate
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.pods.containers import ContainerSteps, Plan
from bootstrap.reconciler.pods.phase import Waiting, build_status
from bootstrap.reconciler.pods.probes import PodProbes
from bootstrap.reconciler.runtime import ContainerRecord, Runtime
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import PodStatus

_log = logging.getLogger(LOGGER)


class Host(Protocol):
    """What a worker needs from the reconciler that owns it."""

    runtime: Runtime
    recorder: Recorder
    settings: Settings
    crash_backoff: Backoff
    image_backoff: Backoff
    node_ip: str
    started_at: datetime

    def may_start(self, worker: PodWorker) -> bool: ...

    def worker_done(self, worker: PodWorker) -> None: ...

    def publish_status(self, status: PodStatus) -> None: ...

    def previous_status(self, uid: str) -> PodStatus | None: ...


class PodWorker(ContainerSteps):
    def __init__(self, host: Host, pod: model.StaticPod) -> None:
        self.host = host
        self.pod = pod
        self.uid = pod.uid
        self.full_name = pod.full_name
        self.ref = PodRef(pod.name, pod.namespace, pod.uid)
        self.probes = PodProbes(host.runtime, host.recorder, self.ref, self.wake)
        self.waiting: dict[str, Waiting] = {}
        self.synced = threading.Event()  # set after the first complete sync (or when the pod cannot start)
        self.done = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._terminate = False
        self._shutdown = False
        self._grace: int | None = None
        self._started = False
        self._blocked_logged = False
        self._start_time: datetime | None = None
        self._last_status: PodStatus | None = host.previous_status(pod.uid)
        self._published: dict[str, object] | None = None
        self._thread = threading.Thread(target=self._run, name=f"pod-{pod.name}", daemon=True)

    # --- control (any thread) ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._wake.set()
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def update(self, pod: model.StaticPod) -> None:
        """Same UID, new content (a manifest with a fixed metadata.uid): containers whose hash changed restart."""
        with self._lock:
            self.pod = pod
        self.wake()

    def terminate(self, grace: int | None = None) -> None:
        with self._lock:
            self._terminate = True
            self._grace = grace
        self.wake()

    def shutdown(self) -> None:
        """Stop the thread (and probes) without touching the containers: the reconciler is exiting."""
        self._shutdown = True
        self.wake()

    @property
    def last_status(self) -> PodStatus | None:
        return self._last_status

    @property
    def terminating(self) -> bool:
        return self._terminate

    @property
    def started(self) -> bool:
        return self._started

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def pod_dir(self) -> Path:
        return self.host.settings.state_dir / "pods" / self.uid

    # --- the loop -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        resync = self.host.settings.resync_period
        timeout: float | None = None
        not_before = 0.0  # after a failed sync, wake-ups wait for the error backoff (no hot retry loops)
        while True:
            self._wake.wait(timeout)
            self._wake.clear()
            while not (self._shutdown or self._terminate) and time.monotonic() < not_before:
                self._wake.wait(not_before - time.monotonic())
                self._wake.clear()
            if self._shutdown:
                self.probes.stop_all()
                return
            if self._terminate:
                self._finish()
                return
            if not self._started:
                if not self.host.may_start(self):
                    if not self._blocked_logged:
                        message = "Pod cannot start yet: an older pod with the same name is stopping"
                        log(_log, logging.INFO, message, pod=self.pod.describe())
                        self._blocked_logged = True
                    self._publish([], None)
                    self.synced.set()
                    timeout = None
                    continue
                self._started = True
                self._start_time = datetime.now(UTC).replace(microsecond=0)
            timeout, not_before = self._sync_once(resync)
            self.synced.set()

    def _sync_once(self, resync: float) -> tuple[float, float]:
        """One sync; returns (seconds until the next one, monotonic time before which wake-ups are deferred)."""
        error_wait = constants.POD_WORKER_ERROR_BACKOFF * random.uniform(1, 1.5)
        try:
            plan = self._sync()
        except RuntimeUnavailableError as exc:
            log(
                _log, logging.WARNING, "Docker is not reachable, will retry", pod=self.pod.describe(), error=exc.message
            )
            return error_wait, 0.0  # the event watcher wakes the worker as soon as Docker answers again
        except KbsError as exc:
            log(_log, logging.WARNING, "Sync failed, will retry", pod=self.pod.describe(), error=exc.message)
            return error_wait, time.monotonic() + error_wait
        except Exception as exc:
            _log.exception("sync failed", extra={"kbs": {"pod": self.pod.describe(), "error": str(exc)}})
            return error_wait, time.monotonic() + error_wait
        if plan.wake_in is not None:
            return min(plan.wake_in, resync), 0.0
        return resync * random.uniform(1, 1.5), 0.0

    def _ctx(self, sandbox: ContainerRecord | None) -> translate.PodContext:
        ip = self.host.node_ip if self.pod.spec.host_network else (sandbox.ip if sandbox and sandbox.ip else "")
        return translate.PodContext(self.pod, self.host.runtime.instance, self.pod_dir, self.host.node_ip, ip)

    def _sync(self) -> Plan:
        runtime, pod, plan = self.host.runtime, self.pod, Plan()
        log(_log, logging.DEBUG, "Syncing pod", pod=pod.describe())
        records = runtime.list(self.uid)
        sandbox = self._sandbox(records)
        if sandbox is None:
            ran = any(not r.is_sandbox for r in records)
            to_start = [c for c in pod.spec.containers if self._should_restart(self._latest(records, c.name))]
            if ran and (pod.spec.restart_policy == "Never" or not to_start):
                # The pod is done: make sure nothing runs, do not create a sandbox just to stop it again.
                kill.kill_pod(
                    runtime, self.host.recorder, self.ref, records, pod.spec.termination_grace_period, spec=pod
                )
                self._publish(runtime.list(self.uid), None)
                return plan
            sandbox = self._new_sandbox(records)
            if sandbox is None:
                self._publish(runtime.list(self.uid), None)
                plan.soon(constants.POD_WORKER_ERROR_BACKOFF)
                return plan
            records = runtime.list(self.uid)
        ctx = self._ctx(sandbox)
        if not self._init_containers(records, sandbox, ctx, plan):
            self._after(runtime.list(self.uid), sandbox)
            return plan
        changed = False
        for container in pod.spec.containers:
            changed |= self._sync_container(container, records, sandbox, ctx, plan, init=False)
        if changed:
            records = runtime.list(self.uid)
        running_apps = [r for r in records if r.running and not r.is_sandbox]
        if not running_apps and plan.wake_in is None and not self.waiting:
            runtime.stop(sandbox.id, constants.MIN_CONTAINER_GRACE_SECONDS)  # all done: the kubelet kills the pod
            records = runtime.list(self.uid)
        self._after(records, sandbox)
        return plan

    def _after(self, records: list[ContainerRecord], sandbox: ContainerRecord) -> None:
        for record in kill.garbage(records, keep_sandbox=sandbox.id):
            try:
                self.host.runtime.remove(record.id)
            except RuntimeOperationError as exc:
                log(
                    _log,
                    logging.WARNING,
                    "Cannot remove dead container",
                    pod=self.pod.describe(),
                    container=record.name,
                    error=exc.message,
                )
        current = self.host.runtime.inspect(sandbox.id) or sandbox
        running = {r.id for r in records if r.running and not r.is_sandbox}
        self.probes.prune(running)
        ctx = self._ctx(current)
        for container in (*self.pod.spec.init_containers, *self.pod.spec.containers):
            latest = self._latest(records, container.name)
            if latest is not None and latest.running:
                self._ensure_probes(container, latest, ctx)
        self._publish(records, current)

    # --- sandbox ----------------------------------------------------------------------------------------------
    @staticmethod
    def _sandbox(records: list[ContainerRecord]) -> ContainerRecord | None:
        running = sorted((r for r in records if r.is_sandbox and r.running), key=lambda r: r.attempt)
        return running[-1] if len(running) == 1 else None

    def _new_sandbox(self, records: list[ContainerRecord]) -> ContainerRecord | None:
        runtime, pod, recorder = self.host.runtime, self.pod, self.host.recorder
        sandboxes = sorted((r for r in records if r.is_sandbox), key=lambda r: r.attempt)
        if sandboxes:
            message = "Pod sandbox changed, it will be killed and re-created."
            recorder.event("Normal", "SandboxChanged", message, pod=self.ref)
            kill.kill_pod(runtime, recorder, self.ref, records, pod.spec.termination_grace_period, spec=pod)
        made = start.create_sandbox(
            runtime,
            recorder,
            self.host.image_backoff,
            self._ctx(None),
            pause_image=self.host.settings.pause_image,
            attempt=sandboxes[-1].attempt + 1 if sandboxes else 0,
            ref=self.ref,
        )
        if isinstance(made, Waiting):
            for container in (*pod.spec.init_containers, *pod.spec.containers):
                self.waiting[container.name] = made
            return None
        return made

    # --- status -----------------------------------------------------------------------------------------------
    def _publish(
        self, records: list[ContainerRecord], sandbox: ContainerRecord | None, *, terminating: bool = False
    ) -> None:
        ctx_dir = self.pod_dir
        status = build_status(
            self.pod,
            records,
            self.probes,
            self.waiting,
            sandbox=sandbox,
            node_ip=self.host.node_ip,
            start_time=self._start_time,
            previous=self._last_status,
            terminating=terminating or self._terminate,
            qos_class=translate.qos_class(self.pod.spec),
            message_file=lambda name, n: ctx_dir / "containers" / name / f"{n}-termination-log",
        )
        body = status.to_json()
        body.pop("observedAt", None)
        self._last_status = status
        if body == self._published:
            return
        self._published = body
        self.host.publish_status(status)

    # --- termination ------------------------------------------------------------------------------------------
    def _finish(self) -> None:
        runtime, recorder = self.host.runtime, self.host.recorder
        grace = self._grace if self._grace is not None else self.pod.spec.termination_grace_period
        self.probes.stop_all()
        deadline = time.monotonic() + 3600
        while True:
            try:
                records = runtime.list(self.uid)
                self._publish(records, self._sandbox(records), terminating=True)
                pod_ip = self._ctx(self._sandbox(records)).pod_ip
                kill.kill_pod(runtime, recorder, self.ref, records, grace, spec=self.pod, pod_ip=pod_ip)
                records = runtime.list(self.uid)
                for record in kill.garbage(records):
                    runtime.remove(record.id)
                break
            except KbsError as exc:
                if time.monotonic() > deadline:
                    break
                log(
                    _log, logging.WARNING, "Cannot stop pod yet, will retry", pod=self.pod.describe(), error=exc.message
                )
                time.sleep(constants.POD_WORKER_ERROR_BACKOFF)
        shutil.rmtree(self.pod_dir, ignore_errors=True)
        self.host.crash_backoff.forget(f"{self.uid}_")
        self.host.image_backoff.forget(f"{self.uid}_")
        log(_log, logging.INFO, "Pod stopped", pod=self.pod.describe(), uid=self.uid)
        self.done.set()
        self.synced.set()
        self.host.worker_done(self)
