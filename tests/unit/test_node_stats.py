"""stats.py: Docker stats and /proc as the kubelet's Summary and /metrics/resource."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bootstrap.reconciler.apiserver import stats
from bootstrap.reconciler.runtime import ContainerRecord

T0 = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


def _record(cid: str = "abc", container: str = "etcd") -> ContainerRecord:
    labels = {
        "io.kubernetes.pod.name": "etcd-n1",
        "io.kubernetes.pod.namespace": "kube-system",
        "io.kubernetes.pod.uid": "u1",
        "io.kubernetes.container.name": container,
    }
    return ContainerRecord(cid, f"k8s_{container}", labels, "running", "img", started_at=T0 - timedelta(hours=1))


def test_a_cgroup_v2_docker_sample_gives_cpu_time_and_working_set() -> None:
    docker_stats = {
        "read": "2026-12-04T12:00:00.5Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
        "memory_stats": {"usage": 100_000, "stats": {"inactive_file": 30_000}},
    }
    sample = stats.container_sample(docker_stats)
    assert sample.cpu_ns == 2_500_000_000 and sample.working_set == 70_000 and sample.usage == 100_000
    assert sample.when == T0 + timedelta(milliseconds=500)


def test_a_cgroup_v1_sample_uses_total_inactive_file() -> None:
    docker_stats = {"memory_stats": {"usage": 100, "stats": {"total_inactive_file": 40}}}
    assert stats.container_sample(docker_stats, now=T0).working_set == 60


def test_node_sample_from_proc(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("cpu  100 0 50 1000 20 5 5 0 0 0\ncpu0 1 2 3\nbtime 1700000000\n")
    (tmp_path / "meminfo").write_text("MemTotal: 1000 kB\nMemFree: 200 kB\nInactive(file): 100 kB\n")
    sample = stats.node_sample(tmp_path, now=T0)
    assert sample.working_set == 700 * 1024 and sample.usage == 800 * 1024
    assert sample.cpu_ns == 160 * 1_000_000_000 // __import__("os").sysconf("SC_CLK_TCK")
    assert stats.boot_time(tmp_path) == datetime.fromtimestamp(1700000000, UTC)


def test_summary_and_resource_metrics_carry_what_metrics_server_reads() -> None:
    rates = stats.Rates()
    record = _record()
    first = stats.Sample(T0, 1_000_000_000, 500, 600)
    second = stats.Sample(T0 + timedelta(seconds=2), 2_000_000_000, 700, 800)
    node = stats.Sample(T0, 5_000_000_000, 9000, 10000)
    pods = {("kube-system", "etcd-n1", "u1"): [stats.ContainerStats(record, first)]}
    stats.summary("n1", node, T0, pods, rates)
    pods = {("kube-system", "etcd-n1", "u1"): [stats.ContainerStats(record, second)]}
    summary = stats.summary("n1", node, T0, pods, rates)
    pod = summary["pods"][0]
    assert pod["podRef"] == {"name": "etcd-n1", "namespace": "kube-system", "uid": "u1"}
    assert pod["containers"][0]["cpu"]["usageNanoCores"] == 500_000_000  # 1 s of CPU in 2 s
    assert pod["containers"][0]["memory"]["workingSetBytes"] == 700
    assert summary["node"]["memory"]["workingSetBytes"] == 9000
    text = stats.resource_metrics(node, pods)
    labels = '{container="etcd",namespace="kube-system",pod="etcd-n1"}'
    assert f"container_cpu_usage_seconds_total{labels} 2.000000000 {int(second.when.timestamp() * 1000)}" in text
    assert f"container_memory_working_set_bytes{labels} 700 " in text
    assert "node_cpu_usage_seconds_total 5.000000000 " in text
    assert "node_memory_working_set_bytes 9000 " in text
    assert "# TYPE container_cpu_usage_seconds_total counter" in text
    assert "resource_scrape_error 0" in text
