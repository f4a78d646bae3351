"""Single-node upgrade: how long the API server is away while `kbs upgrade apply` runs (v1.36.3 -> v1.37.2).

Each round brings up a sandboxed control plane with `kbs init --kubernetes-version v1.36.3` (tests/support's
sandbox: every path under a temp dir), then polls https://<advertise>:6443/readyz every 100 ms from a thread while
`kbs upgrade apply v1.37.2` runs, and reports the upgrade's wall time and the longest gap between two successful
answers (the API unavailability a client sees). Run it under the real-test lock:

    flock /tmp/kbs-real-tests.lock .venv/bin/python bench/upgrade_bench.py --rounds 2

With --kubeadm, each round also does the same upgrade the kubeadm way, with a real kubelet on the same machine: a
node container of the worker image (containerd, the kubelet) with v1.36.3's kubelet and kubeadm copied in from the
test bed (`testbed.sh bin-dir v1.36.3`) and both versions' control-plane images imported into containerd;
`kubeadm init --kubernetes-version v1.36.3` (kubeadm v1.36.3), then, with the same poller on the node's
`/readyz`, `kubeadm upgrade apply v1.37.2 --yes` (kubeadm v1.37.2). With --ha, one round of the HA upgrade
(tests/support/ha.py at v1.36.3; `kbs upgrade apply` on cp-1, `kbs upgrade node` on cp-2 and cp-3) with a client
writing through the load balancer every 100 ms (tests/support/writer.py): the failed writes.
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.real.conftest import TestBed, _testbed
from tests.support.cluster import CRI_SOCKET, PATCH_DIR, POD_SUBNET, WORKER_PATCH, kubeadm_control_plane_node
from tests.support.control_plane import REPO, Sandbox, exclusive_ports, sandbox
from tests.support.nodes import Node, node_network

OLD, NEW = "v1.36.3", "v1.37.2"
POLL = 0.1


class Poller(threading.Thread):
    def __init__(self, url: str, ca: Path) -> None:
        super().__init__(daemon=True)
        self.url, self.context = url, ssl.create_default_context(cafile=str(ca))
        self.ok_times: list[float] = []
        self.failures = 0
        self.seen: list[tuple[float, str]] = []  # (monotonic time, what the poll got) for --explain
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=1.0, context=self.context) as response:
                    if response.status == 200:
                        self.ok_times.append(now)
                    self.seen.append((now, str(response.status)))
            except urllib.error.HTTPError as exc:
                self.failures += 1
                self.seen.append((now, f"HTTP {exc.code}"))
            except OSError as exc:
                self.failures += 1
                self.seen.append((now, type(getattr(exc, "reason", exc)).__name__))
            self.stop.wait(POLL)

    def gap(self) -> tuple[float, float]:
        """(start, end) of the longest gap between two good answers."""
        pairs = list(zip(self.ok_times, self.ok_times[1:], strict=False))
        return max(pairs, key=lambda p: p[1] - p[0], default=(0.0, 0.0))

    def explain(self, lines: list[tuple[float, str]], origin: float) -> str:
        """The gap, the runs of poll outcomes inside it and the upgrade's lines around it, times from `origin`."""
        start, end = self.gap()
        out = [f"gap {start - origin:.1f} s .. {end - origin:.1f} s"]
        runs: list[list[object]] = []
        for at, what in self.seen:
            if start <= at <= end:
                if runs and runs[-1][0] == what:
                    runs[-1][2] = at
                else:
                    runs.append([what, at, at])
        out += [f"  polls {what}: {float(a) - origin:.1f} .. {float(b) - origin:.1f} s" for what, a, b in runs]  # type: ignore[arg-type]
        out += [f"  {at - origin:6.1f} s  {text}" for at, text in lines if start - 15 <= at <= end + 2]
        return "\n".join(out)

    def longest_gap(self) -> float:
        return max((b - a for a, b in zip(self.ok_times, self.ok_times[1:], strict=False)), default=0.0)


EXPLAIN = False  # --explain: print where each round's longest gap falls among the upgrade's output lines


def one_round(testbed: TestBed) -> tuple[float, float, int]:
    with exclusive_ports(), sandbox(testbed) as box:
        box.kbs("init", "--kubernetes-version", OLD)
        server = box.kubectl("config", "view", "-o", "jsonpath={.clusters[0].cluster.server}").stdout
        poller = Poller(f"{server}/readyz", box.root / "etc/kubernetes/pki/ca.crt")
        poller.start()
        time.sleep(2)
        started = time.monotonic()
        lines = _timed(box, "upgrade", "apply", NEW)
        took = time.monotonic() - started
        time.sleep(2)
        poller.stop.set()
        poller.join()
        if EXPLAIN:
            print(poller.explain(lines, started))
            log = box.root / "var/log/kbs/kbs-reconciler.log"
            if log.exists():
                print("  reconciler log (kube-apiserver, etcd):")
                for line in log.read_text(errors="replace").splitlines()[-400:]:
                    if "kube-apiserver" in line or "etcd" in line:
                        print("   ", line[:200])
        return took, poller.longest_gap(), poller.failures


