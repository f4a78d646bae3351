"""The v1 status of a pod from what the runtime reports: container states, phase, conditions (kubelet getPhase).

Container state: running; terminated (reason OOMKilled, Completed, Error, or ContainerCannotRun when it never
started) with its exit code and termination message; or waiting with the reason the pod worker recorded
(ContainerCreating, CrashLoopBackOff, ErrImagePull, ImagePullBackOff, CreateContainerConfigError, ...), the last
termination then being `lastState`. Phase: Pending while any container waits without having run, Running while
one runs, and once all have stopped Running/Succeeded/Failed by restartPolicy. Conditions: PodScheduled,
PodReadyToStartContainers, Initialized, ContainersReady and Ready, keeping their lastTransitionTime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from bootstrap.reconciler import model
from bootstrap.reconciler.defaulting import CONFIG_HASH
from bootstrap.reconciler.pods.probes import PodProbes
from bootstrap.reconciler.quantity import parse_quantity
from bootstrap.reconciler.runtime import ContainerRecord
from bootstrap.reconciler.status import ContainerState, ContainerStatus, PodCondition, PodStatus

MAX_MESSAGE = 4096


@dataclass(frozen=True)
class Waiting:
    reason: str
    message: str = ""


def history(records: list[ContainerRecord], name: str) -> list[ContainerRecord]:
    """App-container records of `name`, oldest first (by restart count, then creation)."""
    mine = [r for r in records if not r.is_sandbox and r.container_name == name]
    return sorted(mine, key=lambda r: (r.attempt, r.created_at or datetime.min.replace(tzinfo=UTC)))


def terminated_state(
    record: ContainerRecord,
    message_file: Path | None = None,
    logs_tail: Callable[[ContainerRecord], str] | None = None,
) -> ContainerState:
    """The terminated state of a dead container. Its message: the runtime's error, else the termination-message
    file, else (`logs_tail`, for terminationMessagePolicy FallbackToLogsOnError) the end of its log when it
    failed after it ran, as the kubelet reads it."""
    never_ran = record.state == "created" or record.started_at is None
    if record.oom_killed:
        reason = "OOMKilled"
    elif never_ran and (record.exit_code or record.error):
        reason = "ContainerCannotRun"
    elif record.exit_code == 0:
        reason = "Completed"
    else:
        reason = "Error"
    message = record.error or None
    if message_file is not None and not message:
        try:
            message = message_file.read_bytes()[:MAX_MESSAGE].decode(errors="replace") or None
        except OSError:
            message = None
    if not message and logs_tail is not None and record.exit_code and reason != "ContainerCannotRun":
        message = logs_tail(record) or None
    return ContainerState(
        "terminated",
        reason=reason,
        message=message,
        exit_code=record.exit_code if record.exit_code is not None else 0,
        started_at=record.started_at,
        finished_at=record.finished_at,
        container_id=f"docker://{record.id}",
    )


def volume_mount_statuses(container: model.Container) -> tuple[dict[str, Any], ...]:
    """The container's mounts as its status lists them (the kubelet's RecursiveReadOnlyMounts, on by default): a
    read-only mount says `recursiveReadOnly: Disabled`, since a static pod cannot ask for recursive read-only
    mounts without a runtime handler that supports them."""
    out: list[dict[str, Any]] = []
    for mount in container.volume_mounts:
        item: dict[str, Any] = {"name": mount.name, "mountPath": mount.mount_path}
        if mount.read_only:
            item |= {"readOnly": True, "recursiveReadOnly": "Disabled"}
        out.append(item)
    return tuple(out)


def container_status(
    container: model.Container,
    records: list[ContainerRecord],
    probes: PodProbes,
    waiting: Waiting | None,
    *,
    message_file: Callable[[int], Path] | None = None,
    not_yet: str = "ContainerCreating",
    logs_tail: Callable[[ContainerRecord], str] | None = None,
    resources: dict[str, dict[str, str]] | None = None,
    init: bool = False,
) -> ContainerStatus:
    past = history(records, container.name)
    latest = past[-1] if past else None
    previous = past[-2] if len(past) > 1 else None
    last_state = None
    if latest is None:
        state = ContainerState(
            "waiting",
            reason=(waiting.reason if waiting else not_yet),
            message=(waiting.message or None) if waiting else None,
        )
        return ContainerStatus(
            name=container.name,
            state=state,
            image=container.image,
            started=False,
            volume_mounts=volume_mount_statuses(container),
        )

    def file_of(n: int) -> Path | None:
        return message_file(n) if message_file else None

    fallback = logs_tail if container.termination_message_policy == "FallbackToLogsOnError" else None

    if latest.running:
        state = ContainerState("running", started_at=latest.started_at)
        if previous is not None and not previous.running:
            last_state = terminated_state(previous, file_of(previous.attempt), fallback)
        ready = False if init else probes.ready(latest.id, container)  # a running init container is not ready
        started: bool | None = probes.started(latest.id, container)
    else:
        finished = terminated_state(latest, file_of(latest.attempt), fallback)
        if waiting is not None:
            state = ContainerState("waiting", reason=waiting.reason, message=waiting.message or None)
            last_state = finished
        else:
            state = finished
            if previous is not None and not previous.running:
                last_state = terminated_state(previous, file_of(previous.attempt), fallback)
        ready, started = False, False
        if init:  # a completed init container is ready (the kubelet's prober manager says so)
            ready = state.kind == "terminated" and state.exit_code == 0
    spec_resources = resources or {}
    return ContainerStatus(
        name=container.name,
        state=state,
        last_state=last_state,
        ready=ready,
        started=started,
        restart_count=latest.attempt,
        image=container.image,
        image_id=f"docker://{latest.image_id}" if latest.image_id and "://" not in latest.image_id else latest.image_id,
        container_id=f"docker://{latest.id}",
        volume_mounts=volume_mount_statuses(container),
        resources=spec_resources,  # what Docker applied: the spec's (InPlacePodVerticalScaling's status)
        allocated_resources=spec_resources.get("requests") or None,
    )


def pod_phase(
    spec: model.PodSpec, statuses: tuple[ContainerStatus, ...], init_statuses: tuple[ContainerStatus, ...]
) -> Literal["Pending", "Running", "Succeeded", "Failed"]:
    for status in init_statuses:
        if status.state.kind == "terminated" and status.state.exit_code == 0:
            continue
        failed = status.state.kind == "terminated" or (status.last_state is not None and status.state.kind == "waiting")
        if failed and spec.restart_policy == "Never":
            return "Failed"
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for status in statuses:
        if status.state.kind == "running":
            running += 1
        elif status.state.kind == "terminated":
            stopped += 1
            succeeded += status.state.exit_code == 0
        elif status.last_state is not None and status.last_state.kind == "terminated":
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if spec.restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Running" if spec.restart_policy == "OnFailure" else "Failed"
    return "Pending"


def _condition(
    kind: str,
    ok: bool,
    previous: Mapping[str, PodCondition],
    now: datetime,
    *,
    reason: str = "",
    message: str = "",
    reason_if_true: str = "",
) -> PodCondition:
    status: Literal["True", "False"] = "True" if ok else "False"
    before = previous.get(kind)
    since = before.last_transition_time if before is not None and before.status == status else now
    if ok:
        return PodCondition(kind, status, reason_if_true or None, None, since)
    return PodCondition(kind, status, reason or None, message or None, since)


def sandbox_not_ready(records: list[ContainerRecord]) -> str:
    """Why a pod needs a new sandbox, in the kubelet's words (PodReadyToStartContainers' message); "" if not."""
    sandboxes = [r for r in records if r.is_sandbox]
    ready = [r for r in sandboxes if r.running]
    if not sandboxes:
        return "no pod sandbox exists"
    if len(ready) > 1:
        return "multiple pod sandboxes are ready and need to be reconciled"
    return "" if ready else "pod sandbox is not ready"


def _resources(manifest: Mapping[str, object]) -> dict[str, dict[str, str]]:
    raw = manifest.get("resources")
    found = raw if isinstance(raw, dict) else {}
    return {k: dict(v) for k in ("limits", "requests") if isinstance(v := found.get(k), dict) and v}


def pod_requests(pod: model.StaticPod) -> dict[str, str]:
    """The pod's requests as the kubelet's resourcehelper.PodRequests adds them up (status.allocatedResources):
    the app containers' sum, at least each init container's own. Plain decimal numbers: the API server writes
    them in canonical form (50m, 64Mi)."""
    spec = pod.manifest.get("spec") or {}
    apps = [_resources(c).get("requests", {}) for c in spec.get("containers") or []]
    inits = [_resources(c).get("requests", {}) for c in spec.get("initContainers") or []]
    total: dict[str, str] = {}
    for name in sorted({k for r in (*apps, *inits) for k in r}):
        given = [str(r[name]) for r in apps if name in r]
        summed = sum((parse_quantity(v) for v in given), Decimal(0))
        text = given[0] if len(given) == 1 else _canonical(summed, binary=all(v[-2:-1] == "i" for v in given))
        for value in (str(r[name]) for r in inits if name in r):
            if parse_quantity(value) > parse_quantity(text):
                text = value
        total[name] = text
    return total


def _canonical(value: Decimal, *, binary: bool) -> str:
    """A sum of quantities in the form Kubernetes writes it: the largest binary suffix that is exact (when the
    parts had binary suffixes), else a whole number or millis."""
    if binary:
        for suffix, size in (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size and value % size == 0:
                return f"{value // size}{suffix}"
    if value == value.to_integral_value():
        return str(int(value))
    return f"{int((value * 1000).to_integral_value())}m"


def build_status(
    pod: model.StaticPod,
    records: list[ContainerRecord],
    probes: PodProbes,
    waiting: Mapping[str, Waiting],
    *,
    sandbox: ContainerRecord | None,
    node_ip: str,
    start_time: datetime | None,
    previous: PodStatus | None,
    terminating: bool,
    qos_class: str,
    message_file: Callable[[str, int], Path] | None = None,
    logs_tail: Callable[[ContainerRecord], str] | None = None,
) -> PodStatus:
    def file_for(name: str) -> Callable[[int], Path] | None:
        return (lambda n: message_file(name, n)) if message_file else None

    spec = pod.manifest.get("spec") or {}
    limits = {c.get("name"): _resources(c) for k in ("containers", "initContainers") for c in spec.get(k) or []}
    init = tuple(  # the kubelet's default for every container of a pod with init containers: PodInitializing
        container_status(
            c,
            records,
            probes,
            waiting.get(c.name),
            message_file=file_for(c.name),
            not_yet="PodInitializing",
            logs_tail=logs_tail,
            resources=limits.get(c.name),
            init=True,
        )
        for c in pod.spec.init_containers
    )
    incomplete = [s.name for s in init if not (s.state.kind == "terminated" and s.state.exit_code == 0)]
    regular = tuple(
        container_status(
            c,
            records,
            probes,
            waiting.get(c.name),
            message_file=file_for(c.name),
            not_yet="PodInitializing" if pod.spec.init_containers else "ContainerCreating",  # the kubelet's default
            logs_tail=logs_tail,
            resources=limits.get(c.name),
        )
        for c in pod.spec.containers
    )
    phase = pod_phase(pod.spec, regular, init)
    now = datetime.now(UTC).replace(microsecond=0)
    before = {c.type: c for c in previous.conditions} if previous else {}
    unready = [s.name for s in regular if not s.ready]
    done = phase in ("Succeeded", "Failed")
    ready_reason = {"Succeeded": "PodCompleted", "Failed": "PodFailed"}.get(phase, "ContainersNotReady")
    ready_message = "" if done else f"containers with unready status: [{' '.join(unready)}]"
    not_ready = sandbox_not_ready(records)
    conditions = (
        _condition(
            "PodReadyToStartContainers", not not_ready, before, now, reason="PodSandboxNotReady", message=not_ready
        ),
        _condition(
            "Initialized",
            not incomplete or phase == "Succeeded",
            before,
            now,
            reason="ContainersNotInitialized",
            message=f"containers with incomplete status: [{' '.join(incomplete)}]",
            reason_if_true="PodCompleted" if phase == "Succeeded" else "",
        ),
        _condition("Ready", not unready and not done, before, now, reason=ready_reason, message=ready_message),
        _condition(
            "ContainersReady", not unready and not done, before, now, reason=ready_reason, message=ready_message
        ),
        _condition("PodScheduled", True, before, now),
    )
    if pod.spec.host_network:
        pod_ip: str | None = node_ip
    elif sandbox is not None and sandbox.running:
        pod_ip = sandbox.ip
    else:  # a stopped sandbox (a finished pod): the IP stays what the pod had, as in the kubelet's last status
        pod_ip = previous.pod_ip if previous is not None else None
    return PodStatus(
        name=pod.name,
        namespace=pod.namespace,
        uid=pod.uid,
        hash=pod.annotations.get(CONFIG_HASH, pod.uid),
        source=pod.source,
        origin=pod.origin,
        phase=phase,
        conditions=conditions,
        container_statuses=regular,
        init_container_statuses=init,
        pod_ip=pod_ip,
        host_ip=node_ip,
        start_time=start_time,
        observed_at=now,
        terminating=terminating,
        qos_class=qos_class,
        allocated_resources=pod_requests(pod),
        manifest=pod.manifest,
    )
