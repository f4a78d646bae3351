"""Benchmark: `kbs init` next to `kubeadm init` with the real kubelet and containerd, on the same machine, with the
same configuration and images, in alternating rounds.

Each round, on a Docker network of its own (tests/support/nodes.py), starts one node container (not timed):
  kbs      the control-plane node image (its own Docker engine, the images loaded as it starts);
  kubeadm  the worker node image (containerd, the kubelet) with the control-plane images imported, as a kubeadm VM
           would have them pulled (tests/support/cluster.py);
then runs the init command in it (`kbs init` / `kubeadm init` with the same pod CIDR and node name, no pod
network) and timestamps its output lines as they arrive. Two figures per round, from the command's spawn:
  healthy  the control plane is healthy: kbs's line "all 4 components healthy", kubeadm's third
           "[control-plane-check] ... is healthy" line (the API server, controller-manager and scheduler; etcd is
           behind the API server's health);
  total    the command's exit: both have then uploaded the configuration, marked the node, made a bootstrap token,
           and applied CoreDNS and kube-proxy.
Prints p50/p95 and the ratio kbs/kubeadm as docs/performance.md's "## Init next to kubeadm" table.

    flock /tmp/kbs-real-tests.lock .venv/bin/python bench/init_kubelet_bench.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker
from stats import pct

from tests.support.cluster import control_plane_node, kbs_init_argv, kubeadm_control_plane_node, kubeadm_init_argv
from tests.support.nodes import Node, node_network

KINDS = ("kbs", "kubeadm")
HEALTHY = {
    "kbs": (re.compile(r"all \d+ components healthy"), 1),
    "kubeadm": (re.compile(r"\[control-plane-check\] \S+ is healthy"), 3),
}


def timed_init(node: Node, kind: str) -> dict[str, float]:
    """Runs the init command in the node; returns seconds from spawn to healthy and to exit."""
    argv = kbs_init_argv(node) if kind == "kbs" else kubeadm_init_argv(node)
    pattern, needed = HEALTHY[kind]
    began = time.monotonic()
    process = subprocess.Popen(
        ["docker", "exec", node.id, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    healthy, seen, lines = 0.0, 0, []
    for line in process.stdout:
        lines.append(line)
        if pattern.search(line):
            seen += 1
            if seen == needed:
                healthy = time.monotonic() - began
    total = time.monotonic() - began
    if process.wait() != 0 or not healthy:
        raise SystemExit(f"{kind} init failed (exit {process.returncode}):\n{''.join(lines)}")
    return {"healthy": healthy, "total": total}


def one_round(client: docker.DockerClient, kind: str) -> dict[str, float]:
    with node_network(client, prefix="kbs-bench-init") as network:
        node = control_plane_node(network) if kind == "kbs" else kubeadm_control_plane_node(network)
        return timed_init(node, kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    client = docker.from_env()
    results: dict[str, dict[str, list[float]]] = {k: {"healthy": [], "total": []} for k in KINDS}
    for i in range(args.rounds):
        for kind in KINDS if i % 2 == 0 else reversed(KINDS):
            sample = one_round(client, kind)
            for key, value in sample.items():
                results[kind][key].append(value)
            print(f"# {i + 1} {kind}: healthy {sample['healthy']:.2f}s, total {sample['total']:.2f}s", file=sys.stderr)
    print("| measure | kbs p50 | kubeadm p50 | ratio | kbs p95 | kubeadm p95 | ratio |\n|---|---|---|---|---|---|---|")
    for key, title in (("healthy", "init → control plane healthy"), ("total", "init → command done")):
        a, b = results["kbs"][key], results["kubeadm"][key]
        a50, b50, a95, b95 = pct(a, 0.5), pct(b, 0.5), pct(a, 0.95), pct(b, 0.95)
        print(
            f"| {title} | {a50:.2f} s | {b50:.2f} s | {a50 / b50:.2f} | {a95:.2f} s | {b95:.2f} s | {a95 / b95:.2f} |"
        )
    spread = {k: statistics.pstdev(v["total"]) for k, v in results.items()}
    print(f"\n{args.rounds} rounds each; standard deviation of the totals: kbs {spread['kbs']:.2f} s, "
          f"kubeadm {spread['kubeadm']:.2f} s.")  # fmt: skip


if __name__ == "__main__":
    main()
