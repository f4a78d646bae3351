"""Reaction latency of kbs's reconciler (Docker) next to the real kubelet v1.37.2 (containerd), in one run.

    flock /tmp/kbs-real-tests.lock .venv/bin/python bench/kubelet_bench.py [--runs 20] [--scale-runs 5] [--pods 50]

Both node agents run side by side for the whole run, each with its own runtime and static-pod directory:
  kubelet  the test bed's kubelet with its own containerd in a private tree (tests/support/kubelet.py: standalone,
           fileCheckFrequency 1s, the images imported before the clock starts);
  kbs      `kbs reconcile` as its own process on the machine's Docker engine (bytecode cached as installed,
           bench/installed.py), the test bed's images already present.
Rounds alternate kbs/kubelet. Every pod is a hostNetwork agnhost `netexec` on a port of its own, and everything is
observed the same way on both sides, from outside: a TCP connect to the pod's port every 5 ms. Per round:
  start    manifest renamed into the directory -> the port accepts;
  restart  GET /exit?code=1 (the container exits) -> the port accepts again. This is the container's first
           restart, which neither agent delays: both apply the crash-loop back-off (10 s, doubling) from the second
           restart on (the kubelet's doBackOff has no back-off entry before the first restart);
  edit     the manifest rewritten with another port (a new pod UID) -> the old port refuses and the new one accepts;
  remove   the manifest removed -> the port refuses.
Scale (--scale-runs rounds per side): --pods manifests renamed in at once -> every port accepts; then removed,
until every port refuses (not timed). Prints p50/p95 and the ratio kbs/kubelet as docs/performance.md's table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import installed
from stats import pct

from tests.support.kubelet import local_kubelet
from tests.support.reconciler import remove_instance_containers
from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[1]
TESTBED = REPO / "tests" / "testbed" / "testbed.sh"
PORT_BASE = 18400  # hostNetwork ports: 18400.. single pods, 18600.. the scale pods (nothing else uses them)
SCALE_BASE = 18600
POLL = 0.005
MEASURES = ("start", "restart", "edit", "remove")


def testbed(*args: str) -> str:
    return subprocess.run([str(TESTBED), *args], capture_output=True, text=True, check=True).stdout.strip()


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            return False
        return True


def until(what: str, condition: Callable[[], bool], timeout: float = 120) -> float:
    """Polls every POLL seconds; returns the monotonic time at which the condition first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(POLL)
    raise TimeoutError(f"timed out waiting for {what}")


def manifest(name: str, image: str, port: int) -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\nspec:\n"
        f"  hostNetwork: true\n  terminationGracePeriodSeconds: 2\n  containers:\n  - name: web\n"
        f'    image: {image}\n    args: ["netexec", "--http-port={port}", "--udp-port=-1"]\n'
    )


def place(directory: Path, name: str, text: str) -> float:
    """Writes the manifest beside the directory and renames it in (atomic, as tools do); returns that moment."""
    staging = directory.parent / "staging"
    staging.mkdir(exist_ok=True)
    (staging / name).write_text(text)
    began = time.monotonic()
    (staging / name).rename(directory / name)
    return began


@dataclass
class Agent:
    name: str
    manifests: Path


def one_round(agent: Agent, image: str, port: int, name: str) -> dict[str, float]:
    """One pod's life; `name` is new each round (a pod with a name just removed waits for it under the kubelet)."""
    out: dict[str, float] = {}
    file = f"{name}.yaml"
    t0 = place(agent.manifests, file, manifest(name, image, port))
    out["start"] = until("start", lambda: accepts(port)) - t0
    time.sleep(0.3)  # the agent has seen the container running (the kubelet relists every second)
    t0 = time.monotonic()
    with contextlib.suppress(OSError):
        subprocess.run(["curl", "-s", "-m", "2", f"http://127.0.0.1:{port}/exit?code=1"], check=False)
    until("exit", lambda: not accepts(port), timeout=10)
    out["restart"] = until("restart", lambda: accepts(port)) - t0
    time.sleep(0.3)
    new = port + 1
    t0 = place(agent.manifests, file, manifest(name, image, new))
    done = until("edit", lambda: accepts(new) and not accepts(port))
    out["edit"] = done - t0
    time.sleep(0.3)
    t0 = time.monotonic()
    (agent.manifests / file).unlink()
    out["remove"] = until("remove", lambda: not accepts(new)) - t0
    return out


