"""Benchmarks of the bundled reconciler on the real Docker engine (not tests: numbers for docs/performance.md).

    .venv/bin/python bench/reconciler_bench.py [--runs 20] [--scale 50] [--idle 60] [--only latency,footprint,scale]

1. Reaction latency, p50/p95 over --runs: manifest written -> app container started (Docker's StartedAt), and
   container exit (FinishedAt) -> restarted (StartedAt of the next instance, first restart), next to what
   `docker run -d` of the same image takes (call -> StartedAt) in the same run.
2. Footprint: `kbs reconcile` as a subprocess with four control-plane-shaped pods (a real etcd and three agnhost
   HTTPS servers with the kubeadm probes: liveness/readiness/startup on 127.0.0.1): RSS and CPU while idle.
3. Scale: --scale pods written at once until all their containers run, against `docker run -d` of as many
   containers in sequence.

Everything runs under a unique reconciler instance label and is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stats import pct

from bootstrap.reconciler.runtime import ContainerRecord
from bootstrap.reconciler.runtime.docker import DockerRuntime
from bootstrap.reconciler.settings import Settings
from tests.support.reconciler import remove_instance_containers, running
from tests.support.wait import wait_until

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
ETCD = "registry.k8s.io/etcd:3.7.0-0"
REPO = Path(__file__).resolve().parents[1]


def write(directory: Path, name: str, text: str) -> float:
    tmp = directory / f".{name}.tmp"
    tmp.write_text(text)
    began = time.time()
    tmp.rename(directory / name)
    return began


def pod(name: str, args: str, extra: str = "", spec: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  terminationGracePeriodSeconds: 1\n{spec}"
        f"  containers:\n  - name: c\n    image: {AGNHOST}\n    args: [{args}]\n{extra}"
    )


def docker_run_latency(client: docker.DockerClient, label: str) -> float:
    began = time.time()
    container = client.containers.run(AGNHOST, ["pause"], detach=True, labels={"io.kbs.bench": label})
    container.reload()
    started = datetime.fromisoformat(container.attrs["State"]["StartedAt"][:26].rstrip("Z") + "+00:00").timestamp()
    container.remove(force=True)
    return started - began


def latency(runs: int) -> dict[str, list[float]]:
    client = docker.from_env()
    label = f"bench-{uuid.uuid4().hex[:6]}"
    node = f"kbs-bench-{uuid.uuid4().hex[:6]}"
    root = Path(tempfile.mkdtemp(prefix="kbs-bench-"))
    (root / "m").mkdir()
    settings = Settings(node_name=node, manifest_dir=root / "m", state_dir=root / "s", node_ip="127.0.0.1")
    out: dict[str, list[float]] = {"write_to_running": [], "exit_to_restart": [], "docker_run": []}
    runtime = DockerRuntime(node)
    try:
        with running(settings):
            for i in range(runs):
                out["docker_run"].append(docker_run_latency(client, label))
                name = f"lat{i}"
                t0 = write(root / "m", f"{name}.yaml", pod(name, '"netexec", "--http-port=8080"'))
                pod_name = f"{name}-{node}"

                def started(pod_name: str = pod_name) -> list[ContainerRecord]:
                    return [
                        r for r in runtime.list() if r.pod_name == pod_name and r.container_name == "c" and r.running
                    ]

                first = wait_until("start", started, timeout=60, interval=0.02)[0]
                out["write_to_running"].append(first.started_at.timestamp() - t0)  # type: ignore[union-attr]
                sandbox = next(r for r in runtime.list(first.pod_uid) if r.is_sandbox and r.running)
                base = f"http://{sandbox.ip}:8080"

                def answers(base: str = base) -> bool:
                    with urllib.request.urlopen(f"{base}/hostname", timeout=1):
                        return True

                wait_until("netexec answering", answers, timeout=30, interval=0.1)
                with contextlib.suppress(OSError):  # the server exits while answering
                    urllib.request.urlopen(f"{base}/exit?code=1", timeout=2)

                def restarted(uid: str = first.pod_uid) -> list[ContainerRecord]:
                    return [r for r in runtime.list(uid) if not r.is_sandbox and r.running and r.attempt == 1]

                second = wait_until("restart", restarted, timeout=60, interval=0.02)[0]
                dead = runtime.inspect(first.id)
                out["exit_to_restart"].append(second.started_at.timestamp() - dead.finished_at.timestamp())  # type: ignore[union-attr]
                (root / "m" / f"{name}.yaml").unlink()
    finally:
        runtime.close()
        remove_instance_containers(node)
        for c in client.containers.list(all=True, filters={"label": f"io.kbs.bench={label}"}):
            c.remove(force=True)
        client.close()
        shutil.rmtree(root, ignore_errors=True)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def control_plane(directory: Path, certs: Path, data: Path) -> None:
    client, peer, metrics = free_port(), free_port(), free_port()
    probe = f"httpGet: {{host: 127.0.0.1, port: {metrics}, path: /readyz}}"
    (directory / "etcd.yaml").write_text(
        f"""apiVersion: v1
