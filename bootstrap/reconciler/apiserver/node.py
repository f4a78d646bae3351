"""The Node object and its Lease, as a kubelet registers and heartbeats them, for a node that runs static pods only.

Registration: the Node with the hostname/os/arch labels plus the `kbs.dev/static-pods-only` label and NoSchedule
taint, addresses, capacity and nodeInfo; when the Node already exists (registered by `kbs init`, a previous run or
a kubelet) it is taken over: the missing labels and the taint are added and its UID is used for the mirror pods'
ownerReference.

Truthful status: Ready reflects the reconciler (its loop runs and Docker answers) and says that the node runs
static pods only; MemoryPressure, DiskPressure and PIDPressure are measured against the kubelet's default hard
eviction thresholds (nothing is ever evicted: static pods are critical). Capacity is the kubelet's (110 pods), so
the scheduler works as with kubeadm, except that the static-pods-only taint also keeps away pods that tolerate the
control-plane taint (CoreDNS); a pod that tolerates both (a DaemonSet's) and is bound here gets a StaticPodsOnly
warning (see docs/reconciler-apiserver.md).
The Lease in kube-node-lease is renewed every 10 s; the status is posted when it changes and every 5 minutes.
"""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bootstrap import __version__, constants

Obj = dict[str, Any]
MEMORY_THRESHOLD = 100 * 1024 * 1024  # memory.available<100Mi
NODEFS_THRESHOLD = 0.10  # nodefs.available<10%
INODES_THRESHOLD = 0.05  # nodefs.inodesFree<5%
PID_THRESHOLD = 0.10  # fewer than 10% of pid_max left
STATIC_PODS_ONLY = "this node runs static pods only: pods from the API server are not run here"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}
_PREFIX = "Reconciler"


def now_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(at: datetime | None = None) -> str:
    """A MicroTime (Lease renewTime): RFC 3339 with 6 fraction digits."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            out[key] = int(fields[0]) * 1024
    return out


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def kubelet_version(apiserver_git_version: str) -> str:
    """What `kubectl get nodes` shows as VERSION: the API server's version with kbs as build metadata.

    Version-skew checks compare the semver part (build metadata is ignored), as with k3s's `v1.30.0+k3s1`.
    """
    base = apiserver_git_version.split("+", 1)[0] or "v0.0.0"
    return f"{base}+kbs.{__version__}"


@dataclass(frozen=True)
class NodeFacts:
    """What the Node says about this machine; gathered once per connection (cheap, but not free)."""

    name: str
    address: str
    port: int
    version: str  # nodeInfo.kubeletVersion
    runtime_version: str  # nodeInfo.containerRuntimeVersion, docker://<engine>
    arch: str
    cpu: int
    memory: int  # bytes
    ephemeral_storage: int  # bytes of the filesystem holding the reconciler's state
    kernel: str
    os_image: str
    machine_id: str
    system_uuid: str
    boot_id: str

    @classmethod
    def gather(cls, name: str, address: str, port: int, *, version: str, runtime: str, state_dir: Path) -> NodeFacts:
        machine = platform.machine()
        storage = 0
        with contextlib.suppress(OSError):
            st = os.statvfs(_existing(state_dir))
            storage = st.f_blocks * st.f_frsize
        return cls(
            name=name,
            address=address,
            port=port,
            version=version,
            runtime_version=runtime,
            arch=_ARCH.get(machine, machine),
            cpu=len(os.sched_getaffinity(0)),
            memory=_meminfo().get("MemTotal", 0),
            ephemeral_storage=storage,
            kernel=platform.release(),
            os_image=_os_image(),
            machine_id=_read("/etc/machine-id"),
            system_uuid=_read("/sys/class/dmi/id/product_uuid").lower(),
            boot_id=_read("/proc/sys/kernel/random/boot_id"),
        )

    @property
    def labels(self) -> dict[str, str]:
        return {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": self.arch,
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": self.arch,
            constants.STATIC_PODS_ONLY_LABEL: "true",
        }

    def capacity(self) -> dict[str, str]:
        return {
            "cpu": str(self.cpu),
            "memory": f"{self.memory // 1024}Ki",
            "ephemeral-storage": f"{self.ephemeral_storage // 1024}Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "pods": str(constants.NODE_MAX_PODS),
        }

    def node_info(self) -> dict[str, str]:
        return {
            "machineID": self.machine_id,
            "systemUUID": self.system_uuid,
            "bootID": self.boot_id,
            "kernelVersion": self.kernel,
            "osImage": self.os_image,
            "containerRuntimeVersion": self.runtime_version,
            "kubeletVersion": self.version,
            "operatingSystem": "linux",
            "architecture": self.arch,
        }

    def static_status(self) -> Obj:
        """Everything in the Node's status except the conditions."""
        capacity = self.capacity()
        return {
            "addresses": [{"type": "InternalIP", "address": self.address}, {"type": "Hostname", "address": self.name}],
            "capacity": capacity,
            "allocatable": dict(capacity),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": self.node_info(),
        }


