"""compute_pod_actions: what one sync of a pod must do, decided from data alone (the kubelet's computePodActions).

    actions = compute_pod_actions(pod, records, backoff.snapshot(uid), now, probe_failures={id: "liveness"})

The input is the pod's spec, the runtime's records of its containers, a frozen copy of its crash-loop backoff
entries, the probe results that ask for a kill, and the wall-clock time. The output says whether to kill the pod,
whether to create a sandbox (and which attempt), which containers to kill and why, which to start (restart
count, init or app) and which wait in CrashLoopBackOff. Nothing here calls the runtime, takes a lock or reads a
clock: the pod worker executes a PodActions and, when it killed something or made a sandbox, lists the runtime
and asks again. The rules:

- no running sandbox (or several): when containers ran and none should be restarted (or restartPolicy is
  Never), the pod is finished: kill what is left, make no sandbox. Otherwise kill what is left of the old
  sandboxes (SandboxChanged) and create sandbox attempt+1.
- init containers run one at a time, in order, each to a zero exit in the current sandbox; a running one is
  waited for; a failed one under restartPolicy Never fails the pod; app containers wait for all of them.
- a running container is killed when it is in an old sandbox, failed its liveness or startup probe, or its
  hash (name + image) changed; it is reconsidered once it has stopped (the next PodActions).
- a container that is not running starts when ShouldContainerBeRestarted says so, after the crash-loop backoff
  (first restart immediate), with restartCount = newest + 1.
- nothing runs and nothing is to start: the sandbox is stopped (the kubelet kills a pod whose work is done).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bootstrap.reconciler import model
from bootstrap.reconciler.pods.backoff import BackoffState, format_duration
from bootstrap.reconciler.pods.phase import history
from bootstrap.reconciler.runtime import ContainerRecord, naming

# Wake a little after a backoff expires, so the restart is not refused for a few milliseconds.
BACKOFF_SLACK = 0.05


@dataclass(frozen=True)
class ContainerToKill:
    container: model.Container
    record: ContainerRecord
    reason: str  # the Killing event's message ("Container c failed liveness probe, will be restarted")
    grace: int  # seconds: the pod's, or the failed probe's terminationGracePeriodSeconds


@dataclass(frozen=True)
class ContainerToStart:
    container: model.Container
    restart_count: int
    init: bool
    backoff_key: str | None = None  # a restart: the worker records it in the crash-loop backoff at this time
    finished_at: float | None = None  # the event time the backoff counts from


@dataclass(frozen=True)
class BackingOff:
    container: str
    message: str  # the Waiting message ("back-off 20s restarting failed container=c pod=...")
    event: str  # the BackOff event's message
    seconds_left: float


@dataclass(frozen=True)
class PodActions:
    sandbox: ContainerRecord | None = None  # the running sandbox the containers belong to
    kill_pod: bool = False  # stop every container and sandbox of the pod
    sandbox_changed: bool = False  # ... because the sandbox is gone or dead (the SandboxChanged event)
    create_sandbox: bool = False
    sandbox_attempt: int = 0
    init_done: bool = False  # every init container completed in `sandbox`: app containers may run
    containers_to_kill: tuple[ContainerToKill, ...] = ()
    containers_to_start: tuple[ContainerToStart, ...] = ()
    backing_off: tuple[BackingOff, ...] = ()
    settled: tuple[str, ...] = ()  # containers running as wanted or done for good: no waiting reason
    stop_sandbox: bool = False  # nothing runs and nothing is to start

    @property
    def wake_in(self) -> float | None:
        """When the next sync is due for a backoff to expire (None: no timer needed)."""
        return min((b.seconds_left + BACKOFF_SLACK for b in self.backing_off), default=None)

    @property
    def again(self) -> bool:
        """The runtime changes in a way the next decision depends on: list it and compute again."""
        return bool(self.containers_to_kill) or self.create_sandbox


def running_sandbox(records: list[ContainerRecord]) -> ContainerRecord | None:
    """The pod's sandbox when exactly one runs (none or several: it must be re-created)."""
    running = [r for r in records if r.is_sandbox and r.running]
    return running[0] if len(running) == 1 else None


def latest(records: list[ContainerRecord], name: str) -> ContainerRecord | None:
    past = history(records, name)
    return past[-1] if past else None


def should_restart(latest: ContainerRecord | None, restart_policy: str) -> bool:
    """The kubelet's ShouldContainerBeRestarted for a container's newest record."""
    if latest is None:
        return True  # never created (or garbage-collected): start it, whatever the policy
    if latest.running:
        return False
    failed_start = latest.state == "created" and bool(latest.error or latest.exit_code)
    if latest.state not in ("exited", "dead") and not failed_start:
        return True  # created but never started (interrupted): start it
    if restart_policy == "Never":
        return False
    return not (restart_policy == "OnFailure" and latest.exit_code == 0 and not failed_start)


def backoff_key(pod: model.StaticPod, container: model.Container) -> str:
    return f"{pod.uid}_{container.name}_{naming.container_hash(container)}"


