"""The test bed's node side works, independently of kbs: a real kubelet with its own containerd runs a static
pod, and each node image starts on a test-made network and is removed with nothing left behind.

Other tests (the kubelet differential test, workers, HA) stand on these pieces; when one fails here, the
failure is the test bed's, not kbs's.
"""

from __future__ import annotations

import subprocess
import urllib.request

import docker
import pytest

from tests.real.conftest import TestBed
from tests.support import nodes
from tests.support.kubelet import local_kubelet, mounts_under, processes_under, runtime_cgroups
from tests.support.wait import wait_until

NETEXEC_PORT = 18180  # a hostNetwork pod's port; nothing else on the test bed uses it


def netexec_manifest(image: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: smoke-web
  namespace: default
spec:
  hostNetwork: true
  containers:
  - name: web
    image: {image}
    args: ["netexec", "--http-port={NETEXEC_PORT}"]
"""


def http_get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


def test_kubelet_with_containerd_runs_a_static_pod_and_leaves_nothing_behind(testbed: TestBed) -> None:
    cgroups_before = runtime_cgroups()
    images = " ".join(testbed.images[n] for n in ("pause", "agnhost"))
    with local_kubelet(testbed.bin_dir, testbed.images["pause"]) as node:
        saved = subprocess.run(f"docker save {images}", shell=True, capture_output=True, check=True).stdout
        node.ctr("images", "import", "-", stdin=saved)
        (node.manifests / "web.yaml").write_text(netexec_manifest(testbed.images["agnhost"]))
        hostname = wait_until(
            "the static pod's HTTP port", lambda: http_get(f"http://127.0.0.1:{NETEXEC_PORT}/hostname"), timeout=120
        )
        assert hostname  # agnhost netexec answers with the node's host name
        pods = node.crictl("pods", "--name", "smoke-web-kbs-smoke", "-q").split()
        assert len(pods) == 1, node.log()
        assert http_get(f"http://127.0.0.1:{node.healthz_port}/healthz") == "ok"
        root = node.root
    assert not root.exists()
    assert processes_under(root) == []
    assert mounts_under(root) == []
    assert runtime_cgroups() == cgroups_before
    assert http_get(f"http://127.0.0.1:{NETEXEC_PORT}/hostname") is None


@pytest.mark.parametrize("role", ["worker", "control-plane"])
def test_node_image_starts_its_runtime_and_is_removed_without_a_trace(
    testbed: TestBed, docker_client: docker.DockerClient, role: nodes.Role
) -> None:
    with nodes.node_network(docker_client, prefix="kbs-smoke") as net:
        node = net.start(f"{role}-1", role)
        node.wait_ready()
        if role == "worker":
            info = node.exec("crictl", "info")
            assert '"RuntimeReady"' in info
            listed = node.exec("crictl", "images", "-o", "json")
            assert testbed.images["pause"].rsplit(":", 1)[0] in listed
            assert "kube-proxy" in listed
        else:
            assert node.exec("docker", "info", "-f", "{{.ServerVersion}}").strip()
            listed = node.exec("docker", "images", "--format", "{{.Repository}}:{{.Tag}}")
            assert testbed.images["kube-apiserver"] in listed
            assert node.exec("kbs", "--version").startswith("kbs")
        name, container_id = net.name, node.id
    assert docker_client.containers.list(all=True, filters={"id": container_id}) == []
    assert docker_client.networks.list(names=[name]) == []
    assert docker_client.volumes.list(filters={"label": f"{nodes.LABEL}={name}"}) == []


def test_node_image_layout_is_upstreams(testbed: TestBed, docker_client: docker.DockerClient) -> None:
    """The images stand in for upstream's and must behave like them: entrypoints, users, paths."""

    def config(ref: str) -> dict[str, object]:
        attrs = docker_client.images.get(ref).attrs["Config"]
        return {"Entrypoint": attrs.get("Entrypoint"), "Cmd": attrs.get("Cmd"), "User": attrs.get("User") or ""}

    assert config(testbed.images["agnhost"]) == {"Entrypoint": ["/agnhost"], "Cmd": ["pause"], "User": ""}
    assert config(testbed.images["pause"]) == {"Entrypoint": ["/pause"], "Cmd": None, "User": "65535:65535"}
    assert config(testbed.images["coredns"])["Entrypoint"] == ["/coredns"]
    assert config(testbed.images["coredns"])["User"] == "65532:65532"
    assert config(testbed.images["kube-proxy"])["Entrypoint"] == ["/go-runner"]
    assert config(testbed.images["flannel"])["Entrypoint"] == ["/opt/bin/flanneld"]
    ls = docker_client.containers.run(
        testbed.images["agnhost"], ["ls", "-d", "/agnhost-2", "/uploads", "/localhost.crt"], entrypoint=[], remove=True
    )
    assert ls.decode().split() == ["/agnhost-2", "/localhost.crt", "/uploads"]
