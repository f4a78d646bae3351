"""`/stats/summary` and `/metrics/resource`: the node's and its static pods' CPU and memory, as metrics-server
and `kubectl top` read them from a kubelet.

Containers: one Docker stats sample each (`one-shot`, no waiting for a second sample): cumulative CPU time and
the working set (memory usage less inactive file pages, the kubelet's definition). The node: /proc/stat (CPU
time of every state but idle and iowait) and /proc/meminfo (MemTotal - MemFree - Inactive(file), cadvisor's
working set for the root cgroup). Rates (`usageNanoCores`) come from the previous sample of the same thing.
Pure functions over those inputs; the server gathers them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bootstrap.reconciler.metrics import escape
from bootstrap.reconciler.runtime import ContainerRecord
from bootstrap.reconciler.status import parse_time


@dataclass(frozen=True)
class Sample:
    when: datetime
    cpu_ns: int  # cumulative CPU time, nanoseconds
    working_set: int
    usage: int


@dataclass(frozen=True)
class ContainerStats:
    record: ContainerRecord
    sample: Sample


def container_sample(stats: Mapping[str, Any], now: datetime | None = None) -> Sample:
    """A Docker stats answer (cgroup v1 or v2) as a Sample."""
    when = parse_time(str(stats.get("read") or "")) or now or datetime.now(UTC)
    if when.year < 2000:  # a stopped container's stats are zero-dated
        when = now or datetime.now(UTC)
    cpu = int(((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0)
    memory = stats.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    detail = memory.get("stats") or {}
    inactive = int(detail.get("inactive_file", detail.get("total_inactive_file", 0)) or 0)
    return Sample(when, cpu, max(usage - inactive, 0), usage)


def node_sample(proc: Path = Path("/proc"), now: datetime | None = None) -> Sample:
    fields = (proc / "stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(v) for v in fields]
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)  # all but idle and iowait
    if len(ticks) > 8:
        busy -= sum(ticks[8:10])  # guest time is already counted in user
    hz = os.sysconf("SC_CLK_TCK")
    info = {}
    for line in (proc / "meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        info[name] = int(rest.split()[0]) * 1024 if rest.split() else 0
    usage = info.get("MemTotal", 0) - info.get("MemFree", 0)
    working_set = max(usage - info.get("Inactive(file)", 0), 0)
    return Sample(now or datetime.now(UTC), busy * 1_000_000_000 // hz, working_set, usage)


def boot_time(proc: Path = Path("/proc")) -> datetime:
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return datetime.fromtimestamp(int(line.split()[1]), UTC)
    return datetime.now(UTC)


class Rates:
    """usageNanoCores from consecutive samples of the same key (a container id, or "node")."""

    def __init__(self) -> None:
        self._last: dict[str, Sample] = {}
        self._lock = threading.Lock()

    def nano_cores(self, key: str, sample: Sample) -> int | None:
        with self._lock:
            previous = self._last.get(key)
            if previous is None or sample.when > previous.when:
                self._last[key] = sample
        if previous is None or sample.when <= previous.when or sample.cpu_ns < previous.cpu_ns:
            return None
        seconds = (sample.when - previous.when).total_seconds()
        return int((sample.cpu_ns - previous.cpu_ns) / seconds)

    def forget_except(self, keys: Iterable[str]) -> None:
        keep = set(keys) | {"node"}
        with self._lock:
            self._last = {k: v for k, v in self._last.items() if k in keep}


def _time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cpu(sample: Sample, nano_cores: int | None) -> dict[str, Any]:
    cpu: dict[str, Any] = {"time": _time(sample.when), "usageCoreNanoSeconds": sample.cpu_ns}
    if nano_cores is not None:
        cpu["usageNanoCores"] = nano_cores
    return cpu


def _memory(sample: Sample) -> dict[str, Any]:
    return {"time": _time(sample.when), "workingSetBytes": sample.working_set, "usageBytes": sample.usage}


def summary(
    node_name: str,
    node: Sample,
    started: datetime,
    pods: Mapping[tuple[str, str, str], list[ContainerStats]],
    rates: Rates,
) -> dict[str, Any]:
    """The kubelet's stats/v1alpha1 Summary with what metrics-server and `kubectl top` read."""
    items = []
    for (namespace, name, uid), containers in sorted(pods.items()):
        entries = []
        for c in containers:
            entries.append(
                {
                    "name": c.record.container_name,
                    "startTime": _time(c.record.started_at or c.sample.when),
                    "cpu": _cpu(c.sample, rates.nano_cores(c.record.id, c.sample)),
                    "memory": _memory(c.sample),
                }
            )
        total = _pod_total(containers)
        items.append(
            {
                "podRef": {"name": name, "namespace": namespace, "uid": uid},
                "startTime": _time(min((c.record.started_at or c.sample.when) for c in containers)),
                "containers": entries,
                "cpu": _cpu(total, None),
                "memory": _memory(total),
            }
        )
    return {
        "node": {
            "nodeName": node_name,
            "startTime": _time(started),
            "cpu": _cpu(node, rates.nano_cores("node", node)),
            "memory": _memory(node),
        },
        "pods": items,
    }