def _timed(box: Sandbox, *args: str) -> list[tuple[float, str]]:
    """Run `kbs ARGS` in the sandbox, each output line with the monotonic time it was read."""
    env = {**os.environ, "PATH": f"{box.testbed.bin_dir}:{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
    return _timed_lines([sys.executable, "-m", "bootstrap", *args, "--config", str(box.config)], env)


def _timed_lines(command: list[str], env: dict[str, str] | None = None) -> list[tuple[float, str]]:
    """Run `command`, each output line (stdout and stderr) with the monotonic time it was read."""
    lines = []
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p:
        assert p.stdout is not None
        for line in p.stdout:
            lines.append((time.monotonic(), line.rstrip()))
    if p.returncode != 0:
        raise SystemExit(" ".join(command) + " failed:\n" + "\n".join(t for _, t in lines))
    return lines


def _import_images(node: Node, images: list[str]) -> None:
    save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
    subprocess.run(["docker", "exec", "-i", node.id, "ctr", "-n", "k8s.io", "images", "import", "--local", "-"],
                   stdin=save.stdout, check=True, capture_output=True, timeout=300)  # fmt: skip
    save.wait()


def kubeadm_round() -> tuple[float, float, int]:
    """kubeadm v1.36.3 init, then kubeadm v1.37.2 `upgrade apply`, the kubelet v1.36.3 (not upgraded: apply does
    not touch it), polled like kbs."""
    import docker

    from tests.support.ha import control_plane_images

    old_bin = Path(_testbed("bin-dir", OLD))
    client = docker.from_env()
    try:
        with node_network(client, prefix="kbs-upkadm") as network:
            node = kubeadm_control_plane_node(network, "kadm-1")
            subprocess.run(["docker", "cp", str(old_bin / "kubelet"), f"{node.id}:/usr/local/bin/kubelet"], check=True)
            subprocess.run(["docker", "cp", str(old_bin / "kubeadm"), f"{node.id}:/usr/local/bin/kubeadm-{OLD}"],
                           check=True)  # fmt: skip
            _import_images(node, control_plane_images(OLD))
            node.exec("mkdir", "-p", PATCH_DIR)
            node.exec("sh", "-c", f"cat > {PATCH_DIR}/kubeletconfiguration+merge.yaml", stdin=WORKER_PATCH.encode())
            node.exec(
                f"kubeadm-{OLD}", "init", f"--kubernetes-version={OLD}", f"--pod-network-cidr={POD_SUBNET}",
                f"--cri-socket={CRI_SOCKET}", f"--patches={PATCH_DIR}", "--ignore-preflight-errors=all",
                f"--node-name={node.name}", timeout=600,
            )  # fmt: skip
            with tempfile.TemporaryDirectory() as tmp:
                ca = Path(tmp) / "ca.crt"
                ca.write_text(node.exec("cat", "/etc/kubernetes/pki/ca.crt"))
                poller = Poller(f"https://{node.address}:6443/readyz", ca)
                poller.start()
                time.sleep(2)
                started = time.monotonic()
                argv = ["kubeadm", "upgrade", "apply", NEW, "--yes", "--ignore-preflight-errors=all",
                        f"--patches={PATCH_DIR}", "--v=1"]  # fmt: skip
                lines = _timed_lines(["docker", "exec", node.id, *argv])
                took = time.monotonic() - started
                time.sleep(2)
                poller.stop.set()
                poller.join()
                if EXPLAIN:
                    print(poller.explain(lines, started))
            return took, poller.longest_gap(), poller.failures
    finally:
        client.close()


def ha_round() -> dict[str, object]:
    """The HA upgrade with a client writing through the load balancer: failed writes."""
    import docker

    from bootstrap.upgrade.node import SAVED_CONFIG
    from tests.support.ha import CONTROL_PLANES, control_plane_images, ha_cluster
    from tests.support.writer import Background, Writer

    client = docker.from_env()
    try:
        with ha_cluster(client, workers=0, kubernetes_version=OLD, images=control_plane_images(OLD)) as ha:
            with tempfile.TemporaryDirectory() as tmp:
                writer = Writer(ha.nodes["cp-1"].exec("cat", "/etc/kubernetes/admin.conf"), Path(tmp), "ha-bench")
                writer.create()
                background = Background(writer)
                background.start()
                started = time.monotonic()
                ha.nodes["cp-1"].exec("kbs", "upgrade", "apply", NEW, "--config", str(SAVED_CONFIG), timeout=900)
                for name in CONTROL_PLANES[1:]:
                    ha.nodes[name].exec("kbs", "upgrade", "node", timeout=900)
                took = time.monotonic() - started
                background.stop()
            return {"upgrade_s": round(took, 1), **background.summary()}
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kubeadm", action="store_true", help="Also upgrade with kubeadm and a real kubelet.")
    parser.add_argument("--no-kbs", action="store_true", help="Skip the single-node kbs rounds.")
    parser.add_argument("--ha", action="store_true", help="Also one HA upgrade with a writing client.")
    parser.add_argument("--explain", action="store_true", help="Show where the longest gap falls.")
    args = parser.parse_args()
    global EXPLAIN  # noqa: PLW0603
    EXPLAIN = args.explain
    sides: list[tuple[str, Callable[[], tuple[float, float, int]]]] = []
    if not args.no_kbs:
        testbed = TestBed(bin_dir=Path(_testbed("bin-dir")), images={})
        sides.append(("kbs upgrade apply", lambda: one_round(testbed)))
    if args.kubeadm:
        sides.append(("kubeadm upgrade apply", kubeadm_round))
    for label, run in sides:
        rows = [run() for _ in range(args.rounds)]
        for i, (took, gap, failures) in enumerate(rows, 1):
            print(f"{label} round {i}: upgrade {took:.1f} s, longest API gap {gap:.1f} s, failed polls {failures}")
        print(
            f"{label} median: upgrade {statistics.median(r[0] for r in rows):.1f} s, "
            f"longest API gap {statistics.median(r[1] for r in rows):.1f} s"
        )
    if args.ha:
        print(f"HA upgrade: {ha_round()}")


if __name__ == "__main__":
    main()