kind: Pod
metadata: {{name: etcd, namespace: kube-system}}
spec:
  hostNetwork: true
  containers:
  - name: etcd
    image: {ETCD}
    command: [etcd, --data-dir=/var/lib/etcd, --listen-client-urls=http://127.0.0.1:{client},
      --advertise-client-urls=http://127.0.0.1:{client}, --listen-peer-urls=http://127.0.0.1:{peer},
      --initial-advertise-peer-urls=http://127.0.0.1:{peer}, --initial-cluster=default=http://127.0.0.1:{peer},
      --listen-metrics-urls=http://127.0.0.1:{metrics}]
    livenessProbe:
      {{{probe.replace("readyz", "livez")}, initialDelaySeconds: 10, timeoutSeconds: 15, failureThreshold: 8}}
    startupProbe: {{{probe}, initialDelaySeconds: 10, timeoutSeconds: 15, failureThreshold: 24}}
    volumeMounts: [{{name: data, mountPath: /var/lib/etcd}}]
  volumes: [{{name: data, hostPath: {{path: {data}, type: DirectoryOrCreate}}}}]
"""
    )
    for name, readiness in (("kube-apiserver", True), ("kube-controller-manager", False), ("kube-scheduler", False)):
        port = free_port()
        https = f"httpGet: {{host: 127.0.0.1, port: {port}, path: /hostname, scheme: HTTPS}}"
        ready = (
            f"    readinessProbe: {{{https}, periodSeconds: 1, timeoutSeconds: 15, failureThreshold: 3}}\n"
            if readiness
            else ""
        )
        (directory / f"{name}.yaml").write_text(
            f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: kube-system}}
spec:
  hostNetwork: true
  containers:
  - name: {name}
    image: {AGNHOST}
    args: [netexec, --http-port={port}, --udp-port=-1,
      --tls-cert-file=/certs/tls.crt, --tls-private-key-file=/certs/tls.key]
    livenessProbe: {{{https}, initialDelaySeconds: 10, timeoutSeconds: 15, failureThreshold: 8}}
    startupProbe: {{{https}, initialDelaySeconds: 10, timeoutSeconds: 15, failureThreshold: 24}}
{ready}    volumeMounts: [{{name: certs, mountPath: /certs, readOnly: true}}]
  volumes: [{{name: certs, hostPath: {{path: {certs}, type: DirectoryOrCreate}}}}]
"""
        )


