"""The per-pod status store: what the reconciler knows about each static pod, readable without Docker.

One JSON file per pod under `<state-dir>/pods/<namespace>_<name>.json`, written atomically (bootstrap.fsutil) each
time the status changes and removed when the pod is gone. The file holds the full v1 Pod (defaulted manifest
plus a v1 `status` with phase, conditions and containerStatuses in the API's own shape), so a mirror-pod
publisher can POST it as is, and a wrapper with what the API has no field for:

    {"apiVersion": "kbs.dev/v1alpha1", "kind": "StaticPodStatus", "origin": "/etc/kubernetes/manifests/etcd.yaml",
     "observedAt": "...", "terminating": false, "pod": {"apiVersion": "v1", "kind": "Pod", ..., "status": {...}}}

Readers: `read_statuses(state_dir)` -> list[PodStatus], `read_status(state_dir, namespace, name)`. Writers: the
reconciler only (`write_status`, `remove_status`). Times are timezone-aware UTC datetimes in the typed objects
and RFC 3339 strings in the files.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bootstrap.fsutil import atomic_write

PODS_DIR = "pods"
STATUS_KIND = "StaticPodStatus"
STATUS_API_VERSION = "kbs.dev/v1alpha1"


def format_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (any fraction, `Z` or offset) -> aware datetime; Docker's zero time and junk -> None."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python wants at most 6 fraction digits
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ContainerState:
    """One of the API's three container states."""

    kind: Literal["waiting", "running", "terminated"]
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    container_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        if self.kind == "waiting":
            body: dict[str, Any] = {"reason": self.reason, "message": self.message}
        elif self.kind == "running":
            body = {"startedAt": format_time(self.started_at)}
        else:
            body = {
                "exitCode": self.exit_code if self.exit_code is not None else 0,
                "reason": self.reason,
                "message": self.message,
                "startedAt": format_time(self.started_at),
                "finishedAt": format_time(self.finished_at),
                "containerID": self.container_id,
            }
        return {self.kind: {k: v for k, v in body.items() if v is not None}}

    @classmethod
    def from_api(cls, data: Any) -> ContainerState | None:
        if not isinstance(data, dict) or not data:
            return None
        kind = next((k for k in ("running", "terminated", "waiting") if k in data), None)
        if kind is None:
            return None
        body = data[kind] or {}
        return cls(
            kind=kind,  # type: ignore[arg-type]
            reason=body.get("reason"),
            message=body.get("message"),
            started_at=parse_time(body.get("startedAt")),
            finished_at=parse_time(body.get("finishedAt")),
            exit_code=body.get("exitCode"),
            container_id=body.get("containerID"),
        )


@dataclass(frozen=True)
class ContainerStatus:
    name: str
    state: ContainerState
    image: str
    last_state: ContainerState | None = None
    ready: bool = False
    started: bool | None = None
    restart_count: int = 0
    image_id: str = ""
    container_id: str | None = None  # "docker://<id>" of the current container
    volume_mounts: tuple[dict[str, Any], ...] = ()  # the API's VolumeMountStatus items, from the container's spec
    resources: dict[str, Any] | None = None  # requests/limits the runtime applied (None: no container yet)
    allocated_resources: dict[str, Any] | None = None  # the requests (None: none)

    @property
    def reason(self) -> str | None:
        return self.state.reason

    @property
    def exit_code(self) -> int | None:
        return self.state.exit_code

    @property
    def started_at(self) -> datetime | None:
        return self.state.started_at

    @property
    def running(self) -> bool:
        return self.state.kind == "running"

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "state": self.state.to_api(),
            "lastState": self.last_state.to_api() if self.last_state else {},
            "ready": self.ready,
            "restartCount": self.restart_count,
            "image": self.image,
            "imageID": self.image_id,
        }
        if self.started is not None:
            out["started"] = self.started
        if self.container_id:
            out["containerID"] = self.container_id
        if self.volume_mounts:
            out["volumeMounts"] = [dict(m) for m in self.volume_mounts]
        if self.resources is not None:
            out["resources"] = self.resources
        if self.allocated_resources:
            out["allocatedResources"] = self.allocated_resources
        return out

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ContainerStatus:
        return cls(
            name=str(data.get("name", "")),
            state=ContainerState.from_api(data.get("state")) or ContainerState("waiting"),
            last_state=ContainerState.from_api(data.get("lastState")),
            ready=bool(data.get("ready")),
            started=data.get("started"),
            restart_count=int(data.get("restartCount") or 0),
            image=str(data.get("image", "")),
            image_id=str(data.get("imageID", "")),
            container_id=data.get("containerID"),
            volume_mounts=tuple(dict(m) for m in data.get("volumeMounts") or [] if isinstance(m, dict)),
            resources=data.get("resources"),
            allocated_resources=data.get("allocatedResources"),
        )


@dataclass(frozen=True)
class PodCondition:
    type: str  # PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady, Ready
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "status": self.status}
        if self.last_transition_time:
            out["lastTransitionTime"] = format_time(self.last_transition_time)
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        return out

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> PodCondition:
        return cls(
            type=str(data.get("type")),
            status=data.get("status", "Unknown"),
            reason=data.get("reason"),
            message=data.get("message"),
            last_transition_time=parse_time(data.get("lastTransitionTime")),
        )


