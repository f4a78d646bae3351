"""The Vagrant lab for real, on the Docker provider: `vagrant up --provider=docker`, a cluster, `vagrant destroy -f`.

The lab is the project's Vagrantfile with a settings file this module writes (KBS_LAB_SETTINGS): its own name (so
its containers and network are its own), a /24 no Docker network or route of this machine uses, its own out_dir
under lab/out (git ignores it) and Vagrant state in a temporary directory, so a `make lab` in the same checkout
is left alone. The default scenario is 1 master and 1 worker; `make lab-test` (KBS_LAB_TEST_HA=1) runs 3 masters
(master-2 and master-3 join with `kbs join --control-plane`) and 2 workers, and is skipped while the kbs under
test has no control-plane join.

One lab per module; the last test destroys it and checks that nothing is left on the host: containers, the lab
network, volumes, the nodes' cgroups, the published files. The fixture destroys it again (and sweeps by name)
whatever happened.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.real.conftest import TestBed
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
HA = os.environ.get("KBS_LAB_TEST_HA") == "1"
MASTERS, WORKERS = (3, 2) if HA else (1, 1)
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"  # in the worker node image's preloaded images
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CONTROL_PLANE = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}


@dataclass
class Lab:
    name: str
    env: dict[str, str]
    out: Path  # the host side of the lab's out_dir
    kubectl_bin: str
    up_seconds: float = 0.0
    destroyed: bool = False
    up_output: str = field(default="", repr=False)

    @property
    def masters(self) -> list[str]:
        return [f"master-{i}" for i in range(1, MASTERS + 1)]

    @property
    def workers(self) -> list[str]:
        return [f"worker-{i}" for i in range(1, WORKERS + 1)]

    def vagrant(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["vagrant", *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )

    def kubectl(self, *args: str) -> str:
        result = subprocess.run(
            [self.kubectl_bin, f"--kubeconfig={self.out / 'admin.conf'}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))


def _kbs_joins_control_planes() -> bool:
    """Whether `kbs join` is the command (not only the group of phases) and takes --control-plane."""
    kbs = str(Path(sys.executable).with_name("kbs"))
    usage = subprocess.run([kbs, "join", "--control-plane", "--help"], check=False, capture_output=True, text=True)
    return usage.returncode == 0 and "--certificate-key" in usage.stdout


def _free_prefix(client: docker.DockerClient) -> str:
    """A 192.168.X prefix whose /24 no Docker network and no route of this machine overlaps."""
    taken: list[ipaddress.IPv4Network] = []
    for network in client.networks.list():
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
            subnet = config.get("Subnet", "")
            if subnet and ":" not in subnet:
                taken.append(ipaddress.IPv4Network(subnet, strict=False))
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=False).stdout
    for line in routes.splitlines():
        first = line.split()[0] if line.split() else ""
        if "/" in first:
            taken.append(ipaddress.IPv4Network(first, strict=False))
    for third in range(200, 250):
        candidate = ipaddress.IPv4Network(f"192.168.{third}.0/24")
        if not any(candidate.overlaps(t) for t in taken):
            return f"192.168.{third}"
    pytest.fail("no free 192.168.200-249.0/24 for the lab network")


def _leftovers(client: docker.DockerClient, lab: Lab) -> list[str]:
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters={"name": lab.name})]
    found += [f"network {n.name}" for n in client.networks.list(names=[lab.name]) if n.name == lab.name]
    found += [f"volume {v.name}" for v in client.volumes.list(filters={"label": f"io.kbs.lab={lab.name}"})]
    found += [f"cgroup {p}" for p in Path("/sys/fs/cgroup").glob(f"*/kbs-node/{lab.name}-*")]
    found += [f"file {p}" for p in lab.out.glob("*")]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount of {lab.name}" for line in mounts.splitlines() if lab.name in line]
    return found


def _sweep(client: docker.DockerClient, lab: Lab) -> None:
    """What a failed `vagrant destroy` may have left: this lab's containers and network (by its unique name)."""
    for container in client.containers.list(all=True, filters={"name": lab.name}):
        container.remove(force=True, v=True)
    for network in client.networks.list(names=[lab.name]):
        if network.name == lab.name:
            network.remove()
    for path in sorted(Path("/sys/fs/cgroup").glob(f"*/kbs-node/{lab.name}-*/**"), key=lambda p: -len(p.parts)):
        if path.is_dir():
            path.rmdir()


