"""After kube-apiserver's new manifest is written: stop waiting for the old API server once it no longer listens.

On SIGTERM the API server closes its listener at once (kubeadm's manifest sets no --shutdown-delay-duration), then
waits for the watches it still serves, up to its request timeout (60 s). That is longer than the pod's 30 s
grace period, so the runtime kills it after 30 s, and only then can the new version start: the kubelet, and the
reconciler like it, start a static pod's new version once the old one has stopped. Measured on one node: 30 of
the 33 s the API was away during `kbs upgrade apply` (docs/performance.md). So once the old API server's
container has been asked to stop — its port refuses connections while it still runs — kbs kills it: it serves no
request any more, and its watchers must reconnect to the new one either way. Only the bundled reconciler's
Docker containers of the old pod (by its UID, the mirror pod's config hash); with the kubelet the wait stays.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bootstrap import constants
from bootstrap.reconciler.runtime import naming

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

INTERVAL = 0.2


def listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _old_containers(client: Any, cfg: KbsConfig, old_uid: str) -> list[Any]:
    labels = [
        f"{naming.POD_NAME}={constants.KUBE_APISERVER}-{cfg.node_name}",
        f"{naming.POD_NAMESPACE}={constants.KUBE_SYSTEM}",
        f"{naming.POD_UID}={old_uid}",
    ]
    found = client.containers.list(filters={"label": labels, "status": "running"}, ignore_removed=True)
    return [c for c in found if c.labels.get(naming.CONTAINER_NAME) != naming.SANDBOX_CONTAINER]


def hurry_old_apiserver(
    cfg: KbsConfig,
    old_uid: str,
    timeout: float,
    say: Callable[[str], None],
    *,
    is_listening: Callable[[str, int], bool] = listening,
) -> bool:
    """Kill the old API server's container once it stopped listening (within `timeout`); whether it was killed."""
    from bootstrap.errors import KbsError
    from bootstrap.phases import health
    from bootstrap.phases.images import docker_client

    if cfg.kbs.reconciler.mode != "bundled" or not old_uid:
        return False
    url = urlsplit(next(e.url for e in health.endpoints(cfg) if e.component == constants.KUBE_APISERVER))
    host, port = url.hostname or cfg.loopback, url.port or cfg.bind_port
    deadline = time.monotonic() + timeout
    try:
        with docker_client(cfg) as client:
            while time.monotonic() < deadline:
                old = _old_containers(client, cfg, old_uid)
                if not old:
                    return False  # it stopped by itself (or never ran under this UID)
                if not is_listening(host, port):
                    for container in old:
                        with contextlib.suppress(Exception):  # gone in between: what we wanted
                            container.kill()
                    say("the old kube-apiserver stopped listening; killed it instead of waiting for its watches")
                    return True
                time.sleep(INTERVAL)
    except KbsError:
        return False  # no Docker to ask: the reconciler's own grace period applies
    return False
