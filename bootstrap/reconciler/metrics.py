"""The kubelet's `/metrics` and `/metrics/probes` where they apply to a node of static pods, in the Prometheus
text format (version 0.0.4), with the kubelet's metric names, labels and stability markers in HELP.

`/metrics/probes`: `prober_probe_total` (counter: probe_type Liveness|Readiness|Startup, result
successful|failed|unknown, container, pod, namespace, pod_uid) and `prober_probe_duration_seconds` (histogram of
successful probes, without pod_uid), fed by the probe workers (pods/probes.py) through `PROBES`, a process-wide
registry as the kubelet's legacyregistry is. A pod's series go when its probe workers stop for good.
`/metrics`: the gauges the kubelet's PLEG and config sources set, computed at scrape time from the runtime's
container list: kubelet_node_name, kubelet_running_pods (pods with a running sandbox), kubelet_running_containers
by container_state, kubelet_desired_pods{static="true"}.

Written by hand rather than with prometheus_client: a dozen series computed at scrape time, and the same
exposition helper /metrics/resource uses, against one more runtime dependency on every node.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence

from bootstrap.reconciler.runtime import ContainerRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The kubelet's prober_probe_duration_seconds buckets (prometheus' DefBuckets).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROBE_TYPES = {"liveness": "Liveness", "readiness": "Readiness", "startup": "Startup"}
PROBE_RESULTS = {"success": "successful", "failure": "failed", "unknown": "unknown"}
# Docker's container states as the kubelet's container_state label values (kubecontainer.State).
_STATES = {"created": "created", "running": "running", "paused": "running", "restarting": "running", "exited": "exited"}


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(pairs: Sequence[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in pairs) + "}" if pairs else ""


def family(name: str, kind: str, stability: str, text: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} [{stability}] {text}", f"# TYPE {name} {kind}", *samples]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class ProbeMetrics:
    """Counters and histograms of probe runs, keyed by their label values."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str, str, str, str, str], int] = {}
        # (probe_type, container, pod, namespace) -> (bucket counts, sum, count)
        self._durations: dict[tuple[str, str, str, str], tuple[list[int], float, int]] = {}
        self._uids: dict[tuple[str, str, str, str], str] = {}

    def observe(
        self, kind: str, result: str, *, container: str, pod: str, namespace: str, uid: str, seconds: float
    ) -> None:
        """One probe run: count it, and time it if it succeeded (the kubelet times successful runs)."""
        probe_type = PROBE_TYPES.get(kind, "UNKNOWN")
        outcome = PROBE_RESULTS.get(result, "unknown")
        with self._lock:
            key = (probe_type, outcome, container, pod, namespace, uid)
            self._totals[key] = self._totals.get(key, 0) + 1
            if outcome == "successful":
                short = (probe_type, container, pod, namespace)
                buckets, total, count = self._durations.get(short) or ([0] * len(DURATION_BUCKETS), 0.0, 0)
                index = bisect.bisect_left(DURATION_BUCKETS, seconds)
                for i in range(index, len(buckets)):
                    buckets[i] += 1
                self._durations[short] = (buckets, total + seconds, count + 1)
                self._uids[short] = uid

    def forget_pod(self, uid: str) -> None:
        """Drop a pod's series (its probe workers stopped for good), as the kubelet deletes a worker's."""
        with self._lock:
            for key in [k for k in self._totals if k[5] == uid]:
                del self._totals[key]
            for short in [k for k, u in self._uids.items() if u == uid]:
                self._durations.pop(short, None)
                del self._uids[short]

    def render(self) -> str:
        with self._lock:
            totals = sorted(self._totals.items())
            durations = sorted((k, (list(b), s, c)) for k, (b, s, c) in self._durations.items())
        names = ("probe_type", "result", "container", "pod", "namespace", "pod_uid")
        out = family(
            "prober_probe_total",
            "counter",
            "BETA",
            "Cumulative number of a liveness, readiness or startup probe for a container by result.",
            (f"prober_probe_total{labels(list(zip(names, key, strict=True)))} {n}" for key, n in totals),
        )
        samples: list[str] = []
        for key, (buckets, total, count) in durations:
            base = list(zip(("probe_type", "container", "pod", "namespace"), key, strict=True))
            for bound, n in zip(DURATION_BUCKETS, buckets, strict=True):
                samples.append(f"prober_probe_duration_seconds_bucket{labels([*base, ('le', _number(bound))])} {n}")
            samples.append(f"prober_probe_duration_seconds_bucket{labels([*base, ('le', '+Inf')])} {count}")
            samples.append(f"prober_probe_duration_seconds_sum{labels(base)} {_number(total)}")
            samples.append(f"prober_probe_duration_seconds_count{labels(base)} {count}")
        out += family(
            "prober_probe_duration_seconds", "histogram", "ALPHA", "Duration in seconds for a probe response.", samples
        )
        return "\n".join(out) + "\n"


PROBES = ProbeMetrics()


def node_metrics(node_name: str, records: Iterable[ContainerRecord], desired_static: int) -> str:
    """The kubelet's /metrics gauges that a node of static pods has, from the runtime's containers."""
    running_pods: set[str] = set()
    states: dict[str, int] = {}
    for record in records:
        if not record.pod_uid:
            continue
        if record.is_sandbox:
            if record.running:
                running_pods.add(record.pod_uid)
            continue
        state = _STATES.get(record.state, "unknown")
        states[state] = states.get(state, 0) + 1
    out = family(
        "kubelet_node_name",
        "gauge",
        "ALPHA",
        "The node's name. The count is always 1.",
        [f"kubelet_node_name{labels([('node', node_name)])} 1"],
    )
    out += family(
        "kubelet_running_pods",
        "gauge",
        "ALPHA",
        "Number of pods that have a running pod sandbox",
        [f"kubelet_running_pods {len(running_pods)}"],
    )
    out += family(
        "kubelet_running_containers",
        "gauge",
        "ALPHA",
        "Number of containers currently running",
        (f"kubelet_running_containers{labels([('container_state', s)])} {n}" for s, n in sorted(states.items())),
    )
    out += family(
        "kubelet_desired_pods",
        "gauge",
        "ALPHA",
        "The number of pods the kubelet is being instructed to run. static is true if the pod is not from the "
        "apiserver.",
        [
            f"kubelet_desired_pods{labels([('static', '')])} 0",
            f"kubelet_desired_pods{labels([('static', 'true')])} {desired_static}",
        ],
    )
    return "\n".join(out) + "\n"