def kill_reason(
    pod: model.StaticPod,
    container: model.Container,
    record: ContainerRecord,
    sandbox: ContainerRecord,
    probe_failure: model.ProbeKind | None,
) -> str | None:
    then = ", will be restarted" if pod.spec.restart_policy != "Never" else ""
    if record.sandbox_id and record.sandbox_id != sandbox.id:
        return f"Container {container.name} is in an old pod sandbox{then}"
    if probe_failure is not None:
        return f"Container {container.name} failed {probe_failure} probe{then}"
    if record.hash and record.hash != naming.container_hash(container):
        return f"Container {container.name} definition changed{then}"
    return None


@dataclass
class _Builder:
    pod: model.StaticPod
    records: list[ContainerRecord]
    sandbox: ContainerRecord
    backoff: BackoffState
    now: float
    probe_failures: Mapping[str, model.ProbeKind]
    kill: list[ContainerToKill] = field(default_factory=list)
    start: list[ContainerToStart] = field(default_factory=list)
    backing_off: list[BackingOff] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)

    def container(self, container: model.Container, *, init: bool) -> None:
        """The decision for one container: keep it, kill it, start it or let it back off."""
        pod = self.pod
        past = history(self.records, container.name)
        newest = past[-1] if past else None
        if newest is not None and newest.running:
            failure = self.probe_failures.get(newest.id)
            reason = kill_reason(pod, container, newest, self.sandbox, failure)
            if reason is None:
                self.settled.append(container.name)
                return
            grace = pod.spec.termination_grace_period
            probe = container.liveness if failure == "liveness" else container.startup if failure else None
            if probe is not None and probe.termination_grace_period is not None:
                grace = probe.termination_grace_period
            self.kill.append(ContainerToKill(container, newest, reason, grace))
            return
        if not should_restart(newest, pod.spec.restart_policy):
            self.settled.append(container.name)
            return
        restart_count = max((r.attempt for r in past), default=-1) + 1
        if newest is None:
            self.start.append(ContainerToStart(container, restart_count, init))
            return
        key = backoff_key(pod, container)
        finished = _timestamp(newest.finished_at or newest.created_at, self.now)
        left = self.backoff.remaining(key, finished, self.now)
        if left > 0:
            who = f"{pod.name}_{pod.namespace}({pod.uid})"
            self.backing_off.append(
                BackingOff(
                    container.name,
                    f"back-off {format_duration(self.backoff.current(key))} restarting failed container="
                    f"{container.name} pod={who}",
                    f"Back-off restarting failed container {container.name} in pod {who}",
                    left,
                )
            )
            return
        self.start.append(ContainerToStart(container, restart_count, init, key, finished))

    def init_containers(self) -> bool:
        """Decide for the first init container not yet complete; True when all are (app containers may run)."""
        for container in self.pod.spec.init_containers:
            mine = [r for r in history(self.records, container.name) if r.sandbox_id == self.sandbox.id]
            newest = mine[-1] if mine else None
            if newest is not None and newest.running:
                return False
            if newest is not None and newest.state == "exited" and newest.exit_code == 0:
                continue
            if newest is not None and self.pod.spec.restart_policy == "Never":
                return False  # failed under Never: the pod is Failed
            self.container(container, init=True)
            return False
        return True


def _timestamp(moment: datetime | None, now: float) -> float:
    return moment.timestamp() if moment is not None else now


def compute_pod_actions(
    pod: model.StaticPod,
    records: list[ContainerRecord],
    backoff: BackoffState,
    now: float,
    *,
    probe_failures: Mapping[str, model.ProbeKind] | None = None,
) -> PodActions:
    """What to do next for `pod`, whose containers the runtime reports as `records` (see the module docstring)."""
    sandbox = running_sandbox(records)
    if sandbox is None:
        ran = any(not r.is_sandbox for r in records)
        wanted = [c for c in pod.spec.containers if should_restart(latest(records, c.name), pod.spec.restart_policy)]
        if ran and (pod.spec.restart_policy == "Never" or not wanted):
            return PodActions(kill_pod=True)  # the pod is done: no sandbox just to stop it again
        sandboxes = sorted((r for r in records if r.is_sandbox), key=lambda r: r.attempt)
        return PodActions(
            kill_pod=bool(sandboxes),
            sandbox_changed=bool(sandboxes),
            create_sandbox=True,
            sandbox_attempt=sandboxes[-1].attempt + 1 if sandboxes else 0,
        )
    build = _Builder(pod, records, sandbox, backoff, now, probe_failures or {})
    init_done = build.init_containers()
    if init_done:
        for container in pod.spec.containers:
            build.container(container, init=False)
    running_apps = any(r.running and not r.is_sandbox for r in records)
    return PodActions(
        sandbox=sandbox,
        init_done=init_done,
        containers_to_kill=tuple(build.kill),
        containers_to_start=tuple(build.start),
        backing_off=tuple(build.backing_off),
        settled=tuple(build.settled),
        stop_sandbox=init_done and not (running_apps or build.kill or build.start or build.backing_off),
    )
