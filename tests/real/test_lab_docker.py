"""The Vagrant lab for real, on the Docker provider: `vagrant up --provider=docker`, a cluster, `vagrant destroy -f`.

The lab is the project's Vagrantfile with a settings file this module writes (KBS_LAB_SETTINGS): its own name (so
its containers and network are its own), a /24 no Docker network or route of this machine uses, its own out_dir
under lab/out (git ignores it) and Vagrant state in a temporary directory, so a `make lab` in the same checkout
is left alone. The default scenario is 1 master and 1 worker; `make lab-test` (KBS_LAB_TEST_HA=1) runs 3 masters
(master-2 and master-3 join with `kbs join --control-plane`) and 2 workers.

One lab per module; the last test destroys it and checks that nothing is left on the host: containers, the lab
network, volumes, the nodes' cgroups, the published files. The fixture destroys it again (and sweeps by name)
whatever happened.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.real.conftest import TestBed
from tests.support.lab import Lab, leftovers, make_lab, sweep
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
HA = os.environ.get("KBS_LAB_TEST_HA") == "1"
MASTERS, WORKERS = (3, 2) if HA else (1, 1)
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"  # in the worker node image's preloaded images
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CONTROL_PLANE = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}


@pytest.fixture(scope="module")
def lab(
    testbed: TestBed, docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    if shutil.which("vagrant") is None:
        pytest.fail("vagrant is not installed: run tests/tools.sh")
    base = tmp_path_factory.mktemp("lab-docker")
    made = make_lab(docker_client, base, testbed.bin("kubectl"), masters=MASTERS, workers=WORKERS)
    try:
        started = time.monotonic()
        up = made.vagrant("up", "--provider=docker")
        output = up.stdout + up.stderr
        assert up.returncode == 0, f"vagrant up failed:\n{output[-6000:]}"
        print(f"\nlab {MASTERS}+{WORKERS}: vagrant up --provider=docker took {time.monotonic() - started:.0f}s")
        yield made
    finally:
        if docker_client.containers.list(all=True, filters={"name": made.name}):  # the last test did not destroy it
            made.vagrant("destroy", "-f", timeout=600)
        sweep(docker_client, made)
        shutil.rmtree(made.out, ignore_errors=True)


def test_every_node_registers_and_turns_ready(lab: Lab) -> None:
    assert wait_until("every lab node Ready", lab.ready_nodes, timeout=300, interval=2) == sorted(
        lab.master_names + lab.worker_names
    )
    nodes = {n["metadata"]["name"]: n for n in lab.kubectl_json("get", "nodes")["items"]}
    for name in lab.worker_names:
        assert nodes[name]["spec"].get("podCIDR"), f"{name} has no pod CIDR"
        assert nodes[name]["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")


def test_published_files_are_private_to_their_owner(lab: Lab) -> None:
    expected = {"admin.conf", "join-command"} | ({"join-command-control-plane"} if MASTERS > 1 else set())
    assert {p.name for p in lab.out.iterdir()} == expected
    assert {p.name: p.stat().st_mode & 0o777 for p in lab.out.iterdir()} == dict.fromkeys(expected, 0o600)


def test_every_master_publishes_its_four_mirror_pods(lab: Lab) -> None:
    def mirrors() -> dict[str, set[str]] | None:
        pods = lab.kubectl_json("get", "pods", "-n", "kube-system")["items"]
        found: dict[str, set[str]] = {m: set() for m in lab.master_names}
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
    assert {p["spec"]["nodeName"] for p in pods} <= set(lab.worker_names)
    assert all(p["status"]["podIP"].startswith("10.244.") for p in pods)  # flannel's addresses


def test_provisioning_again_converges_and_changes_nothing(lab: Lab) -> None:
    before = {n["metadata"]["name"]: n["metadata"]["uid"] for n in lab.kubectl_json("get", "nodes")["items"]}
    again = lab.vagrant("provision", timeout=600)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-4000:]
    if MASTERS == 1:  # with several, master-1 uploads the certificates again (a fresh key, like kubeadm)
        assert "kbs init: nothing changed" in output
    assert all(f"{m} has joined already" in output for m in lab.master_names[1:])
    assert all(f"{w} has joined already" in output for w in lab.worker_names)
    after = {n["metadata"]["name"]: n["metadata"]["uid"] for n in lab.kubectl_json("get", "nodes")["items"]}
    assert after == before


def test_zz_destroy_leaves_nothing_behind(lab: Lab, docker_client: docker.DockerClient) -> None:
    destroyed = lab.vagrant("destroy", "-f", timeout=600)
    assert destroyed.returncode == 0, (destroyed.stdout + destroyed.stderr)[-4000:]
    assert leftovers(docker_client, lab) == []
