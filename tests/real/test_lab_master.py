"""The lab's master provisioning path, for real: lab/master.sh brings up a healthy control plane with `kbs init`.

The script runs as it does on master-1 with two differences it offers for this purpose: it installs nothing
(KBS_LAB_SKIP_PACKAGES=1; the project's own `kbs` is used), and every node path kbs uses is under a temporary
directory (KBS_LAB_ROOT). Like master-1 it advertises its own interface's address, here the default-route
interface's (not 127.0.0.1: kube-apiserver refuses to advertise a loopback address). The control plane listens on
the standard ports like the lab's, so the module takes its turn with the other real control-plane tests: it
holds the `control_plane_lock` fixture, and `exclusive_ports` (the init tests' lock, then a wait until no one
holds those ports). It removes everything with `kbs reset --force`, then sweeps whatever reset missed: containers
of its uniquely named node, processes started from its temporary directory.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bootstrap import constants
from bootstrap.config.host import default_route_address
from tests.real.conftest import TestBed
from tests.support.control_plane import exclusive_ports

ROOT = Path(__file__).resolve().parents[2]
MASTER_SCRIPT = ROOT / "lab" / "master.sh"
KBS = Path(sys.executable).with_name("kbs")
JOIN = re.compile(
    r"^kubeadm join (?P<endpoint>\S+) --token (?P<id>[a-z0-9]{6})\.(?P<secret>[a-z0-9]{16})"
    r" --discovery-token-ca-cert-hash (?P<hash>sha256:[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Lab:
    root: Path  # KBS_LAB_ROOT: the node's /
    shared: Path  # KBS_LAB_SHARED_DIR: what the host and the workers see
    node: str
    address: str  # KBS_LAB_ADDRESS: what the API server advertises
    env: dict[str, str]
    first_run: subprocess.CompletedProcess[str]

    @property
    def config(self) -> Path:
        return _config(self.root)

    @property
    def admin_conf(self) -> Path:
        return self.shared / "admin.conf"


def _config(root: Path) -> Path:
    """Where lab/master.sh writes the filled-in lab/kbs-lab.yaml (<root>/etc/kbs/lab.yaml)."""
    return root / "etc" / "kbs" / "lab.yaml"


def _run_master_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(MASTER_SCRIPT)], check=False, env=env, capture_output=True, text=True, timeout=600
    )


def _sweep(node: str, base: Path, client: docker.DockerClient) -> None:
    """Remove what `kbs reset` may have missed; only this test's things (its node name, its directory)."""
    for container in client.containers.list(all=True, filters={"name": node}):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    mine = str(base).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if mine in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def lab(
    testbed: TestBed,
    docker_client: docker.DockerClient,
    control_plane_lock: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab-master")
    node = f"kbs-lab-test-{uuid.uuid4().hex[:8]}"
    address, no_route = default_route_address()
    if no_route:
        pytest.fail(f"this machine has no default-route address to advertise: {no_route}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBS_LAB_")}
    env.update(
        KBS_LAB_ADDRESS=address,
        KBS_LAB_NODE_NAME=node,
        KBS_LAB_SKIP_PACKAGES="1",
        KBS_LAB_KBS=str(KBS),
        KBS_LAB_ROOT=str(base / "root"),
        KBS_LAB_SHARED_DIR=str(base / "shared"),
        PATH=f"{testbed.bin_dir}{os.pathsep}{KBS.parent}{os.pathsep}{os.environ['PATH']}",
    )
    with exclusive_ports():
        try:
            first = _run_master_script(env)
            yield Lab(root=base / "root", shared=base / "shared", node=node, address=address, env=env, first_run=first)
        finally:
            reset = [str(KBS), "reset", "--force", "--config", str(_config(base / "root"))]
            subprocess.run(reset, check=False, capture_output=True)
            _sweep(node, base, docker_client)