def self_signed(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def footprint(idle: float) -> dict[str, float]:
    node = f"kbs-bench-{uuid.uuid4().hex[:6]}"
    root = Path(tempfile.mkdtemp(prefix="kbs-bench-"))
    (root / "m").mkdir()
    self_signed(root / "certs")
    control_plane(root / "m", root / "certs", root / "etcd")
    command = [sys.executable, "-m", "bootstrap", "reconcile", "--manifest-dir", str(root / "m"), "--node-name", node,
               "--state-dir", str(root / "s"), "--healthz-port", "0", "--node-ip", "127.0.0.1"]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from bootstrap.reconciler.status import read_statuses

        wait_until(
            "4 pods",
            lambda: len([s for s in read_statuses(root / "s") if s.phase == "Running"]) == 4,
            timeout=120,
            interval=0.5,
        )
        time.sleep(30)  # startup probes done, everything steady
        cpu0, t0 = cpu_seconds(process.pid), time.monotonic()
        samples = []
        while time.monotonic() - t0 < idle:
            samples.append(rss_mb(process.pid))
            time.sleep(1)
        cpu = (cpu_seconds(process.pid) - cpu0) / (time.monotonic() - t0)
        return {"rss_mb_max": max(samples), "rss_mb_mean": statistics.mean(samples), "cpu_percent": cpu * 100}
    finally:
        process.terminate()
        process.wait(20)
        remove_instance_containers(node)
        shutil.rmtree(root, ignore_errors=True)


def scale(count: int) -> dict[str, float]:
    client = docker.from_env()
    label = f"bench-{uuid.uuid4().hex[:6]}"
    began = time.monotonic()
    for _ in range(count):
        client.containers.run(AGNHOST, ["pause"], detach=True, labels={"io.kbs.bench": label})
    plain = time.monotonic() - began
    for c in client.containers.list(all=True, filters={"label": f"io.kbs.bench={label}"}):
        c.remove(force=True)
    node = f"kbs-bench-{uuid.uuid4().hex[:6]}"
    root = Path(tempfile.mkdtemp(prefix="kbs-bench-"))
    (root / "m").mkdir()
    settings = Settings(node_name=node, manifest_dir=root / "m", state_dir=root / "s", node_ip="127.0.0.1")
    runtime = DockerRuntime(node)
    try:
        with running(settings) as reconciler:
            reconciler.wait_synced(30)
            staging = root / "staging"
            staging.mkdir()
            for i in range(count):
                (staging / f"p{i}.yaml").write_text(pod(f"p{i}", '"pause"'))
            began = time.monotonic()
            for file in staging.iterdir():
                file.rename(root / "m" / file.name)
            wait_until(
                "all",
                lambda: len([r for r in runtime.list() if r.running and not r.is_sandbox]) >= count,
                timeout=600,
                interval=0.2,
            )
            converge = time.monotonic() - began
    finally:
        runtime.close()
        remove_instance_containers(node)
        client.close()
        shutil.rmtree(root, ignore_errors=True)
    return {"pods": count, "reconciler_s": converge, "docker_run_s": plain, "ratio": converge / plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--scale", type=int, default=50)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--only", default="latency,footprint,scale")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if "latency" in only:
        lat = latency(args.runs)
        print(f"| measure ({args.runs} runs) | p50 | p95 |\n|---|---|---|")
        for key, title in (
            ("write_to_running", "manifest written -> container running"),
            ("exit_to_restart", "container exit -> restarted (first restart)"),
            ("docker_run", "`docker run -d` -> container running"),
        ):
            print(f"| {title} | {pct(lat[key], 0.5):.3f} s | {pct(lat[key], 0.95):.3f} s |")
        for key in ("write_to_running", "exit_to_restart"):
            overhead = [a - b for a, b in zip(lat[key], lat["docker_run"], strict=True)]
            print(f"| overhead over docker run: {key} | {pct(overhead, 0.5):.3f} s | {pct(overhead, 0.95):.3f} s |")
    if "footprint" in only:
        fp = footprint(args.idle)
        print(f"\nfootprint (idle {args.idle:.0f}s, 4 control-plane-shaped pods): RSS max {fp['rss_mb_max']:.1f} MB, "
              f"mean {fp['rss_mb_mean']:.1f} MB, CPU {fp['cpu_percent']:.2f}% of one core")  # fmt: skip
    if "scale" in only:
        sc = scale(args.scale)
        print(
            f"\nscale: {sc['pods']} pods converged in {sc['reconciler_s']:.1f} s; {sc['pods']} x `docker run -d` "
            f"in sequence {sc['docker_run_s']:.1f} s; ratio {sc['ratio']:.2f}"
        )


if __name__ == "__main__":
    main()