def _pod_total(containers: list[ContainerStats]) -> Sample:
    return Sample(
        max(c.sample.when for c in containers),
        sum(c.sample.cpu_ns for c in containers),
        sum(c.sample.working_set for c in containers),
        sum(c.sample.usage for c in containers),
    )


_RESOURCE_HELP = (
    ("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the container in core-seconds"),
    ("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes"),
    ("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds"),
    ("node_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the node in core-seconds"),
    ("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes"),
    ("pod_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the pod in core-seconds"),
    ("pod_memory_working_set_bytes", "gauge", "Current working set of the pod in bytes"),
    ("resource_scrape_error", "gauge", "1 if there was an error while getting container metrics, 0 otherwise"),
)


def resource_metrics(
    node: Sample, pods: Mapping[tuple[str, str, str], list[ContainerStats]], scrape_error: bool = False
) -> str:
    """The kubelet's /metrics/resource in the Prometheus text format, with sample timestamps (ms)."""
    lines: dict[str, list[str]] = {name: [] for name, _, _ in _RESOURCE_HELP}

    def ms(when: datetime) -> int:
        return int(when.timestamp() * 1000)

    for (namespace, name, _), containers in sorted(pods.items()):
        pod_labels = f'namespace="{escape(namespace)}",pod="{escape(name)}"'
        for c in containers:
            labels = f'{{container="{escape(c.record.container_name)}",{pod_labels}}}'
            at = ms(c.sample.when)
            lines["container_cpu_usage_seconds_total"].append(f"{labels} {c.sample.cpu_ns / 1e9:.9f} {at}")
            lines["container_memory_working_set_bytes"].append(f"{labels} {c.sample.working_set} {at}")
            if c.record.started_at is not None:
                lines["container_start_time_seconds"].append(f"{labels} {c.record.started_at.timestamp():.9f} {at}")
        total = _pod_total(containers)
        at = ms(total.when)
        lines["pod_cpu_usage_seconds_total"].append(f"{{{pod_labels}}} {total.cpu_ns / 1e9:.9f} {at}")
        lines["pod_memory_working_set_bytes"].append(f"{{{pod_labels}}} {total.working_set} {at}")
    lines["node_cpu_usage_seconds_total"].append(f" {node.cpu_ns / 1e9:.9f} {ms(node.when)}")
    lines["node_memory_working_set_bytes"].append(f" {node.working_set} {ms(node.when)}")
    lines["resource_scrape_error"].append(f" {int(scrape_error)}")
    out = []
    for name, kind, text in _RESOURCE_HELP:
        out += [f"# HELP {name} [STABLE] {text}", f"# TYPE {name} {kind}"]
        out += [f"{name}{line}" for line in lines[name]]
    return "\n".join(out) + "\n"
