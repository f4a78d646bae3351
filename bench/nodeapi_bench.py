"""The node API on a kbs node next to the kubelet's, in the same cluster and the same run: `kubectl exec -- true`
round trips and `kubectl port-forward` download throughput. Not a test: it prints a table.

    flock /tmp/kbs-real-tests.lock .venv/bin/python bench/nodeapi_bench.py --execs 20

A kbs control plane (node container cp-1, `kbs init`, its reconciler serving port 10250) and one kubeadm-joined
worker (kubelet + containerd), from tests/support/cluster.py. The same agnhost `test-webserver` pod runs on
both: as a static pod on cp-1 (kbs) and as a pod bound to worker-1 (kubelet). Every kubectl runs inside cp-1
against the same API server, so only the node side differs:

exec      `kubectl exec <pod> -- true`, `--execs` times in a row each, per-call wall time (p50, p95).
forward   `kubectl port-forward` to the pod, then curl downloads a 50 MiB file of random bytes through it,
          three times; the best MiB/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import ADMIN_CONF, Cluster, cluster  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
PORT = 18092
BIG = 50 * 1024 * 1024
STATIC = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: bench-kbs, namespace: default}}
spec:
  containers:
  - name: files
    image: {AGNHOST}
    args: [test-webserver, --port={PORT}]
"""

# Runs in cp-1: N timed execs, then three timed downloads through a port-forward. Prints one JSON line.
SCRIPT = r"""
set -eu
pod=$1; n=$2; big=$3; port=$4; local=$5
k="kubectl --kubeconfig=/etc/kubernetes/admin.conf"
$k exec "$pod" -- sh -c "test -s /big.bin || head -c $big /dev/urandom > /big.bin"
times=""
for i in $(seq "$n"); do
  t0=$(date +%s%N); $k exec "$pod" -- true; t1=$(date +%s%N)
  times="$times $(( (t1 - t0) / 1000 ))"
done
$k port-forward "pod/$pod" "$local:$port" >/dev/null 2>&1 &
pf=$!
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$local/" && break; sleep 0.1; done
speeds=""
for i in 1 2 3; do
  speeds="$speeds $(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$local/big.bin")"
done
kill $pf
echo "{\"exec_us\": [$(echo $times | tr ' ' ',')], \"bytes_per_s\": [$(echo $speeds | tr ' ' ',')]}"
"""


def measure(made: Cluster, pod: str, execs: int, local: int) -> dict[str, list[float]]:
    out = made.control_plane.exec("sh", "-c", SCRIPT, "bench", pod, str(execs), str(BIG), str(PORT), str(local),
                                  timeout=900)  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


def running(made: Cluster, pod: str) -> bool | None:
    out = made.kubectl("get", "pod", pod, "-o", "json", check=False)
    if not out.lstrip().startswith("{"):
        return None
    statuses = json.loads(out).get("status", {}).get("containerStatuses") or []
    return (bool(statuses) and all("running" in s["state"] for s in statuses)) or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--execs", type=int, default=20)
    args = parser.parse_args()
    client = docker.from_env()
    with cluster(client, workers=1, prefix="kbs-nodeapi-bench") as made:
        made.wait_nodes_ready(["cp-1", "worker-1"])
        made.control_plane.exec("sh", "-c", "cat > /etc/kubernetes/manifests/bench-kbs.yaml", stdin=STATIC.encode())
        overrides = json.dumps({"spec": {"nodeName": "worker-1"}})
        made.kubectl("run", "bench-kubelet", f"--image={AGNHOST}", f"--overrides={overrides}", "--command", "--",
                     "/agnhost", "test-webserver", f"--port={PORT}")  # fmt: skip
        wait_until("both pods running", lambda: running(made, "bench-kbs-cp-1") and running(made, "bench-kubelet"),
                   timeout=300)  # fmt: skip
        rows = []
        for label, pod, local in (
            ("kbs reconciler", "bench-kbs-cp-1", 18101),
            ("kubelet + containerd", "bench-kubelet", 18102),
        ):
            result = measure(made, pod, args.execs, local)
            ms = sorted(t / 1000 for t in result["exec_us"])
            p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
            mib = max(result["bytes_per_s"]) / 2**20
            rows.append((label, statistics.median(ms), p95, mib))
            print(
                f"{label}: exec ms {[round(t) for t in ms]}, MiB/s {[round(b / 2**20) for b in result['bytes_per_s']]}"
            )
        print(f"kubectl exec -- true ({args.execs} each) and port-forward of 50 MiB, kubectl {ADMIN_CONF} in cp-1")
        print("| node | exec p50 (ms) | exec p95 (ms) | port-forward (MiB/s, best of 3) |")
        print("|---|---|---|---|")
        for label, p50, p95, mib in rows:
            print(f"| {label} | {p50:.0f} | {p95:.0f} | {mib:.0f} |")


if __name__ == "__main__":
    main()