def _existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def node_object(facts: NodeFacts) -> Obj:
    """The Node POSTed at registration."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": facts.name, "labels": facts.labels},
        "spec": {"taints": [dict(constants.STATIC_PODS_ONLY_TAINT)]},
        "status": facts.static_status(),
    }


def takeover_patch(node: Obj, facts: NodeFacts) -> Obj:
    """What an existing Node lacks of the registration: missing labels (values others set are left alone) and the
    static-pods-only taint (added to the taints others set). Empty when nothing is missing."""
    current = (node.get("metadata") or {}).get("labels") or {}
    labels = {k: v for k, v in facts.labels.items() if k not in current}
    taints = list((node.get("spec") or {}).get("taints") or [])
    patch: Obj = {"metadata": {"labels": labels}} if labels else {}
    if not any(t.get("key") == constants.STATIC_PODS_ONLY_LABEL for t in taints):
        patch["spec"] = {"taints": [*taints, dict(constants.STATIC_PODS_ONLY_TAINT)]}
    return patch


@dataclass(frozen=True)
class Health:
    """The measurements behind the conditions."""

    reconciler_ok: bool
    problem: str = ""  # why not ok, for the Ready message
    memory_available: int | None = None
    disk_available_ratio: float | None = None
    inodes_free_ratio: float | None = None
    pids_free_ratio: float | None = None

    @classmethod
    def measure(cls, reconciler_ok: bool, problem: str, state_dir: Path) -> Health:
        disk = inodes = pids = None
        with contextlib.suppress(OSError, ZeroDivisionError):
            st = os.statvfs(_existing(state_dir))
            disk = st.f_bavail / st.f_blocks
            inodes = st.f_favail / st.f_files if st.f_files else None
        with contextlib.suppress(ValueError, ZeroDivisionError):
            pid_max = int(_read("/proc/sys/kernel/pid_max") or 0)
            used = sum(1 for entry in os.scandir("/proc") if entry.name.isdigit())
            pids = (pid_max - used) / pid_max
        return cls(reconciler_ok, problem, _meminfo().get("MemAvailable"), disk, inodes, pids)


def _gib(value: int) -> str:
    return f"{value / 1024**3:.1f}Gi"


def conditions(health: Health) -> list[Obj]:
    """The four node conditions (without times): type, status, reason, message."""
    memory_low = health.memory_available is not None and health.memory_available < MEMORY_THRESHOLD
    disk_low = (health.disk_available_ratio is not None and health.disk_available_ratio < NODEFS_THRESHOLD) or (
        health.inodes_free_ratio is not None and health.inodes_free_ratio < INODES_THRESHOLD
    )
    pids_low = health.pids_free_ratio is not None and health.pids_free_ratio < PID_THRESHOLD
    memory = "unknown" if health.memory_available is None else _gib(health.memory_available)
    disk = "unknown" if health.disk_available_ratio is None else f"{health.disk_available_ratio:.0%}"
    out = [
        _cond("MemoryPressure", memory_low, _MEMORY, f"{memory} of memory available (pressure below 100Mi)"),
        _cond("DiskPressure", disk_low, _DISK, f"{disk} of the node filesystem available (pressure below 10%)"),
        _cond("PIDPressure", pids_low, _PID, "process IDs available" if not pids_low else "few process IDs left"),
    ]
    if health.reconciler_ok:
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": f"{_PREFIX}Ready",
            "message": f"kbs reconciler is running; {STATIC_PODS_ONLY}",
        }
    else:
        ready = {
            "type": "Ready",
            "status": "False",
            "reason": f"{_PREFIX}NotReady",
            "message": f"kbs reconciler is not healthy: {health.problem or 'unknown problem'}; {STATIC_PODS_ONLY}",
        }
    out.append(ready)
    return out


# A pressure condition's reason without and with pressure: the kubelet's words (KubeletHasNoDiskPressure...)
# after kbs's prefix
_MEMORY = ("HasSufficientMemory", "HasInsufficientMemory")
_DISK = ("HasNoDiskPressure", "HasDiskPressure")
_PID = ("HasSufficientPID", "HasInsufficientPID")


def _cond(kind: str, pressure: bool, reasons: tuple[str, str], message: str) -> Obj:
    return {
        "type": kind,
        "status": "True" if pressure else "False",
        "reason": _PREFIX + reasons[pressure],
        "message": message,
    }


def with_times(current: list[Obj], previous: list[Obj], at: str) -> list[Obj]:
    """Stamp heartbeat times; keep each condition's lastTransitionTime while its status is unchanged."""
    before = {c.get("type"): c for c in previous}
    out = []
    for cond in current:
        old = before.get(cond["type"])
        transition = old.get("lastTransitionTime") if old and old.get("status") == cond["status"] else None
        out.append({**cond, "lastHeartbeatTime": at, "lastTransitionTime": transition or at})
    return out


def status_patch(facts: NodeFacts, stamped_conditions: list[Obj]) -> Obj:
    return {"status": {**facts.static_status(), "conditions": stamped_conditions}}


def lease_object(node_name: str, node_uid: str, at: datetime | None = None) -> Obj:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": constants.NODE_LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}],
        },
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": constants.NODE_LEASE_DURATION_SECONDS,
            "renewTime": micro_time(at),
        },
    }


def lease_renewal(node_name: str, at: datetime | None = None) -> Obj:
    return {
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": constants.NODE_LEASE_DURATION_SECONDS,
            "renewTime": micro_time(at),
        }
    }
