"""Benchmark: the Vagrant lab on the Docker provider (`make lab`), from `vagrant up` to every node Ready.

Each scenario (masters+workers) is a lab of the project's Vagrantfile made apart from any `make lab` of the
checkout (tests/support/lab.py: its own name, network, out_dir and Vagrant state). `vagrant up --provider=docker`
runs with its output read line by line and time-stamped; the stages are cut at the lines the provisioning
scripts print:
  node start    `vagrant up` starts -> master-1's `kbs init` starts (Vagrant, the containers, their runtimes
                loading the test bed's images; the machines start in parallel)
  init          master-1's `kbs init` (its own "done in" line)
  joins         `kbs init` done -> `vagrant up` returns (the other masters' `kbs join --control-plane`, the
                workers' `kubeadm join`, which started in parallel and waited for the published commands)
  pod network   `vagrant up` returns -> every node Ready (flannel's pods start on every node, the kubelets
                report the network ready)
Then, once every kube-system pod is Ready, each node's memory from its cgroup (the container with its runtime and
pods: lab/docker.rb puts the whole node under kbs-node/<container>): resident memory, and tmpfs (the runtime's
image store and state, on tmpfs in the node containers). Finally `vagrant destroy -f`, timed.

3 masters + 2 workers needs `kbs join ENDPOINT --control-plane` (issue 14); without it that scenario is skipped.
Prints the Markdown of docs/performance.md's "## Lab" section. Run it under the real tests' lock:

    flock /tmp/kbs-real-tests.lock .venv/bin/python bench/lab_bench.py [--scenario 1+2 --scenario 3+2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker

from tests.support.lab import REPO, Lab, leftovers, make_lab, sweep
from tests.support.wait import wait_until

MIB = 1024 * 1024
INIT_START = "kbs-lab: kbs init --config"
INIT_DONE = "kbs init: done in"


@dataclass
class Result:
    scenario: str
    stages: dict[str, float] = field(default_factory=dict)
    memory: dict[str, dict[str, int]] = field(default_factory=dict)
    destroy: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.stages.values())


def kubectl_path() -> str:
    bin_dir = subprocess.run(
        [str(REPO / "tests/testbed/testbed.sh"), "bin-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return str(Path(bin_dir) / "kubectl")


def timed_up(lab: Lab) -> tuple[dict[str, float], float]:
    """`vagrant up --provider=docker`, with the time (since its start) of the first line containing each marker."""
    seen: dict[str, float] = {}
    lines: list[str] = []
    start = time.monotonic()
    with subprocess.Popen(
        ["vagrant", "up", "--provider=docker"],
        cwd=REPO,
        env=lab.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as up:
        assert up.stdout is not None
        for line in up.stdout:
            lines.append(line)
            for marker in (INIT_START, INIT_DONE):
                if marker in line and marker not in seen:
                    seen[marker] = time.monotonic() - start
        code = up.wait()
    ended = time.monotonic() - start
    if code != 0 or len(seen) != 2:
        raise SystemExit(f"vagrant up failed ({code}):\n{''.join(lines[-60:])}")
    return seen, ended


def run(client: docker.DockerClient, kubectl: str, masters: int, workers: int) -> Result:
    result = Result(scenario=f"{masters}+{workers}")
    base = Path(tempfile.mkdtemp(prefix="kbs-bench-lab-"))
    lab = make_lab(client, base, kubectl, masters=masters, workers=workers, prefix="kbs-lab-bench")
    try:
        seen, up_done = timed_up(lab)
        returned = time.monotonic()
        wait_until("every node Ready", lab.ready_nodes, timeout=600, interval=0.5)
        result.stages = {
            "node start": seen[INIT_START],
            "init": seen[INIT_DONE] - seen[INIT_START],
            "joins": up_done - seen[INIT_DONE],
            "pod network": time.monotonic() - returned,
        }
        lab.kubectl("wait", "--for=condition=Ready", "pod", "--all", "-n", "kube-system", "--timeout=300s")
        lab.kubectl("wait", "--for=condition=Ready", "pod", "--all", "-n", "kube-flannel", "--timeout=300s")
        result.memory = {m: lab.node_memory(m) for m in lab.master_names + lab.worker_names}
        started = time.monotonic()
        destroyed = lab.vagrant("destroy", "-f", timeout=900)
        result.destroy = time.monotonic() - started
        if destroyed.returncode != 0 or leftovers(client, lab):
            raise SystemExit(f"vagrant destroy left {leftovers(client, lab)}: {destroyed.stderr[-2000:]}")
    finally:
        if client.containers.list(all=True, filters={"name": lab.name}):
            lab.vagrant("destroy", "-f", timeout=900)
        sweep(client, lab)
        shutil.rmtree(lab.out, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    return result


def markdown(results: list[Result]) -> str:
    out = ["## Lab", ""]
    out.append(
        "`make lab` on this machine: `vagrant up --provider=docker` of the project's Vagrantfile (node containers "
        "from the test bed's images, `kbs init --pod-network=flannel` on master-1, `kubeadm join` on the workers), "
        "timed to every node Ready, then `vagrant destroy -f` (bench/lab_bench.py, one run per scenario)."
    )
    out += ["", "| lab | to all nodes Ready | node start | init | joins | pod network | destroy |"]
    out += ["|---|---|---|---|---|---|---|"]
    for r in results:
        shares = " | ".join(f"{s:.1f} s ({100 * s / r.total:.0f} %)" for s in r.stages.values())
        out.append(f"| {r.scenario} | {r.total:.1f} s | {shares} | {r.destroy:.1f} s |")
    out += ["", "Memory per node once every kube-system pod is Ready (the node's cgroup: the container, its runtime"]
    out += ["and its pods; tmpfs is the runtime's image store and state, in memory in the node containers):", ""]
    out += ["| lab | node | resident | tmpfs | page cache |", "|---|---|---|---|---|"]
    for r in results:
        for node, mem in r.memory.items():
            out.append(
                f"| {r.scenario} | {node} | {mem['rss'] / MIB:.0f} MiB | {mem['shmem'] / MIB:.0f} MiB | "
                f"{(mem['cache'] - mem['shmem']) / MIB:.0f} MiB |"
            )
        rss = sum(m["rss"] for m in r.memory.values())
        shmem = sum(m["shmem"] for m in r.memory.values())
        out.append(f"| {r.scenario} | **total** | {rss / MIB:.0f} MiB | {shmem / MIB:.0f} MiB | |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="MASTERS+WORKERS (default: 1+2 and 3+2)")
    args = parser.parse_args()
    scenarios = args.scenario or ["1+2", "3+2"]
    client = docker.from_env()
    kubectl = kubectl_path()
    results = []
    for scenario in scenarios:
        masters, workers = (int(n) for n in scenario.split("+"))
        results.append(run(client, kubectl, masters, workers))
    print(markdown(results))


if __name__ == "__main__":
    main()
