"""When a rewritten static pod counts as running its new manifest, and healthy.

kubeadm waits for the mirror pod's `kubernetes.io/config.hash` to change (WaitForStaticPodHashChange), then for
the component. kbs asks the same of the mirror pod, plus that every container the pod status reports runs the
expected image, and that the component's health endpoint (bootstrap.phases.health) answers 200 on two probes in a
row — so the old container, still answering while it terminates, is not mistaken for the new one. `judge` is pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bootstrap import constants
from bootstrap.errors import KbsError
from bootstrap.phases import health

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig
    from bootstrap.kube.api import KubeAPI

POLL_INTERVAL = 0.5
CONFIG_HASH = "kubernetes.io/config.hash"


@dataclass(frozen=True)
class Observation:
    hash: str | None  # the mirror pod's config hash; None: no mirror pod seen (API down, not created yet)
    images: tuple[str, ...]  # images of the containers the pod status reports running
    healthy: bool  # the health endpoint answered 200
    detail: str = ""


def judge(obs: Observation, *, image: str, not_hash: str | None) -> bool:
    """Whether the component runs the wanted manifest and is healthy."""
    if not obs.healthy:
        return False
    if obs.hash is not None and not_hash is not None and obs.hash == not_hash:
        return False  # still the mirror pod of the manifest we replaced
    if obs.hash is None and not_hash is not None:
        return False  # the change was not seen yet
    return bool(obs.images) and all(i == image for i in obs.images)


def mirror_pod(api: KubeAPI | None, cfg: KbsConfig, component: str) -> dict[str, Any] | None:
    if api is None:
        return None
    try:
        return api.get("v1", "Pod", f"{component}-{cfg.node_name}", constants.KUBE_SYSTEM)
    except (KbsError, OSError):
        return None


def observe(cfg: KbsConfig, api: KubeAPI | None, component: str) -> Observation:
    pod = mirror_pod(api, cfg, component)
    endpoint = next(e for e in health.endpoints(cfg) if e.component == component)
    probe = health.probe(endpoint)
    if pod is None:
        return Observation(None, (), probe.healthy, probe.detail)
    annotations = pod.get("metadata", {}).get("annotations") or {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    images = tuple(str(s.get("image", "")) for s in statuses if "running" in (s.get("state") or {}))
    return Observation(annotations.get(CONFIG_HASH), images, probe.healthy, probe.detail)


def wait(
    observe_once: Callable[[], Observation],
    *,
    image: str,
    not_hash: str | None,
    timeout: float,
    interval: float = POLL_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, Observation]:
    """Poll until `judge` holds on two observations in a row, or `timeout` passes; returns (ok, last seen)."""
    deadline = clock() + timeout
    streak = 0
    last = Observation(None, (), False, "not observed")
    while True:
        last = observe_once()
        streak = streak + 1 if judge(last, image=image, not_hash=not_hash) else 0
        if streak >= 2:
            return True, last
        if clock() >= deadline:
            return False, last
        sleep(interval)
