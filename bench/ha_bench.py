"""HA benchmarks on the test bed (results in docs/performance.md, "High availability"):

1. time from the first `kbs init` to three healthy control-plane nodes (init on cp-1, `kbs join --control-plane`
   on cp-2 and cp-3, each returning only once its four components are healthy and its etcd member votes);
2. failover: a client writes a ConfigMap through the load-balanced endpoint every 100 ms (each request with a
   1 s timeout) while cp-1 — the node that made the cluster — is killed; it reports the failed writes,
   the failures later than 5 s after the kill, and the longest gap between two successful writes.

    sudo .venv/bin/python bench/ha_bench.py [--seconds 30] [--kill-after 5]

Run it under the test bed's lock (`flock /tmp/kbs-real-tests.lock ...`): it starts three control-plane node
containers and a load balancer, and removes them on exit.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

from bootstrap.kube import clusterinfo
from tests.support.ha import HA, ha_cluster, kubeadm_flags, kubeadm_node, start_lb
from tests.support.nodes import node_network
from tests.support.writer import INTERVAL, Attempt, Writer


def failover(ha: HA, seconds: float, kill_after: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        writer = Writer(ha.nodes["cp-1"].exec("cat", "/etc/kubernetes/admin.conf"), Path(tmp))
        writer.create()
        attempts: list[Attempt] = []
        start = time.monotonic()
        killed_at: float | None = None
        n = 0
        while time.monotonic() - start < seconds:
            tick = time.monotonic()
            if killed_at is None and tick - start >= kill_after:
                ha.nodes["cp-1"].container.kill()
                killed_at = time.monotonic() - start
            n += 1
            ok, detail = writer.write(n)
            attempts.append(Attempt(tick - start, ok, detail))
            time.sleep(max(0.0, INTERVAL - (time.monotonic() - tick)))
    assert killed_at is not None
    successes = [a.at for a in attempts if a.ok]
    gaps = [b - a for a, b in itertools.pairwise(successes)]
    failed = [a for a in attempts if not a.ok]
    return {
        "writes": len(attempts),
        "failed": len(failed),
        "failed_after_5s": len([a for a in failed if a.at > killed_at + 5]),
        "longest_gap_s": round(max(gaps, default=0.0), 2),
        "last_failure_after_kill_s": round(max((a.at for a in failed), default=killed_at) - killed_at, 2),
        "failure_kinds": sorted({a.detail for a in failed}),
    }


def kubeadm_topology(client: docker.DockerClient) -> dict[str, float]:
    """The same topology with the stock kubeadm and real kubelets (worker node images: containerd + kubelet, the
    control-plane images imported first, outside the timing, as kbs's nodes have them preloaded)."""
    key, token = "c1" * 32, "kbsha2.0123456789abcdef"
    timings: dict[str, float] = {}
    with node_network(client, prefix="kbs-hakadm") as network:
        nodes = [kubeadm_node(network, f"kadm-{i}") for i in (1, 2, 3)]
        lb = start_lb(client, network.name, [n.address for n in nodes])
        endpoint = f"{lb}:6443"

        start = time.monotonic()
        init = ["kubeadm", "init", f"--control-plane-endpoint={endpoint}", "--upload-certs", f"--certificate-key={key}"]
        nodes[0].exec(*init, f"--token={token}", *kubeadm_flags(nodes[0]), timeout=600)
        timings["kubeadm init kadm-1"] = time.monotonic() - start
        ca_hash = clusterinfo.ca_cert_hash(nodes[0].exec("cat", "/etc/kubernetes/pki/ca.crt").encode())
        for node in nodes[1:]:
            begin = time.monotonic()
            node.exec("kubeadm", "join", endpoint, "--control-plane", "--token", token,
                      "--discovery-token-ca-cert-hash", ca_hash, "--certificate-key", key, *kubeadm_flags(node),
                      timeout=600)  # fmt: skip
            timings[f"kubeadm join {node.name}"] = time.monotonic() - begin
        timings["three control planes"] = time.monotonic() - start
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kill-after", type=float, default=5.0)
    parser.add_argument("--kubeadm", action="store_true", help="Also time the same topology made with kubeadm.")
    args = parser.parse_args()
    timings: dict[str, float] = {}
    with ha_cluster(docker.from_env(), workers=0, timings=timings) as ha:
        print(json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=2))
        print(json.dumps(failover(ha, args.seconds, args.kill_after), indent=2))
    if args.kubeadm:
        print(json.dumps({k: round(v, 1) for k, v in kubeadm_topology(docker.from_env()).items()}, indent=2))


if __name__ == "__main__":
    main()
