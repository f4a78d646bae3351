"""Image pulls per imagePullPolicy, with the kubelet's events and its pull backoff (ErrImagePull, ImagePullBackOff).

    Never          present -> use it; missing -> ErrImageNeverPull
    IfNotPresent   present -> "already present on machine and can be accessed by the pod"; missing -> pull
    Always         pull every time a container is created

A failed pull records a backoff (10 s doubling to 300 s, the same flowcontrol backoff as crash loops); while it
runs the container waits with ImagePullBackOff instead of pulling again.
"""

from __future__ import annotations

import time

from bootstrap.reconciler.errors import ImagePullError
from bootstrap.reconciler.events import PodRef, Recorder
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.pods.phase import Waiting
from bootstrap.reconciler.runtime import Runtime


def ensure_image(
    runtime: Runtime,
    recorder: Recorder,
    backoff: Backoff,
    *,
    image: str,
    policy: str,
    pod: PodRef,
    container: str | None,
) -> Waiting | None:
    """None when `image` is ready to use, else the waiting state the container shows (and the events are sent)."""
    present = runtime.image_present(image)
    if policy == "Never":
        if present:
            return None
        message = f'Container image "{image}" is not present with pull policy of Never'
        recorder.event("Warning", "ErrImageNeverPull", message, pod=pod, container=container)
        return Waiting("ErrImageNeverPull", message)
    if present and policy != "Always":
        if container is not None:  # the sandbox's image: the kubelet's runtime finds it without an event
            # the kubelet's words since v1.35 (KubeletEnsureSecretPulledImages on by default)
            message = f'Container image "{image}" already present on machine and can be accessed by the pod'
            recorder.event("Normal", "Pulled", message, pod=pod, container=container)
        return None
    key = f"{pod.uid}_{container}_{image}"
    if backoff.remaining_since_update(key) > 0:
        message = f'Back-off pulling image "{image}"'
        recorder.event("Normal", "BackOff", message, pod=pod, container=container)
        return Waiting("ImagePullBackOff", message)
    recorder.event("Normal", "Pulling", f'Pulling image "{image}"', pod=pod, container=container)
    began = time.monotonic()
    try:
        runtime.pull(image)
    except ImagePullError as exc:
        backoff.next(key, backoff.clock())
        recorder.event("Warning", "Failed", exc.message, pod=pod, container=container)
        recorder.event("Warning", "Failed", "Error: ErrImagePull", pod=pod, container=container)
        return Waiting("ErrImagePull", exc.message)
    took = time.monotonic() - began
    recorder.event(
        "Normal",
        "Pulled",
        f'Successfully pulled image "{image}" in {took:.3g}s ({took:.3g}s including waiting)',
        pod=pod,
        container=container,
    )
    return None
