"""Creating a pod's sandbox and starting one of its containers, with the kubelet's events and waiting reasons.

create_sandbox   pause image (IfNotPresent), `k8s_POD_..._<attempt>`, started; a sandbox that fails to start
                 is removed again and the failure raised (the worker retries after its error backoff)
start_container  image per imagePullPolicy, volumes, create, start: Pulling/Pulled/Created/Started events, or
                 the waiting reason the container shows (ErrImagePull, ImagePullBackOff, ErrImageNeverPull,
                 ContainerCreating after a FailedMount, CreateContainerError, RunContainerError) and when to
                 try again
"""

from __future__ import annotations

import logging

from bootstrap import constants
from bootstrap.reconciler import model
from bootstrap.reconciler.errors import RuntimeOperationError
from bootstrap.reconciler.events import PodRef, Recorder
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.pods import translate
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.pods.images import ensure_image
from bootstrap.reconciler.pods.phase import Waiting
from bootstrap.reconciler.runtime import ContainerRecord, Runtime

_log = logging.getLogger(LOGGER)


def create_sandbox(
    runtime: Runtime,
    recorder: Recorder,
    image_backoff: Backoff,
    ctx: translate.PodContext,
    *,
    pause_image: str,
    attempt: int,
    ref: PodRef,
) -> ContainerRecord | Waiting:
    """The new, running sandbox; or how the containers wait when the pause image is not there."""
    waiting = ensure_image(
        runtime, recorder, image_backoff, image=pause_image, policy="IfNotPresent", pod=ref, container=None
    )
    if waiting is not None:
        return waiting
    spec = translate.sandbox_spec(ctx, pause_image, attempt)
    sandbox_id = ""
    try:
        sandbox_id = runtime.create(spec)
        runtime.start(sandbox_id)
    except RuntimeOperationError as exc:
        recorder.event("Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc.message}", pod=ref)
        if sandbox_id:
            runtime.remove(sandbox_id)  # a half-made sandbox would count as an attempt forever
        raise
    log(_log, logging.INFO, "Created pod sandbox", pod=ctx.pod.describe(), sandbox=spec.name)
    record = runtime.inspect(sandbox_id)
    if record is None:
        raise RuntimeOperationError(f"sandbox {spec.name} vanished right after it started")
    return record


def start_container(
    runtime: Runtime,
    recorder: Recorder,
    image_backoff: Backoff,
    ctx: translate.PodContext,
    container: model.Container,
    *,
    sandbox_id: str,
    restart_count: int,
    init: bool,
    ref: PodRef,
) -> tuple[Waiting | None, float | None]:
    """(None, None) when the container started; else its waiting state and seconds until it is worth retrying."""
    waiting = ensure_image(
        runtime,
        recorder,
        image_backoff,
        image=container.image,
        policy=container.image_pull_policy,
        pod=ref,
        container=container.name,
    )
    if waiting is not None:
        if waiting.reason == "ErrImageNeverPull":
            return waiting, None  # nothing changes until the manifest or the image store does
        key = f"{ref.uid}_{container.name}_{container.image}"
        return waiting, max(0.1, image_backoff.remaining_since_update(key))
    try:
        spec = translate.container_spec(ctx, container, sandbox_id, restart_count, init=init)
        container_id = runtime.create(spec)
    except translate.VolumeError as exc:
        recorder.event("Warning", "FailedMount", exc.message, pod=ref)
        return Waiting("ContainerCreating", exc.message), constants.POD_WORKER_ERROR_BACKOFF
    except RuntimeOperationError as exc:
        reason = "CreateContainerConfigError" if exc.reason == "CreateContainerConfigError" else "CreateContainerError"
        recorder.event("Warning", "Failed", f"Error: {exc.message}", pod=ref, container=container.name)
        return Waiting(reason, exc.message), constants.POD_WORKER_ERROR_BACKOFF
    recorder.event("Normal", "Created", "Container created", pod=ref, container=container.name)  # the kubelet's words
    try:
        runtime.start(container_id)
    except RuntimeOperationError as exc:
        recorder.event("Warning", "Failed", f"Error: {exc.message}", pod=ref, container=container.name)
        return Waiting("RunContainerError", exc.message), 0.1  # the dead record goes through the crash-loop backoff
    recorder.event("Normal", "Started", "Container started", pod=ref, container=container.name)
    return None, None