@dataclass(frozen=True)
class PodStatus:
    """A static pod as the reconciler sees it: identity, where it came from, and its v1 status."""

    name: str
    namespace: str
    uid: str
    hash: str  # kubernetes.io/config.hash (= uid)
    source: str  # "file" or "http"
    origin: str  # the manifest path or URL
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"]
    conditions: tuple[PodCondition, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    pod_ip: str | None = None
    host_ip: str | None = None
    start_time: datetime | None = None
    observed_at: datetime | None = None
    terminating: bool = False  # the pod was removed or replaced and is being stopped
    qos_class: str = "BestEffort"
    allocated_resources: dict[str, Any] = field(default_factory=dict)  # the pod's requests, added up
    manifest: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.name}_{self.namespace}"

    @property
    def ready(self) -> bool:
        cond = self.condition("Ready")
        return cond is not None and cond.status == "True"

    def condition(self, kind: str) -> PodCondition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def container(self, name: str) -> ContainerStatus | None:
        return next((c for c in (*self.init_container_statuses, *self.container_statuses) if c.name == name), None)

    def api_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "phase": self.phase,
            "conditions": [c.to_api() for c in self.conditions],
            "containerStatuses": [c.to_api() for c in self.container_statuses],
            "qosClass": self.qos_class,
        }
        if self.init_container_statuses:
            out["initContainerStatuses"] = [c.to_api() for c in self.init_container_statuses]
        if self.host_ip:
            out["hostIP"] = self.host_ip
            out["hostIPs"] = [{"ip": self.host_ip}]
        if self.pod_ip:
            out["podIP"] = self.pod_ip
            out["podIPs"] = [{"ip": self.pod_ip}]
        if self.start_time:
            out["startTime"] = format_time(self.start_time)
        if self.allocated_resources:
            out["allocatedResources"] = self.allocated_resources
        return out

    def pod_object(self) -> dict[str, Any]:
        """The v1 Pod (defaulted manifest + status): what a mirror pod is made from."""
        pod = {k: v for k, v in self.manifest.items() if k != "status"}
        pod["status"] = self.api_status()
        return pod

    def to_json(self) -> dict[str, Any]:
        return {
            "apiVersion": STATUS_API_VERSION,
            "kind": STATUS_KIND,
            "origin": self.origin,
            "observedAt": format_time(self.observed_at),
            "terminating": self.terminating,
            "pod": self.pod_object(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PodStatus:
        pod = data.get("pod") or {}
        meta = pod.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        status = pod.get("status") or {}
        ips = status.get("podIP")
        return cls(
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            uid=str(meta.get("uid", "")),
            hash=str(annotations.get("kubernetes.io/config.hash", "")),
            source=str(annotations.get("kubernetes.io/config.source", "")),
            origin=str(data.get("origin", "")),
            phase=status.get("phase", "Unknown"),
            conditions=tuple(PodCondition.from_api(c) for c in status.get("conditions") or []),
            container_statuses=tuple(ContainerStatus.from_api(c) for c in status.get("containerStatuses") or []),
            init_container_statuses=tuple(
                ContainerStatus.from_api(c) for c in status.get("initContainerStatuses") or []
            ),
            pod_ip=ips,
            host_ip=status.get("hostIP"),
            start_time=parse_time(status.get("startTime")),
            observed_at=parse_time(data.get("observedAt")),
            terminating=bool(data.get("terminating")),
            qos_class=str(status.get("qosClass", "BestEffort")),
            allocated_resources=dict(status.get("allocatedResources") or {}),
            manifest={k: v for k, v in pod.items() if k != "status"},
        )


def status_path(state_dir: Path, namespace: str, name: str) -> Path:
    return state_dir / PODS_DIR / f"{namespace}_{name}.json"


def write_status(state_dir: Path, status: PodStatus) -> Path:
    path = status_path(state_dir, status.namespace, status.name)
    atomic_write(path, json.dumps(status.to_json(), indent=1, sort_keys=True) + "\n", mode=0o644, dir_mode=0o755)
    return path


def remove_status(state_dir: Path, namespace: str, name: str, uid: str | None = None) -> None:
    """Remove a pod's status file; with `uid`, only if the file still describes that pod."""
    path = status_path(state_dir, namespace, name)
    if uid is not None:
        current = _read(path)
        if current is not None and current.uid != uid:
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _read(path: Path) -> PodStatus | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") != STATUS_KIND:
        return None
    return PodStatus.from_json(data)


def read_status(state_dir: Path, namespace: str, name: str) -> PodStatus | None:
    """The status of one pod by its (suffixed) name, or None if the reconciler has no such pod."""
    return _read(status_path(state_dir, namespace, name))


def read_statuses(state_dir: Path) -> list[PodStatus]:
    """Every pod's status in `state_dir`, sorted by namespace and name; [] if the directory does not exist."""
    directory = state_dir / PODS_DIR
    if not directory.is_dir():
        return []
    found = (_read(p) for p in sorted(directory.glob("*.json")))
    return sorted((s for s in found if s is not None), key=lambda s: (s.namespace, s.name))