def scale_round(agent: Agent, image: str, pods: int) -> float:
    staging = agent.manifests.parent / "staging"
    staging.mkdir(exist_ok=True)
    for i in range(pods):
        (staging / f"s{i}.yaml").write_text(manifest(f"s{i}", image, SCALE_BASE + i))
    began = time.monotonic()
    for i in range(pods):
        (staging / f"s{i}.yaml").rename(agent.manifests / f"s{i}.yaml")
    pending = set(range(pods))
    while pending:
        pending = {i for i in pending if not accepts(SCALE_BASE + i)}
        if time.monotonic() - began > 300:
            raise TimeoutError(f"{agent.name}: {len(pending)} of {pods} pods not running after 300 s")
        if pending:
            time.sleep(POLL)
    took = time.monotonic() - began
    for i in range(pods):
        (agent.manifests / f"s{i}.yaml").unlink()
    until("scale pods gone", lambda: not any(accepts(SCALE_BASE + i) for i in range(pods)), timeout=300)
    return took


@contextlib.contextmanager
def kbs_agent(pause: str) -> Iterator[Agent]:
    root = Path(tempfile.mkdtemp(prefix="kbs-bench-kubelet-"))
    (root / "m").mkdir()
    node = f"kbs-bench-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "-m", "bootstrap", "reconcile", "--manifest-dir", str(root / "m"), "--node-name", node,
               "--state-dir", str(root / "s"), "--healthz-port", "0", "--node-ip", "127.0.0.1",
               "--pod-infra-container-image", pause]  # fmt: skip
    log = (root / "reconciler.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO, env=installed.env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(3)  # its start-up (imports, the first relist) is not what is measured
        yield Agent("kbs", root / "m")
    finally:
        process.terminate()
        process.wait(30)
        remove_instance_containers(node)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def kubelet_agent(bin_dir: Path, pause: str, image: str) -> Iterator[Agent]:
    with local_kubelet(bin_dir, pause) as node:
        saved = subprocess.run(["docker", "save", pause, image], capture_output=True, check=True).stdout
        node.ctr("images", "import", "-", stdin=saved)

        def healthy() -> bool:
            return (
                subprocess.run(
                    ["curl", "-sf", f"http://127.0.0.1:{node.healthz_port}/healthz"], capture_output=True, check=False
                ).returncode
                == 0
            )

        wait_until("the kubelet's healthz", healthy, timeout=60)
        time.sleep(2)
        yield Agent("kubelet", node.manifests)


def table(results: dict[str, dict[str, list[float]]], keys: tuple[str, ...], titles: dict[str, str]) -> str:
    lines = [
        "| measure | n | kbs p50 | kubelet p50 | ratio | kbs p95 | kubelet p95 | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in keys:
        a, b = results["kbs"][key], results["kubelet"][key]
        if not a or not b:
            continue
        a50, b50, a95, b95 = pct(a, 0.5), pct(b, 0.5), pct(a, 0.95), pct(b, 0.95)
        lines.append(
            f"| {titles[key]} | {len(a)} | {a50:.3f} s | {b50:.3f} s | {a50 / b50:.2f} | {a95:.3f} s | {b95:.3f} s | "
            f"{a95 / b95:.2f} |"
        )
    return "\n".join(lines)


TITLES = {
    "start": "manifest written → container running (port accepts)",
    "restart": "container exit → running again (first restart)",
    "edit": "manifest edited → old container gone, new one running",
    "remove": "manifest removed → container gone (port refuses)",
    "scale": "{pods} manifests written at once → all running",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--scale-runs", type=int, default=5)
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    args = parser.parse_args()
    bin_dir = Path(testbed("bin-dir"))
    images = {ref.rsplit("/", 1)[-1].split(":")[0]: ref for ref in reversed(testbed("images").splitlines())}
    pause, agnhost = images["pause"], images["agnhost"]
    results: dict[str, dict[str, list[float]]] = {k: {m: [] for m in (*MEASURES, "scale")} for k in ("kbs", "kubelet")}
    with kbs_agent(pause) as kbs, kubelet_agent(bin_dir, pause, agnhost) as kubelet:
        agents = (kbs, kubelet)
        for i in range(args.runs):
            for agent in agents if i % 2 == 0 else reversed(agents):
                sample = one_round(agent, agnhost, PORT_BASE + 2 * (i % 50), f"bench-{i}")
                for key, value in sample.items():
                    results[agent.name][key].append(value)
                print(
                    f"# {i + 1} {agent.name}: " + ", ".join(f"{k} {v:.3f}" for k, v in sample.items()), file=sys.stderr
                )
        for i in range(args.scale_runs):
            for agent in agents if i % 2 == 0 else reversed(agents):
                took = scale_round(agent, agnhost, args.pods)
                results[agent.name]["scale"].append(took)
                print(f"# scale {i + 1} {agent.name}: {took:.2f}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    titles = {**TITLES, "scale": TITLES["scale"].format(pods=args.pods)}
    print(table(results, (*MEASURES, "scale"), titles))


if __name__ == "__main__":
    main()
