"""The test bed holds each full version's whole image pairing: every image `kbs images list` names for the default
version and the previous minor (the upgrade tests' starting point) is in the Docker engine, and the previous minor's
addons (kube-proxy, CoreDNS) start and report their version, laid out like the default version's.

Older minors have only their kubeadm in the test bed (the manifest-fidelity tests), so their images are not
checked here. The image checks are cheap (short-lived containers); the last test brings up one small v1.36.3
cluster (a kbs control-plane node and one worker with the v1.36.3 kubelet) to see its addons run those images.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from bootstrap import versions
from tests.real.conftest import TestBed, _testbed
from tests.support.cluster import POD_SUBNET, Cluster, control_plane_node
from tests.support.nodes import node_network
from tests.support.wait import wait_until


def _previous_minor() -> versions.KubernetesVersion:
    """The newest supported version one minor below the default (testbed.sh's `previous_version`)."""
    want = versions.default().minor - 1
    return next(v for v in versions.supported() if v.minor == want)


DEFAULT, PREVIOUS = versions.default(), _previous_minor()
REGISTRY = "registry.k8s.io"


def _kbs_images(version: str) -> list[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "bootstrap", "images", "list", "--kubernetes-version", version],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.mark.parametrize("version", [DEFAULT.version, PREVIOUS.version])
def test_every_image_kbs_lists_is_in_the_testbed(
    testbed: TestBed, docker_client: docker.DockerClient, version: str
) -> None:
    refs = _kbs_images(version)
    assert f"{REGISTRY}/kube-proxy:{version}" in refs
    declared = set(_testbed("images").splitlines())
    assert [r for r in refs if r not in declared] == [], "`testbed.sh images` does not declare these"
    missing = []
    for ref in refs:
        try:
            docker_client.images.get(ref)
        except docker.errors.ImageNotFound:
            missing.append(ref)
    assert missing == [], "not in the test bed's Docker engine; run `make testbed`"


def _run(client: docker.DockerClient, image: str, command: list[str]) -> str:
    """The image's own entrypoint with `command` as its arguments, on no network; its standard output (go-runner,
    kube-proxy's entrypoint, writes its own banner to standard error)."""
    output = client.containers.run(image, command, network_mode="none", remove=True, stdout=True, stderr=False)
    return bytes(output).decode(errors="replace")


def _layout(client: docker.DockerClient, ref: str) -> tuple[object, object, object, object]:
    config = client.images.get(ref).attrs["Config"]
    return config.get("Entrypoint"), config.get("Cmd"), config.get("User") or "", config.get("WorkingDir") or ""


def test_previous_kube_proxy_starts_and_reports_its_version(
    testbed: TestBed, docker_client: docker.DockerClient
) -> None:
    image = f"{REGISTRY}/kube-proxy:{PREVIOUS.version}"
    # Through go-runner, the entrypoint upstream's image has and its DaemonSet's command runs under.
    output = _run(docker_client, image, ["/usr/local/bin/kube-proxy", "--version"])
    assert output.strip() == f"Kubernetes {PREVIOUS.version}"
    assert "iptables v1" in _run(docker_client, image, ["/usr/sbin/iptables", "--version"])
    assert _layout(docker_client, image) == _layout(docker_client, testbed.images["kube-proxy"])


def test_previous_coredns_starts_and_reports_its_version(testbed: TestBed, docker_client: docker.DockerClient) -> None:
    image = f"{REGISTRY}/coredns/coredns:{PREVIOUS.coredns_tag}"
    output = _run(docker_client, image, ["-version"])
    assert f"CoreDNS-{PREVIOUS.coredns_tag.removeprefix('v')}" in output
    assert _layout(docker_client, image) == _layout(docker_client, testbed.images["coredns"])
    assert _layout(docker_client, image)[2] == "65532:65532"


def test_previous_coredns_serves_a_zone(testbed: TestBed, docker_client: docker.DockerClient, tmp_path: Path) -> None:
    """More than a version flag: the image, run as its own user, answers a DNS query on a test-made network."""
    corefile = tmp_path / "Corefile"
    corefile.write_text(".:1053 {\n    hosts {\n        192.0.2.10 previous.kbs.test\n    }\n}\n")
    tmp_path.chmod(0o755)  # read by the image's user, 65532
    corefile.chmod(0o644)
    name = f"kbs-prevdns-{uuid.uuid4().hex[:8]}"
    network = docker_client.networks.create(name, labels={"io.kbs.test": name})
    try:
        server = docker_client.containers.run(
            f"{REGISTRY}/coredns/coredns:{PREVIOUS.coredns_tag}",
            ["-conf", "/etc/coredns/Corefile"],
            name=name,
            network=name,
            volumes={str(tmp_path): {"bind": "/etc/coredns", "mode": "ro"}},
            detach=True,
        )

        def answer() -> str | None:
            server.reload()
            if server.status != "running":
                pytest.fail(f"CoreDNS exited: {server.logs().decode(errors='replace')}")
            dig = ["dig", "+short", "+time=1", "+tries=1", "-p", "1053", f"@{name}", "previous.kbs.test"]
            out = docker_client.containers.run(
                testbed.images["kube-proxy"], dig, entrypoint=[], network=name, remove=True
            )
            text = bytes(out).decode().strip()
            return text if text and not text.startswith(";;") else None  # ";; ... timed out": not yet

        assert wait_until("CoreDNS's answer", answer, timeout=60) == "192.0.2.10"
    finally:
        for container in docker_client.containers.list(all=True, filters={"name": name}):
            container.remove(force=True)
        network.remove()


# kube-proxy v1.36 always writes nf_conntrack_max (v1.37 only when the current value is lower), which a pod in a
# node container may not do on this machine; maxPerCore 0 leaves it alone, as kind does (docs/testing.md).
PREVIOUS_CLUSTER_CONFIG = f"""\
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: {PREVIOUS.version}
networking:
  podSubnet: {POD_SUBNET}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
conntrack:
  maxPerCore: 0
"""


def _save(*refs: str) -> bytes:
    return subprocess.run(["docker", "save", *refs], capture_output=True, check=True).stdout


def test_a_previous_minor_cluster_runs_its_own_addons(docker_client: docker.DockerClient) -> None:
    """The upgrade tests' starting point with workers: a kbs v1.36.3 control-plane node, a worker with the v1.36.3
    kubelet and kubeadm, and the addons kbs deploys for v1.36.3 running the test bed's v1.36.3 images."""
    old_bin = Path(_testbed("bin-dir", PREVIOUS.version))
    control_plane = [f"{REGISTRY}/{c}:{PREVIOUS.version}" for c in ("kube-apiserver", "kube-controller-manager")]
    control_plane += [f"{REGISTRY}/kube-scheduler:{PREVIOUS.version}", f"{REGISTRY}/etcd:{PREVIOUS.etcd_tag}"]
    addons = [f"{REGISTRY}/kube-proxy:{PREVIOUS.version}", f"{REGISTRY}/coredns/coredns:{PREVIOUS.coredns_tag}"]
    with node_network(docker_client, prefix="kbs-previous") as network:
        cp = control_plane_node(network)
        cp.exec("docker", "load", stdin=_save(*control_plane), timeout=300)  # the node preloads the default's
        cp.exec("sh", "-c", "cat > /tmp/kbs-config.yaml", stdin=PREVIOUS_CLUSTER_CONFIG.encode())
        init = cp.exec(
            "kbs", "init", "--config=/tmp/kbs-config.yaml", "--pod-network=flannel", f"--node-name={cp.name}",
            timeout=600,
        )  # fmt: skip
        made = Cluster(network=network, control_plane=cp, init_output=init)
        mounts = [
            (str(old_bin / "kubelet"), "/usr/local/bin/kubelet"),
            (str(old_bin / "kubeadm"), "/usr/local/bin/kubeadm"),
        ]
        worker = network.start("worker-1", "worker", mounts=mounts)
        worker.wait_ready()
        assert worker.exec("kubelet", "--version").strip() == f"Kubernetes {PREVIOUS.version}"
        worker.exec("ctr", "-n", "k8s.io", "images", "import", "-", stdin=_save(*addons), timeout=300)
        made.join_worker(worker)
        made.wait_nodes_ready([worker.name], timeout=180)

        def addon_pods() -> dict[str, set[str]] | None:
            pods = made.kubectl_json("-n", "kube-system", "get", "pods")["items"]
            running: dict[str, set[str]] = {}
            for pod in pods:  # type: ignore[attr-defined]
                app = next((a for a in ("kube-proxy", "coredns") if pod["metadata"]["name"].startswith(a + "-")), None)
                on_worker = pod["spec"].get("nodeName") == worker.name and pod["status"]["phase"] == "Running"
                if app and on_worker:
                    running.setdefault(app, set()).update(c["image"] for c in pod["spec"]["containers"])
            return running if len(running) == 2 else None

        images = wait_until("kube-proxy and CoreDNS running on the v1.36.3 worker", addon_pods, timeout=180, interval=2)
        assert images == {"kube-proxy": {addons[0]}, "coredns": {addons[1]}}
