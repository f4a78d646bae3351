"""PodWorker: one thread per pod UID that makes the runtime match the pod (the kubelet's pod worker + SyncPod).

Each sync lists the pod's containers, asks actions.compute_pod_actions what to do (the kubelet's
computePodActions: kill the pod, create a sandbox, containers to kill with reasons, containers to start,
containers in CrashLoopBackOff) and executes it, the way SyncPod does; after a kill or a new sandbox it lists
and asks again. Then dead containers beyond the newest two records per name are removed, probes follow the
running containers and the status is published.
The status goes out when the kubelet's would: a sync publishes it before it acts at the pod's first sync (so the
mirror pod appears before any container starts) and when it shows waiting reasons the syncs before found;
a reason a sync finds (CrashLoopBackOff...) shows only from the kubelet's next sync of the pod on (`_begin`).
The worker sleeps until woken (Docker event, probe change, manifest change) or a timer (backoff expiry, resync).
Termination (pod removed or replaced): preStop + stop with the grace period, then the containers are removed but
the newest dead one per name (for `kbs logs --previous`), the pod's files and status go, and the manager is told,
so a pod with the same full name waiting on this one may start.
This module owns the thread and the execution; every decision is in actions.py.
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
from bootstrap.reconciler.pods.actions import BACKOFF_SLACK, PodActions, compute_pod_actions, latest, running_sandbox
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.pods.phase import Waiting, build_status
from bootstrap.reconciler.pods.probes import PodProbes
from bootstrap.reconciler.runtime import ContainerRecord, Runtime
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import PodStatus

_log = logging.getLogger(LOGGER)

# Decisions per sync: a kill or a new sandbox changes the runtime, so the worker decides again (a sandbox, then
# a container killed in it, then the rest).
MAX_ROUNDS = 4
TIMER_SLACK = 0.01  # seconds: a wake-up this close to the timer the last sync asked for is that timer


def _signature(records: list[ContainerRecord]) -> frozenset[tuple[str, str]]:
    return frozenset((r.id, r.state) for r in records)


class _Wake:
    """The earliest timer one sync asks for (a backoff expiring, an image pull to retry)."""

    def __init__(self) -> None:
        self.wake_in: float | None = None

    def soon(self, seconds: float) -> None:
        self.wake_in = seconds if self.wake_in is None else min(self.wake_in, seconds)


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


class PodWorker:
    def __init__(self, host: Host, pod: model.StaticPod) -> None:
        self.host = host
        self._pod = pod
        self.uid = pod.uid
        self.full_name = pod.full_name
        self.ref = PodRef(pod.name, pod.namespace, pod.uid)
        self.probes = PodProbes(host.runtime, host.recorder, self.ref, self.wake)
        self.waiting: dict[str, Waiting] = {}  # the reason cache: why each container waits, as the syncs found
        self._shown: dict[str, Waiting] = {}  # the reasons the status shows: those found before this sync began
        self._displayed: dict[str, Waiting] | None = None  # the reasons of the last status published
        self._seen: frozenset[tuple[str, str]] = frozenset()  # the containers (id, state) the last sync began with
        self._tails: dict[str, str] = {}  # dead container id -> the end of its log (FallbackToLogsOnError)
        self._timer_at = 0.0  # monotonic time of the timer the last sync asked for (backoff expiry, resync)
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

    @property
    def pod(self) -> model.StaticPod:
        with self._lock:
            return self._pod

    def update(self, pod: model.StaticPod) -> None:
        """Same UID, new content (a manifest with a fixed metadata.uid): containers whose hash changed restart."""
        with self._lock:
            self._pod = pod
        self.wake()

    def terminate(self, grace: int | None = None) -> None:
        with self._lock:
            self._terminate = True
            self._grace = grace
        self.wake()

    def shutdown(self) -> None:
        """Stop the thread (and probes) without touching the containers: the reconciler is exiting."""
        with self._lock:
            self._shutdown = True
        self.wake()

    @property
    def last_status(self) -> PodStatus | None:
        return self._last_status

    def _flags(self) -> tuple[bool, bool]:
        """(shutdown, terminate), read together."""
        with self._lock:
            return self._shutdown, self._terminate

    @property
    def terminating(self) -> bool:
        with self._lock:
            return self._terminate

    @property
    def started(self) -> bool:
        with self._lock:
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
            while not any(self._flags()) and time.monotonic() < not_before:
                self._wake.wait(not_before - time.monotonic())
                self._wake.clear()
            shutdown, terminate = self._flags()
            if shutdown:
                self.probes.stop_all()
                return
            if terminate:
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
                with self._lock:
                    self._started = True
                self._start_time = datetime.now(UTC).replace(microsecond=0)
                self._forget_earlier_life()
            timeout, not_before = self._sync_once(resync)
            self._timer_at = time.monotonic() + timeout
            self.synced.set()

    def _sync_once(self, resync: float) -> tuple[float, float]:
        """One sync; returns (seconds until the next one, monotonic time before which wake-ups are deferred)."""
        error_wait = constants.POD_WORKER_ERROR_BACKOFF * random.uniform(1, 1.5)
        try:
            wake_in = self._sync()
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
        if wake_in is not None:
            return min(wake_in, resync), 0.0
        return resync * random.uniform(1, 1.5), 0.0

    def _forget_earlier_life(self) -> None:
        """A pod added again (the same manifest, so the same UID) after it was removed starts afresh, restart count
        0, as under the kubelet, which removes a deleted pod's containers: the dead containers kept from its
        earlier life (for `kbs logs`) go. Recognised by having no status (a removed pod's status goes with it,
        a pod adopted after a reconciler restart has its own) and nothing running."""
        if self._last_status is not None:
            return
        try:
            records = self.host.runtime.list(self.uid)
            if records and not any(r.running for r in records):
                for record in records:
                    self.host.runtime.remove(record.id)
        except KbsError as exc:
            log(_log, logging.WARNING, "Cannot remove an earlier life's containers", pod=self.pod.describe(),
                error=exc.message)  # fmt: skip

    def _ctx(self, sandbox: ContainerRecord | None) -> translate.PodContext:
        pod = self.pod
        ip = self.host.node_ip if pod.spec.host_network else (sandbox.ip if sandbox and sandbox.ip else "")
        return translate.PodContext(pod, self.host.runtime.instance, self.pod_dir, self.host.node_ip, ip)

    def _decide(self, records: list[ContainerRecord]) -> PodActions:
        failures = {r.id: kind for r in records if r.running and (kind := self.probes.failed(r.id)) is not None}
        backoff = self.host.crash_backoff.snapshot(f"{self.uid}_")
        return compute_pod_actions(self.pod, records, backoff, time.time(), probe_failures=failures)

    def _sync(self) -> float | None:
        """Decide, execute, and decide again after a kill or a new sandbox; the seconds until a timer is due."""
        runtime = self.host.runtime
        log(_log, logging.DEBUG, "Syncing pod", pod=self.pod.describe())
        wake = _Wake()
        handled: set[str] = set()  # containers started or backing off in this sync: later rounds leave them
        actions, records = PodActions(), []
        for round_ in range(MAX_ROUNDS):
            records = runtime.list(self.uid)
            if round_ == 0:
                self._begin(records)
            actions = self._decide(records)
            if actions.sandbox is None:
                if not self._make_sandbox(actions, records, wake):
                    return wake.wake_in
                continue
            self._containers(actions, records, wake, handled)
            if not actions.again:
                break
        sandbox = actions.sandbox
        if sandbox is None:  # every round made a sandbox that was gone by the next: try again later
            return wake.wake_in
        if not actions.init_done:
            self._after(runtime.list(self.uid), sandbox)
            return wake.wake_in
        if actions.containers_to_start or actions.containers_to_kill:
            records = runtime.list(self.uid)
        if actions.stop_sandbox and wake.wake_in is None and not self.waiting:
            runtime.stop(sandbox.id, constants.MIN_CONTAINER_GRACE_SECONDS)  # all done: the kubelet kills the pod
            records = runtime.list(self.uid)
        self._after(records, sandbox)
        return wake.wake_in

    def _make_sandbox(self, actions: PodActions, records: list[ContainerRecord], wake: _Wake) -> bool:
        """Kill a finished pod, or (re)create its sandbox; True when a new sandbox runs (decide again)."""
        runtime, recorder, pod = self.host.runtime, self.host.recorder, self.pod
        if actions.sandbox_changed:
            message = "Pod sandbox changed, it will be killed and re-created."
            recorder.event("Normal", "SandboxChanged", message, pod=self.ref)
        if actions.kill_pod:
            kill.kill_pod(runtime, recorder, self.ref, records, pod.spec.termination_grace_period, spec=pod)
        if not actions.create_sandbox:
            self._publish(runtime.list(self.uid), None)
            return False
        made = start.create_sandbox(
            runtime,
            recorder,
            self.host.image_backoff,
            self._ctx(None),
            pause_image=self.host.settings.pause_image,
            attempt=actions.sandbox_attempt,
            ref=self.ref,
        )
        if isinstance(made, Waiting):
            for container in (*pod.spec.init_containers, *pod.spec.containers):
                self.waiting[container.name] = made
            self._publish(runtime.list(self.uid), None)
            wake.soon(constants.POD_WORKER_ERROR_BACKOFF)
            return False
        return True

    def _containers(self, actions: PodActions, records: list[ContainerRecord], wake: _Wake, handled: set[str]) -> None:
        """Execute the container part of `actions`: kills, then starts and backoffs not already done this sync."""
        assert actions.sandbox is not None
        runtime, recorder = self.host.runtime, self.host.recorder
        ctx = self._ctx(actions.sandbox)
        for name in actions.settled:
            self.waiting.pop(name, None)
        killed = set()
        for victim in actions.containers_to_kill:
            kill.kill_container(
                runtime,
                recorder,
                self.ref,
                victim.record,
                victim.grace,
                container=victim.container,
                message=victim.reason,
                pod_ip=ctx.pod_ip,
            )
            killed.add(victim.record.id)
        if killed:
            self.probes.prune({r.id for r in records if r.running and r.id not in killed})
        for waiting in actions.backing_off:
            if waiting.container in handled:
                continue
            handled.add(waiting.container)
            if self.waiting.get(waiting.container, Waiting("")).reason != "CrashLoopBackOff":
                recorder.event("Warning", "BackOff", waiting.event, pod=self.ref, container=waiting.container)
            self.waiting[waiting.container] = Waiting("CrashLoopBackOff", waiting.message)
            wake.soon(waiting.seconds_left + BACKOFF_SLACK)
        for todo in actions.containers_to_start:
            name = todo.container.name
            if name in handled:
                continue
            handled.add(name)
            if todo.backoff_key is not None and todo.finished_at is not None:
                self.host.crash_backoff.next(todo.backoff_key, todo.finished_at)
            state, retry_in = start.start_container(
                runtime,
                recorder,
                self.host.image_backoff,
                ctx,
                todo.container,
                sandbox_id=actions.sandbox.id,
                restart_count=todo.restart_count,
                init=todo.init,
                ref=self.ref,
            )
            if state is None:
                self.waiting.pop(name, None)
                continue
            self.waiting[name] = state
            if retry_in is not None:
                wake.soon(retry_in)

    def _after(self, records: list[ContainerRecord], sandbox: ContainerRecord) -> None:
        for record in kill.garbage(records, keep_sandbox=sandbox.id, keep_last_state=True):
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
            newest = latest(records, container.name)
            if newest is not None and newest.running:
                self._ensure_probes(container, newest, ctx)
        self._publish(records, current)

    def _ensure_probes(self, container: model.Container, record: ContainerRecord, ctx: translate.PodContext) -> None:
        if not (container.liveness or container.readiness or container.startup):
            return
        adopted = record.started_at is not None and record.started_at < self.host.started_at
        was_ready = False
        if adopted and self._last_status is not None:
            before = self._last_status.container(container.name)
            was_ready = before is not None and before.ready and before.container_id == f"docker://{record.id}"
        self.probes.ensure(
            container, record.id, ctx.pod_ip or "127.0.0.1", record.started_at, adopted=adopted, initial_ready=was_ready
        )

    # --- status -----------------------------------------------------------------------------------------------
    def _begin(self, records: list[ContainerRecord]) -> None:
        """The start of a sync. Where the kubelet would sync too (a container appeared or changed state since the
        last sync began, its PLEG's view, which includes what that sync did; or the timer the last sync asked for
        is due; not a second wake-up for the same change, which its PLEG reports once, nor a removed container,
        which it does not sync for), the reasons found so far become visible and the status goes out before the
        sync acts, as the kubelet sets it first (a stage such as "init container done, app container not yet
        started" is seen); otherwise only when `_status_due`."""
        seen, self._seen = self._seen, _signature(records)
        kubelet_sync = bool(self._seen - seen) or time.monotonic() >= self._timer_at - TIMER_SLACK
        if kubelet_sync:
            self._shown = dict(self.waiting)
        if kubelet_sync or self._status_due():
            self._publish(records, running_sandbox(records))

    def _status_due(self) -> bool:
        """Whether a sync publishes the status before it acts, as the kubelet's SyncPod sets it first: the pod's
        first sync (the mirror pod appears before the containers start) and a sync that shows waiting reasons
        the syncs before it found (CrashLoopBackOff at a back-off's end or resync). Other syncs publish at their
        end only: what they find before acting is what the previous one published."""
        return self._published is None or self._visible() != self._displayed

    def _visible(self) -> dict[str, Waiting]:
        """The waiting reasons a status shows: found by an earlier sync and still current. The kubelet shows a
        reason its sync found (its reason cache) only from its next sync on, when it generates the status
        again: a crashed container shows `terminated` through a back-off until a sync comes (its end, or the
        resync), then `waiting` in CrashLoopBackOff."""
        return {name: self._shown[name] for name in self.waiting if name in self._shown}

    def _publish(
        self, records: list[ContainerRecord], sandbox: ContainerRecord | None, *, terminating: bool = False
    ) -> None:
        ctx_dir = self.pod_dir
        visible = self._visible()
        self._displayed = visible
        status = build_status(
            self.pod,
            records,
            self.probes,
            visible,
            sandbox=sandbox,
            node_ip=self.host.node_ip,
            start_time=self._start_time,
            previous=self._last_status,
            terminating=terminating or self.terminating,
            qos_class=translate.qos_class(self.pod.spec),
            message_file=lambda name, n: ctx_dir / "containers" / name / f"{n}-termination-log",
            logs_tail=self._logs_tail,
        )
        body = status.to_json()
        body.pop("observedAt", None)
        self._last_status = status
        if body == self._published:
            return
        self._published = body
        self.host.publish_status(status)

    def _logs_tail(self, record: ContainerRecord) -> str:
        """The end of a dead container's log, as the kubelet reads it for FallbackToLogsOnError (the last 80 lines,
        at most 2048 bytes); read once per container, which does not change once dead."""
        if record.id not in self._tails:
            try:
                data = b"".join(self.host.runtime.logs(record.id, tail=constants.TERMINATION_LOG_LINES))
                text = data[-constants.TERMINATION_LOG_BYTES :].decode(errors="replace")
            except KbsError as exc:
                text = f"Error on reading termination message from logs: {exc.message}"
            if len(self._tails) > 16:  # dead containers are removed soon: a few entries at most
                self._tails.clear()
            self._tails[record.id] = text
        return self._tails[record.id]

    # --- termination ------------------------------------------------------------------------------------------
    def _finish(self) -> None:
        runtime, recorder = self.host.runtime, self.host.recorder
        grace = self._grace if self._grace is not None else self.pod.spec.termination_grace_period
        self.probes.stop_all()
        deadline = time.monotonic() + 3600
        while True:
            try:
                records = runtime.list(self.uid)
                self._publish(records, running_sandbox(records), terminating=True)
                pod_ip = self._ctx(running_sandbox(records)).pod_ip
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
