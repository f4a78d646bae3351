"""Benchmark: a 1 control-plane + 2 worker cluster, from nothing to both workers Ready and CoreDNS ready, made with
kbs next to the same cluster made with kubeadm and a real kubelet on the control-plane node.

Each round, on a Docker network of its own (tests/support/nodes.py), builds:
  kbs      a control-plane node container (its own Docker engine) running `kbs init --pod-network=flannel`;
  kubeadm  a worker-image node container (containerd, the kubelet) with the control-plane images imported, running
           `kubeadm init`, then the same flannel objects applied with kubectl (tests/support/cluster.py);
then, on both sides, two worker node containers joined with the same stock `kubeadm join`, and a wait until every
node is Ready and the CoreDNS Deployment is rolled out. Stages are timed from the first `docker run`: control-plane
node start (for kubeadm including the image import, which kbs's node does as it starts), init (for kubeadm
including the flannel apply), worker start + joins, and the wait for Ready. Memory: the resident set of every
process of each node (`ps` in the node's PID namespace: the runtime, the kubelet or reconciler, every pod) at
the end of the round. Rounds alternate kbs/kubeadm. Prints the Markdown of docs/performance.md's "## Cluster".

    .venv/bin/python bench/cluster_bench.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker

from tests.support.cluster import (
    Cluster,
    control_plane_node,
    kbs_init,
    kubeadm_control_plane_node,
    kubeadm_init,
)
from tests.support.nodes import node_network

STAGES = ("control-plane node", "init", "workers joined", "Ready + CoreDNS")


def resident_mib(made: Cluster) -> dict[str, float]:
    nodes = [made.control_plane, *made.workers]
    return {n.name: sum(int(kb) for kb in n.exec("ps", "-eo", "rss=").split()) / 1024 for n in nodes}


def one_round(client: docker.DockerClient, kind: str) -> tuple[dict[str, float], dict[str, float]]:
    times: dict[str, float] = {}
    with node_network(client, prefix="kbs-bench-cluster") as network:
        t0 = time.monotonic()
        if kind == "kbs":
            node = control_plane_node(network)
            times["control-plane node"] = time.monotonic() - t0
            made = kbs_init(network, node)
        else:
            node = kubeadm_control_plane_node(network)
            times["control-plane node"] = time.monotonic() - t0
            made = kubeadm_init(network, node)
        times["init"] = time.monotonic() - t0 - times["control-plane node"]
        t1 = time.monotonic()
        for i in (1, 2):
            worker = network.start(f"worker-{i}", "worker")
            worker.wait_ready()
            made.join_worker(worker)
        times["workers joined"] = time.monotonic() - t1
        t2 = time.monotonic()
        made.wait_nodes_ready(["cp-1", "worker-1", "worker-2"], timeout=600)
        made.kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=600s")
        times["Ready + CoreDNS"] = time.monotonic() - t2
        times["total"] = time.monotonic() - t0
        memory = resident_mib(made)
    return times, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    client = docker.from_env()
    results: dict[str, list[dict[str, float]]] = {"kbs": [], "kubeadm": []}
    memory: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for kind in ("kbs", "kubeadm"):
            times, memory[kind] = one_round(client, kind)
            results[kind].append(times)
            print(f"# {kind}: " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()), file=sys.stderr)
    median = {k: {s: statistics.median(r[s] for r in rs) for s in (*STAGES, "total")} for k, rs in results.items()}
    print("| stage | kbs | kubeadm + kubelet | ratio |\n|---|---|---|---|")
    for stage in (*STAGES, "total"):
        a, b = median["kbs"][stage], median["kubeadm"][stage]
        print(f"| {stage} | {a:.1f} s | {b:.1f} s | {a / b:.2f} |")
    print("\n| node | kbs (MiB) | kubeadm + kubelet (MiB) |\n|---|---|---|")
    for name in ("cp-1", "worker-1", "worker-2"):
        print(f"| {name} | {memory['kbs'][name]:.0f} | {memory['kubeadm'][name]:.0f} |")
    totals = {k: sum(v.values()) for k, v in memory.items()}
    print(f"| whole cluster | {totals['kbs']:.0f} | {totals['kubeadm']:.0f} |")
    print(f"\nMedian of {args.rounds} rounds.")


if __name__ == "__main__":
    main()