def _kubectl(testbed: TestBed, lab: Lab, *args: str) -> str:
    result = subprocess.run(
        [testbed.bin("kubectl"), "--kubeconfig", str(lab.admin_conf), "--request-timeout=20s", *args],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _join_line(lab: Lab) -> re.Match[str]:
    text = (lab.shared / "join-command").read_text()
    assert text.count("\n") == 1, text
    match = JOIN.match(text.strip())
    assert match, text
    return match


def _node_containers(client: docker.DockerClient, lab: Lab) -> dict[str, str]:
    """Running containers of this node's static pods: name -> id."""
    return {str(c.name): str(c.id) for c in client.containers.list(filters={"name": lab.node})}


def test_master_script_refuses_to_start_without_an_address() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBS_LAB_")} | {"KBS_LAB_SKIP_PACKAGES": "1"}
    result = _run_master_script(env)
    assert result.returncode == 1
    assert "kbs-lab: error: KBS_LAB_ADDRESS is not set" in result.stderr


def test_master_script_brings_up_a_control_plane_that_answers_with_the_published_admin_conf(
    lab: Lab, testbed: TestBed
) -> None:
    assert lab.first_run.returncode == 0, lab.first_run.stdout + lab.first_run.stderr
    assert _kubectl(testbed, lab, "get", "--raw", "/readyz") == "ok"
    assert _kubectl(testbed, lab, "get", "node", lab.node, "-o", "name").strip() == f"node/{lab.node}"


def test_published_admin_conf_points_at_the_advertised_address_and_is_private(lab: Lab) -> None:
    admin = yaml.safe_load(lab.admin_conf.read_text())
    assert [c["cluster"]["server"] for c in admin["clusters"]] == [f"https://{lab.address}:{constants.APISERVER_PORT}"]
    for published in (lab.admin_conf, lab.shared / "join-command"):
        assert published.stat().st_mode & 0o777 == 0o600, published


def test_published_join_command_carries_a_live_token_and_the_cluster_ca_pin(lab: Lab, testbed: TestBed) -> None:
    join = _join_line(lab)
    assert join["endpoint"] == f"{lab.address}:{constants.APISERVER_PORT}"
    ca = x509.load_pem_x509_certificate((lab.root / "etc/kubernetes/pki/ca.crt").read_bytes())
    spki = ca.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert join["hash"] == "sha256:" + hashlib.sha256(spki).hexdigest()
    secret = _kubectl(
        testbed, lab, "get", "secret", "-n", "kube-system", f"bootstrap-token-{join['id']}", "-o", "jsonpath={.data}"
    )
    data = {k: base64.b64decode(v).decode() for k, v in yaml.safe_load(secret).items()}
    assert data["token-secret"] == join["secret"]
    assert data["usage-bootstrap-authentication"] == "true"


def test_published_join_command_works_as_is_for_a_stock_kubeadm(lab: Lab, testbed: TestBed) -> None:
    # What lab/worker.sh runs, word for word, plus --dry-run: kubeadm discovers the cluster through cluster-info,
    # checks its signature with the token and pins the CA. It runs in a throwaway container on the host network,
    # so this machine is not touched.
    words = (lab.shared / "join-command").read_text().split()
    container = ["docker", "run", "--rm", "--network", "host", "-v", f"{testbed.bin('kubeadm')}:/kubeadm:ro"]
    command = [*container, "--entrypoint", "/kubeadm", testbed.images["agnhost"], *words[1:]]
    flags = ["--node-name", f"{lab.node}-worker", "--dry-run", "--ignore-preflight-errors=all"]
    joined = subprocess.run([*command, *flags], check=False, capture_output=True, text=True, timeout=180)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    assert "This node has joined the cluster" in joined.stdout


def test_running_the_master_script_again_keeps_the_same_cluster_running(
    lab: Lab, testbed: TestBed, docker_client: docker.DockerClient
) -> None:
    admin_before = yaml.safe_load(lab.admin_conf.read_text())
    containers_before = _node_containers(docker_client, lab)
    assert len(containers_before) >= len(constants.ALL_COMPONENTS)

    again = _run_master_script(lab.env)

    assert again.returncode == 0, again.stdout + again.stderr
    admin_after = yaml.safe_load(lab.admin_conf.read_text())
    assert admin_after["clusters"] == admin_before["clusters"]  # same CA, same server
    assert _node_containers(docker_client, lab) == containers_before  # nothing restarted
    assert _kubectl(testbed, lab, "get", "--raw", "/readyz") == "ok"
    _join_line(lab)


def test_kbs_reset_removes_the_lab_control_plane(lab: Lab, docker_client: docker.DockerClient) -> None:
    result = subprocess.run(
        [str(KBS), "reset", "--force", "--config", str(lab.config)],
        check=False,
        capture_output=True,
        text=True,
        env=lab.env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert docker_client.containers.list(all=True, filters={"name": lab.node}) == []
    assert not (lab.root / "etc" / "kubernetes" / "manifests").exists()
