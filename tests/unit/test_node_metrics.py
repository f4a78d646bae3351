"""metrics.py: the kubelet's /metrics and /metrics/probes names, labels and text format."""

from __future__ import annotations

from bootstrap.reconciler import metrics
from bootstrap.reconciler.runtime import ContainerRecord, naming


def _record(cid: str, uid: str, state: str, *, sandbox: bool = False) -> ContainerRecord:
    labels = {naming.POD_NAME: f"p-{uid}", naming.POD_NAMESPACE: "kube-system", naming.POD_UID: uid}
    if sandbox:
        labels[naming.DOCKER_TYPE] = naming.TYPE_SANDBOX
    else:
        labels[naming.CONTAINER_NAME] = "c"
    return ContainerRecord(cid, cid, labels, state, "img")


def test_probe_runs_are_counted_by_result_with_the_kubelets_labels() -> None:
    probes = metrics.ProbeMetrics()
    for result in ("success", "success", "failure"):
        probes.observe(
            "readiness", result, container="etcd", pod="etcd-n1", namespace="kube-system", uid="u1", seconds=0.02
        )
    text = probes.render()
    base = 'probe_type="Readiness",result="{}",container="etcd",pod="etcd-n1",namespace="kube-system",pod_uid="u1"'
    assert f"prober_probe_total{{{base.format('successful')}}} 2" in text.splitlines()
    assert f"prober_probe_total{{{base.format('failed')}}} 1" in text.splitlines()
    assert "# HELP prober_probe_total [BETA] Cumulative number of a liveness" in text
    assert "# TYPE prober_probe_duration_seconds histogram" in text


def test_probe_durations_are_a_histogram_of_successful_runs() -> None:
    probes = metrics.ProbeMetrics()
    for seconds in (0.003, 0.2, 0.2):
        probes.observe("liveness", "success", container="c", pod="p", namespace="ns", uid="u", seconds=seconds)
    probes.observe("liveness", "failure", container="c", pod="p", namespace="ns", uid="u", seconds=9.0)
    lines = probes.render().splitlines()
    labels = 'probe_type="Liveness",container="c",pod="p",namespace="ns"'
    assert f'prober_probe_duration_seconds_bucket{{{labels},le="0.005"}} 1' in lines
    assert f'prober_probe_duration_seconds_bucket{{{labels},le="0.1"}} 1' in lines
    assert f'prober_probe_duration_seconds_bucket{{{labels},le="0.25"}} 3' in lines
    assert f'prober_probe_duration_seconds_bucket{{{labels},le="+Inf"}} 3' in lines
    assert f"prober_probe_duration_seconds_count{{{labels}}} 3" in lines
    assert any(line.startswith(f"prober_probe_duration_seconds_sum{{{labels}}} 0.403") for line in lines)


def test_a_removed_pods_probe_series_are_forgotten() -> None:
    probes = metrics.ProbeMetrics()
    for uid in ("u1", "u2"):
        probes.observe("startup", "success", container="c", pod=uid, namespace="ns", uid=uid, seconds=0.1)
    probes.forget_pod("u1")
    text = probes.render()
    assert 'pod_uid="u2"' in text and 'pod_uid="u1"' not in text and 'pod="u1"' not in text


def test_label_values_are_escaped() -> None:
    assert metrics.labels([("pod", 'a"b\\c\nd')]) == '{pod="a\\"b\\\\c\\nd"}'


def test_node_metrics_count_running_sandboxes_and_containers_by_state() -> None:
    records = [
        _record("s1", "u1", "running", sandbox=True),
        _record("c1", "u1", "running"),
        _record("c2", "u1", "exited"),
        _record("s2", "u2", "exited", sandbox=True),
        _record("c3", "u2", "created"),
        _record("c4", "u3", "dead"),
        ContainerRecord("x", "other", {}, "running", "img"),  # not a pod's: left out
    ]
    lines = metrics.node_metrics("n1", records, desired_static=3).splitlines()
    assert 'kubelet_node_name{node="n1"} 1' in lines
    assert "kubelet_running_pods 1" in lines
    assert 'kubelet_running_containers{container_state="running"} 1' in lines
    assert 'kubelet_running_containers{container_state="exited"} 1' in lines
    assert 'kubelet_running_containers{container_state="created"} 1' in lines
    assert 'kubelet_running_containers{container_state="unknown"} 1' in lines
    assert 'kubelet_desired_pods{static="true"} 3' in lines and 'kubelet_desired_pods{static=""} 0' in lines
    assert "# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox" in lines
