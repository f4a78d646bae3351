"""Stopping containers the kubelet's way: preStop hook, then the stop signal, SIGKILL after the grace period.

Works from the pod spec when there is one, and from the container's labels alone otherwise (the preStop handler
and the grace period are stored there), so a restarted reconciler can stop the containers of a pod whose
manifest is gone. Containers of one pod are stopped in parallel; the sandbox goes last.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Iterable

from bootstrap import constants
from bootstrap.errors import KbsError
from bootstrap.reconciler import model
from bootstrap.reconciler.events import PodRef, Recorder
from bootstrap.reconciler.pods import prober
from bootstrap.reconciler.runtime import ContainerRecord, Runtime, naming


def kill_container(
    runtime: Runtime,
    recorder: Recorder,
    pod: PodRef,
    record: ContainerRecord,
    grace: int,
    *,
    container: model.Container | None = None,
    message: str | None = None,
    pod_ip: str = "",
) -> None:
    """Run preStop (bounded by `grace`), then stop with the rest of the grace period (at least 2 s)."""
    name = record.container_name
    recorder.event("Normal", "Killing", message or f"Stopping container {name}", pod=pod, container=name)
    handler = (
        container.pre_stop
        if container
        else naming.handler_from_json(record.labels.get(naming.ANNOTATION + naming.PRE_STOP))
    )
    if handler is not None and grace > 0:
        began = time.monotonic()
        spec = container or model.Container(name=name, image=record.image)
        ok, detail = prober.run(handler, prober.Target(spec, record.id, pod_ip or "127.0.0.1"), runtime, grace)
        if not ok:
            recorder.event("Warning", "FailedPreStopHook", f"PreStopHook failed: {detail}", pod=pod, container=name)
        grace -= int(time.monotonic() - began)
    runtime.stop(record.id, max(grace, constants.MIN_CONTAINER_GRACE_SECONDS))


def kill_pod(
    runtime: Runtime,
    recorder: Recorder,
    pod: PodRef,
    records: Iterable[ContainerRecord],
    grace: int,
    *,
    spec: model.StaticPod | None = None,
    pod_ip: str = "",
) -> None:
    """Stop every running container of a pod in parallel, then its sandboxes."""
    records = list(records)
    apps = [r for r in records if r.running and not r.is_sandbox]
    grace = max(grace, 1)  # "no matter what, we always supply a grace period of 1"
    if apps:
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=min(8, len(apps)), thread_name_prefix="kbs-kill"
        ) as pool:
            futures = [
                pool.submit(
                    kill_container,
                    runtime,
                    recorder,
                    pod,
                    r,
                    grace,
                    container=spec.container(r.container_name) if spec else None,
                    pod_ip=pod_ip,
                )
                for r in apps
            ]
            for future in futures:
                with contextlib.suppress(KbsError):
                    future.result()
    for sandbox in (r for r in records if r.running and r.is_sandbox):
        runtime.stop(sandbox.id, constants.MIN_CONTAINER_GRACE_SECONDS)


def garbage(
    records: Iterable[ContainerRecord], *, keep_sandbox: str | None = None, keep_last_state: bool = False
) -> list[ContainerRecord]:
    """Dead containers to remove: all but the newest per container name; every dead sandbox but `keep_sandbox`.

    With `keep_last_state` (a live pod's worker), a container whose newest record is dead also keeps the one before:
    the status shows a container's two newest records (state and lastState), as the kubelet's does, whose garbage
    collector leaves dead containers for a minute at least."""
    out: list[ContainerRecord] = []
    by_name: dict[str, list[ContainerRecord]] = {}
    running: set[str] = set()
    for record in records:
        if record.running:
            running.add(record.container_name)
            continue
        if record.is_sandbox:
            if record.id != keep_sandbox:
                out.append(record)
            continue
        by_name.setdefault(record.container_name, []).append(record)
    for name, dead in by_name.items():
        dead.sort(key=lambda r: (r.attempt, r.created_at.timestamp() if r.created_at else 0.0))
        keep = 2 if keep_last_state and name not in running else 1
        out.extend(dead[: max(0, len(dead) - keep)])
    return out