@pytest.fixture(scope="module")
def lab(
    testbed: TestBed, docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    if shutil.which("vagrant") is None:
        pytest.fail("vagrant is not installed: run tests/tools.sh")
    if HA and not _kbs_joins_control_planes():
        pytest.skip("kbs has no `kbs join ENDPOINT --control-plane` yet (issue 14): the 3-master lab waits for it")
    base = tmp_path_factory.mktemp("lab-docker")
    name = f"kbs-lab-test-{uuid.uuid4().hex[:6]}"
    out_dir = f"lab/out/{name}"
    settings = base / "settings.yaml"
    settings.write_text(
        f"name: {name}\nmasters: {MASTERS}\nworkers: {WORKERS}\n"
        f'network_prefix: "{_free_prefix(docker_client)}"\nout_dir: {out_dir}\njoin_wait_seconds: 600\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAGRANT_", "KBS_LAB_"))}
    env.update(
        VAGRANT_CWD=str(ROOT),
        VAGRANT_HOME=str(base / "home"),
        VAGRANT_DOTFILE_PATH=str(base / "dot"),
        KBS_LAB_SETTINGS=str(settings),
        VAGRANT_NO_COLOR="1",
    )
    made = Lab(name=name, env=env, out=ROOT / out_dir, kubectl_bin=testbed.bin("kubectl"))
    try:
        started = time.monotonic()
        up = made.vagrant("up", "--provider=docker")
        made.up_seconds = time.monotonic() - started
        made.up_output = up.stdout + up.stderr
        assert up.returncode == 0, f"vagrant up failed:\n{made.up_output[-6000:]}"
        print(f"\nlab {MASTERS}+{WORKERS}: vagrant up --provider=docker took {made.up_seconds:.0f}s")
        yield made
    finally:
        if not made.destroyed:
            made.vagrant("destroy", "-f", timeout=600)
        _sweep(docker_client, made)
        shutil.rmtree(made.out, ignore_errors=True)


def _ready(lab: Lab) -> list[str] | None:
    items = lab.kubectl_json("get", "nodes")["items"]
    ready = [
        n["metadata"]["name"]
        for n in items
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
    ]
    return sorted(ready) if len(ready) == MASTERS + WORKERS else None


def test_every_node_registers_and_turns_ready(lab: Lab) -> None:
    assert wait_until("every lab node Ready", lambda: _ready(lab), timeout=300, interval=2) == sorted(
        lab.masters + lab.workers
    )
    nodes = {n["metadata"]["name"]: n for n in lab.kubectl_json("get", "nodes")["items"]}
    for name in lab.workers:
        assert nodes[name]["spec"].get("podCIDR"), f"{name} has no pod CIDR"
        assert nodes[name]["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")


def test_published_files_are_private_to_their_owner(lab: Lab) -> None:
    expected = {"admin.conf", "join-command"} | ({"join-command-control-plane"} if MASTERS > 1 else set())
    assert {p.name for p in lab.out.iterdir()} == expected
    assert {p.name: p.stat().st_mode & 0o777 for p in lab.out.iterdir()} == dict.fromkeys(expected, 0o600)


def test_every_master_publishes_its_four_mirror_pods(lab: Lab) -> None:
    def mirrors() -> dict[str, set[str]] | None:
        pods = lab.kubectl_json("get", "pods", "-n", "kube-system")["items"]
        found: dict[str, set[str]] = {m: set() for m in lab.masters}
        for pod in pods:
            node = pod["spec"].get("nodeName", "")
            mirror = MIRROR_ANNOTATION in pod["metadata"].get("annotations", {})
            if node in found and mirror and pod.get("status", {}).get("phase") == "Running":
                found[node].add(pod["metadata"]["labels"]["component"])
        return found if all(v == CONTROL_PLANE for v in found.values()) else None

    assert wait_until("every master's mirror pods Running", mirrors, timeout=180, interval=2)


def test_a_deployment_runs_its_pods_on_the_workers(lab: Lab) -> None:
    lab.kubectl("create", "deployment", "web", f"--image={AGNHOST}", f"--replicas={WORKERS}", "--", "/agnhost",
                "netexec", "--http-port=8080")  # fmt: skip
    lab.kubectl("rollout", "status", "deployment/web", "--timeout=180s")
    pods = lab.kubectl_json("get", "pods", "-l", "app=web")["items"]
    assert len(pods) == WORKERS
    assert {p["spec"]["nodeName"] for p in pods} <= set(lab.workers)
    assert all(p["status"]["podIP"].startswith("10.244.") for p in pods)  # flannel's addresses


def test_provisioning_again_converges_and_changes_nothing(lab: Lab) -> None:
    before = {n["metadata"]["name"]: n["metadata"]["uid"] for n in lab.kubectl_json("get", "nodes")["items"]}
    again = lab.vagrant("provision", timeout=600)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-4000:]
    assert "kbs init: nothing changed" in output
    assert all(f"{w} has joined already" in output for w in lab.workers)
    after = {n["metadata"]["name"]: n["metadata"]["uid"] for n in lab.kubectl_json("get", "nodes")["items"]}
    assert after == before


def test_zz_destroy_leaves_nothing_behind(lab: Lab, docker_client: docker.DockerClient) -> None:
    destroyed = lab.vagrant("destroy", "-f", timeout=600)
    lab.destroyed = True
    assert destroyed.returncode == 0, (destroyed.stdout + destroyed.stderr)[-4000:]
    assert _leftovers(docker_client, lab) == []
