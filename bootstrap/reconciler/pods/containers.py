"""The per-container steps of a pod sync (the kubelet's computePodActions for one container), mixed into PodWorker.

For each container of the pod, given its records in the runtime: kill it when it is in an old sandbox, failed a
liveness/startup probe or its definition (hash) changed; restart it when the restart policy says so, after the
crash-loop backoff (first restart immediate), with restartCount+1; run init containers one at a time, in order.
Decisions about the pod as a whole (sandbox, stopping a finished pod, status, termination) stay in worker.py; this
module only reads the worker's state named in ContainerSteps and records waiting reasons and wake-ups in a _Plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bootstrap.reconciler import model
from bootstrap.reconciler.events import PodRef
from bootstrap.reconciler.pods import kill, start, translate
from bootstrap.reconciler.pods.backoff import format_duration
from bootstrap.reconciler.pods.phase import Waiting, history
from bootstrap.reconciler.pods.probes import PodProbes
from bootstrap.reconciler.runtime import ContainerRecord, naming
from bootstrap.reconciler.status import PodStatus

if TYPE_CHECKING:
    from bootstrap.reconciler.pods.worker import Host


@dataclass
class Plan:
    """What one sync decided besides the actions it took: when to come back."""

    wake_in: float | None = None

    def soon(self, seconds: float) -> None:
        self.wake_in = seconds if self.wake_in is None else min(self.wake_in, seconds)


class ContainerSteps:
    """The container half of PodWorker; the attributes below are the worker's, set in its __init__."""

    host: Host
    pod: model.StaticPod
    uid: str
    ref: PodRef
    probes: PodProbes
    waiting: dict[str, Waiting]
    _last_status: PodStatus | None

    @staticmethod
    def _latest(records: list[ContainerRecord], name: str) -> ContainerRecord | None:
        past = history(records, name)
        return past[-1] if past else None

    def _init_containers(
        self, records: list[ContainerRecord], sandbox: ContainerRecord, ctx: translate.PodContext, plan: Plan
    ) -> bool:
        """True when every init container has completed in this sandbox (so app containers may run)."""
        for container in self.pod.spec.init_containers:
            mine = [r for r in history(records, container.name) if r.sandbox_id == sandbox.id]
            latest = mine[-1] if mine else None
            if latest is not None and latest.running:
                return False
            if latest is not None and latest.state == "exited" and latest.exit_code == 0:
                continue
            if latest is not None and self.pod.spec.restart_policy == "Never":
                return False  # failed under Never: the pod is Failed
            self._sync_container(container, records, sandbox, ctx, plan, init=True)
            return False
        return True

    def _should_restart(self, latest: ContainerRecord | None) -> bool:
        """The kubelet's ShouldContainerBeRestarted for a container's newest record."""
        if latest is None:
            return True  # never created (or garbage-collected): start it, whatever the policy
        if latest.running:
            return False
        failed_start = latest.state == "created" and bool(latest.error or latest.exit_code)
        if latest.state not in ("exited", "dead") and not failed_start:
            return True  # created but never started (interrupted): start it
        policy = self.pod.spec.restart_policy
        if policy == "Never":
            return False
        return not (policy == "OnFailure" and latest.exit_code == 0 and not failed_start)

    def _sync_container(
        self,
        container: model.Container,
        records: list[ContainerRecord],
        sandbox: ContainerRecord,
        ctx: translate.PodContext,
        plan: Plan,
        *,
        init: bool,
    ) -> bool:
        """Bring one container in line; True if anything was started or stopped."""
        runtime, recorder = self.host.runtime, self.host.recorder
        past = history(records, container.name)
        latest = past[-1] if past else None
        killed = False
        if latest is not None and latest.running:
            reason = self._kill_reason(container, latest, sandbox)
            if reason is None:
                self._ensure_probes(container, latest, ctx)
                self.waiting.pop(container.name, None)
                return False
            grace = self.pod.spec.termination_grace_period
            failed = self.probes.failed(latest.id)
            probe = container.liveness if failed == "liveness" else container.startup if failed == "startup" else None
            if probe is not None and probe.termination_grace_period is not None:
                grace = probe.termination_grace_period
            kill.kill_container(
                runtime, recorder, self.ref, latest, grace, container=container, message=reason, pod_ip=ctx.pod_ip
            )
            self.probes.prune({r.id for r in records if r.running and r.id != latest.id})
            latest = runtime.inspect(latest.id) or latest
            killed = True
        if not self._should_restart(latest):
            self.waiting.pop(container.name, None)
            return killed
        if latest is not None:
            key = f"{self.uid}_{container.name}_{naming.container_hash(container)}"
            finished = latest.finished_at or latest.created_at or datetime.now(UTC)
            left = self.host.crash_backoff.remaining(key, finished.timestamp())
            if left > 0:
                current = format_duration(self.host.crash_backoff.current(key))
                who = f"{self.pod.name}_{self.pod.namespace}({self.uid})"
                message = f"back-off {current} restarting failed container={container.name} pod={who}"
                if self.waiting.get(container.name, Waiting("")).reason != "CrashLoopBackOff":
                    recorder.event(
                        "Warning",
                        "BackOff",
                        f"Back-off restarting failed container {container.name} in pod {who}",
                        pod=self.ref,
                        container=container.name,
                    )
                self.waiting[container.name] = Waiting("CrashLoopBackOff", message)
                plan.soon(left + 0.05)
                return False
            self.host.crash_backoff.next(key, finished.timestamp())
        restart_count = max((r.attempt for r in past), default=-1) + 1
        self._start_container(container, sandbox, ctx, restart_count, plan, init=init)
        return True

    def _kill_reason(self, container: model.Container, latest: ContainerRecord, sandbox: ContainerRecord) -> str | None:
        then = ", will be restarted" if self.pod.spec.restart_policy != "Never" else ""
        if latest.sandbox_id and latest.sandbox_id != sandbox.id:
            return f"Container {container.name} is in an old pod sandbox{then}"
        failed = self.probes.failed(latest.id)
        if failed is not None:
            return f"Container {container.name} failed {failed} probe{then}"
        if latest.hash and latest.hash != naming.container_hash(container):
            return f"Container {container.name} definition changed{then}"
        return None

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

    def _start_container(
        self,
        container: model.Container,
        sandbox: ContainerRecord,
        ctx: translate.PodContext,
        restart_count: int,
        plan: Plan,
        *,
        init: bool,
    ) -> None:
        waiting, retry_in = start.start_container(
            self.host.runtime,
            self.host.recorder,
            self.host.image_backoff,
            ctx,
            container,
            sandbox_id=sandbox.id,
            restart_count=restart_count,
            init=init,
            ref=self.ref,
        )
        if waiting is None:
            self.waiting.pop(container.name, None)
            return
        self.waiting[container.name] = waiting
        if retry_in is not None:
            plan.soon(retry_in)
