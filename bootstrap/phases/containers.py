"""The Docker containers of a static pod, found the way the kubelet's Docker-era runtime labelled them.

The bundled reconciler names and labels containers like dockershim did (`k8s_<container>_<pod>_<ns>_<uid>_<n>`,
labels `io.kubernetes.pod.name` / `.namespace` / `.container.name`, restart count in the annotation label
`annotation.io.kubernetes.container.restartCount`), so this works for its containers and for cri-dockerd's.
Used by the wait-control-plane diagnosis, `kbs status` and `kbs reset`; read-only except `remove`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bootstrap import constants
from bootstrap.errors import RuntimeUnavailableError
from bootstrap.phases.images import docker_client
from bootstrap.reconciler.runtime import naming

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

# The label names are the reconciler's (one home: bootstrap/reconciler/runtime/naming.py).
POD_NAME = naming.POD_NAME
POD_NAMESPACE = naming.POD_NAMESPACE
CONTAINER_NAME = naming.CONTAINER_NAME
RESTART_COUNT = naming.ANNOTATION + naming.RESTART_COUNT
SANDBOX = naming.SANDBOX_CONTAINER


@dataclass(frozen=True)
class Container:
    id: str
    name: str  # docker name
    pod: str
    namespace: str
    container: str  # the pod's container name; "POD" for the sandbox
    state: str  # running, exited, created, ...
    exit_code: int | None
    restart_count: int
    started_at: datetime | None
    image: str
    reconciler: str  # the io.kbs.reconciler label: which kbs reconciler instance started it ("" for others)

    @property
    def sandbox(self) -> bool:
        return self.container == SANDBOX or self.name.startswith(f"{naming.PREFIX}_{SANDBOX}_")


def _parse_time(text: str) -> datetime | None:
    if not text or text.startswith("0001-"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}").replace(tzinfo=UTC)
    return None


def _from_docker(raw: Any) -> Container:
    attrs = raw.attrs
    labels = attrs.get("Config", {}).get("Labels") or {}
    state = attrs.get("State", {})
    name = attrs.get("Name", "").lstrip("/")
    parts = name.split("_")
    container = labels.get(CONTAINER_NAME) or (parts[1] if len(parts) >= 6 and parts[0] == naming.PREFIX else "")
    try:
        restarts = int(labels.get(RESTART_COUNT, parts[5] if len(parts) >= 6 else 0))
    except ValueError:
        restarts = 0
    return Container(
        id=attrs.get("Id", "")[:12],
        name=name,
        pod=labels.get(POD_NAME, parts[2] if len(parts) >= 6 else ""),
        namespace=labels.get(POD_NAMESPACE, parts[3] if len(parts) >= 6 else ""),
        container=container,
        state=state.get("Status", "unknown"),
        exit_code=state.get("ExitCode") if state.get("Status") == "exited" else None,
        restart_count=restarts,
        started_at=_parse_time(state.get("StartedAt", "")),
        image=attrs.get("Config", {}).get("Image", ""),
        reconciler=labels.get(constants.RECONCILER_LABEL, ""),
    )


def list_pod_containers(cfg: KbsConfig, namespace: str | None = None, pod: str | None = None) -> list[Container]:
    """Containers (sandboxes too, running or not) that carry a pod label, optionally of one pod."""
    filters = [POD_NAME if pod is None else f"{POD_NAME}={pod}"]
    if namespace is not None:
        filters.append(f"{POD_NAMESPACE}={namespace}")
    with docker_client(cfg) as client:
        # ignore_removed: the SDK inspects each listed container; one the reconciler removes in between is skipped
        # rather than failing the whole listing with NotFound (seen during `etcd snapshot restore`).
        found = client.containers.list(all=True, filters={"label": filters}, ignore_removed=True)
        return [_from_docker(c) for c in found]


def current(containers: list[Container], container_name: str) -> Container | None:
    """The newest container of `container_name` (highest restart count, then the running one)."""
    mine = [c for c in containers if c.container == container_name and not c.sandbox]
    if not mine:
        return None
    return max(
        mine, key=lambda c: (c.restart_count, c.state == "running", c.started_at or datetime.min.replace(tzinfo=UTC))
    )


def logs(cfg: KbsConfig, container_id: str, lines: int = 15) -> list[str]:
    with docker_client(cfg) as client:
        try:
            raw = client.containers.get(container_id).logs(tail=lines, stdout=True, stderr=True)
        except Exception as exc:  # a diagnosis must not fail on a vanished container
            return [f"(cannot read the log: {exc})"]
    text: str = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return text.rstrip("\n").splitlines()[-lines:]


def remove(cfg: KbsConfig, containers: list[Container]) -> list[Container]:
    """Force-remove containers (workload first, sandboxes last); returns the ones actually removed.

    A container someone else is already removing (Docker answers 409) counts as removed once it is gone.
    """
    import docker

    removed = []
    ordered = sorted(containers, key=lambda c: c.sandbox)
    with docker_client(cfg) as client:
        for item in ordered:
            try:
                client.containers.get(item.id).remove(force=True, v=True)
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as exc:
                if exc.status_code != 409 or not _gone(client, item.id):
                    raise RuntimeUnavailableError(
                        f"cannot remove container {item.name}: {exc.explanation or exc}",
                        hint="run `kbs reset` again, or remove it with `docker rm -f`",
                    ) from exc
            removed.append(item)
    return removed


def _gone(client: Any, container_id: str, timeout: float = 30.0) -> bool:
    import docker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.containers.get(container_id)
        except docker.errors.NotFound:
            return True
        time.sleep(0.2)
    return False
