"""`kbs init --reconciler kubelet` with the real kubelet v1.37.2 and containerd: kbs finds the kubelet's
staticPodPath, writes the control plane there and waits until the kubelet has it healthy; the kubelet registers the
Node and publishes the mirror pods. Then `kbs status`, a re-run and `kbs reset` without the flag (the node's record
says the kubelet runs the pods), a contradicting flag refused, the discovery of running kubelets
with a non-default staticPodPath (k3s's directory via --pod-manifest-path, a custom one in a --config file), and a
full init on a custom path.

One node container for the whole module (tests/support/kubelet_node.py: containerd, the kubelet and kbs), no
Docker engine in it: the tests run in file order, each starting from where the previous one left the node.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from bootstrap import constants
from bootstrap.phases.mark_control_plane import REGISTERED_BY
from tests.support.kubelet_node import (
    KUBELET_CONFIG,
    install_kubelet,
    kubelet_configuration,
    kubelet_kbs_image,
    kubelet_kbs_node,
)
from tests.support.nodes import Node, node_network
from tests.support.wait import wait_until

COMPONENTS = constants.ALL_COMPONENTS
K3S_DIR = "/var/lib/rancher/k3s/agent/pod-manifests"
CUSTOM_DIR = "/srv/kbs-test/static-pods"  # a custom staticPodPath, relative in its --config file
KUBECTL = ("kubectl", "--kubeconfig=/etc/kubernetes/admin.conf")
RECORDED = "kbs's record of this node's setup"


@pytest.fixture(scope="module")
def node(docker_client: docker.DockerClient) -> Iterator[Node]:
    with kubelet_kbs_image(docker_client) as image, node_network(docker_client, prefix="kbs-klm") as network:
        yield kubelet_kbs_node(network, image)


def kbs(node: Node, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["docker", "exec", node.id, "kbs", *args], capture_output=True, text=True, timeout=600, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kbs {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def init(node: Node, *args: str) -> str:
    return kbs(node, "init", "--reconciler", "kubelet", f"--node-name={node.name}", *args).stdout


def running_containers(node: Node, name: str | None = None) -> set[str]:
    """Names of the running containers (with `name`: the IDs of those so named)."""
    listed = json.loads(node.exec("crictl", "ps", "-o", "json"))["containers"]
    running = [c for c in listed if c["state"] == "CONTAINER_RUNNING"]
    if name is not None:
        return {c["id"] for c in running if c["metadata"]["name"] == name}
    return {c["metadata"]["name"] for c in running}


def pods(node: Node) -> dict[str, dict[str, Any]]:
    listed = json.loads(node.exec(*KUBECTL, "get", "pods", "-n", "kube-system", "-o", "json"))["items"]
    return {p["metadata"]["name"]: p for p in listed}


def mirror_pods(node: Node) -> dict[str, dict[str, Any]] | None:
    found = pods(node)
    wanted = [found.get(f"{c}-{node.name}") for c in COMPONENTS]
    ready = all(p and p["status"].get("phase") == "Running" for p in wanted)
    return {c: p for c, p in zip(COMPONENTS, wanted, strict=True) if p} if ready else None


def assert_nothing_of_kbs_left(node: Node, static_pod_path: str) -> None:
    left = node.exec("sh", "-c", f"ls -d /etc/kubernetes /var/lib/etcd /var/lib/kbs {static_pod_path} 2>&1 || true")
    assert "No such file" in left and all(
        line.endswith("No such file or directory") for line in left.strip().splitlines()
    ), left
    assert node.exec("sh", "-c", "ls /var/lib/kubelet/pki | grep kubelet-client || true").strip() == ""
    wait_until("the kubelet stopped the control plane", lambda: not (running_containers(node) & set(COMPONENTS)))


def test_without_a_kubelet_init_fails_clearly_and_writes_nothing(node: Node) -> None:
    result = kbs(node, "init", "--reconciler", "kubelet", check=False)
    assert result.returncode != 0
    assert "no kubelet with a staticPodPath was found" in result.stderr and "--static-pod-path" in result.stderr
    node.exec("sh", "-c", f"mkdir -p /var/lib/kubelet && echo 'staticPodPath: [' > {KUBELET_CONFIG}")
    result = kbs(node, "init", "--reconciler", "kubelet", check=False)
    assert result.returncode != 0
    assert f"the kubelet's configuration {KUBELET_CONFIG} is not valid YAML" in result.stderr
    assert "staticPodPath" in result.stderr
    assert node.exec("sh", "-c", "ls /etc/kubernetes /var/lib/kbs 2>&1 || true").count("No such file") == 2


def test_init_hands_the_control_plane_to_the_real_kubelet(node: Node) -> None:
    install_kubelet(node)  # as a kubeadm-packaged machine: configured, waiting for kubelet.conf
    out = init(node)
    assert f"[kubelet] staticPodPath /etc/kubernetes/manifests (from staticPodPath in {KUBELET_CONFIG}" in out
    assert "all 4 components healthy" in out
    assert set(COMPONENTS) <= running_containers(node)  # containerd runs them: the node has no Docker engine
    mirrors = wait_until("the kubelet's mirror pods", lambda: mirror_pods(node), timeout=120)
    for component, pod in mirrors.items():
        annotations = pod["metadata"]["annotations"]
        assert annotations["kubernetes.io/config.source"] == "file", component
        assert "kubernetes.io/config.mirror" in annotations, component
        assert pod["spec"]["nodeName"] == node.name
    registered = json.loads(node.exec(*KUBECTL, "get", "node", node.name, "-o", "json"))
    assert registered["status"]["nodeInfo"]["kubeletVersion"] == "v1.37.2"  # the kubelet registered it, not kbs
    assert REGISTERED_BY not in registered["metadata"].get("annotations", {})
    assert "node-role.kubernetes.io/control-plane" in registered["metadata"]["labels"]


def test_plain_status_and_re_run_act_on_the_kubelet_node(node: Node) -> None:
    """No --reconciler flag: the node's record (in kbs's ledger) says the kubelet runs the control plane."""
    status = kbs(node, "status")
    assert "reconciler kubelet" in status.stdout, status.stdout
    assert RECORDED in status.stdout and "UNHEALTHY" not in status.stdout
    assert "set up with --reconciler kubelet, staticPodPath /etc/kubernetes/manifests" in status.stderr
    components = json.loads(kbs(node, "status", "-o", "json").stdout)["components"]
    for row in components:  # from the kubelet's mirror pods
        assert row["restarts"] is not None and row["uptime_seconds"] is not None, row
    out = kbs(node, "init", f"--node-name={node.name}").stdout
    assert f"[kubelet] staticPodPath /etc/kubernetes/manifests (from {RECORDED})" in out
    assert "etcd.yaml unchanged" in out and "kube-scheduler.yaml unchanged" in out
    assert "created" not in out.replace("0 created", "")
    assert mirror_pods(node)


def test_a_flag_that_contradicts_the_node_s_setup_changes_nothing(node: Node) -> None:
    refused = kbs(node, "init", "--reconciler", "bundled", f"--node-name={node.name}", check=False)
    assert refused.returncode != 0
    assert "this node was set up by kbs with --reconciler kubelet" in refused.stderr
    assert "asks for --reconciler bundled" in refused.stderr and "kbs reset" in refused.stderr
    assert node.exec("sh", "-c", "pgrep -f '[k]bs reconcile' || true").strip() == ""  # no second runtime
    assert mirror_pods(node)


def test_reset_stops_the_static_pods_and_leaves_nothing_of_kbs(node: Node) -> None:
    out = kbs(node, "reset", "--force").stdout  # plain: the record says the kubelet runs them
    assert "the kubelet stopped the static pods of etcd.yaml" in out
    assert "removed /var/lib/kubelet/pki/kubelet-client-current.pem" in out
    assert "the kubelet keeps running (kbs did not install or start it)" in out
    assert_nothing_of_kbs_left(node, "/etc/kubernetes/manifests")
    status = kbs(node, "status", check=False)  # the record went with the rest: a plain command is bundled again
    assert "reconciler bundled" in status.stdout


def _run_kubelet(node: Node, *flags: str, cwd: str = "/") -> int:
    """A standalone kubelet (no API server) started by hand in `cwd`, its pid."""
    command = 'cd "$0" && kubelet --cgroup-root="$KBS_NODE_CGROUP" "$@" >>/var/log/kubelet-by-hand.log 2>&1 & echo $!'
    pid = int(node.exec("sh", "-c", command, cwd, *flags).strip())
    healthz = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10248/healthz', timeout=2)"
    try:
        wait_until("the kubelet by hand healthy", lambda: node.exec("/opt/kbs/bin/python", "-c", healthz) == "", 60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{node.exec('tail', '-15', '/var/log/kubelet-by-hand.log')}") from exc
    return pid


def _proves_the_kubelet_reads(node: Node, directory: str) -> None:
    """A static pod written where kbs says the kubelet reads them runs; removed, it goes away."""
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: probe, namespace: default}\nspec:\n  hostNetwork: true\n"
    pod += "  containers: [{name: probe, image: registry.k8s.io/pause:3.10.2}]\n"
    node.exec("sh", "-c", f"mkdir -p {directory} && cat > {directory}/probe.yaml", stdin=pod.encode())
    wait_until(f"the kubelet runs a static pod from {directory}", lambda: "probe" in running_containers(node))
    node.exec("rm", f"{directory}/probe.yaml")
    wait_until("the probe pod gone", lambda: not node.exec("crictl", "pods", "--quiet", "--name", "^probe$").strip())


def _stop(node: Node, pid: int) -> None:
    node.exec("kill", str(pid), check=False)
    wait_until("the kubelet by hand stopped", lambda: node.exec("sh", "-c", f"kill -0 {pid} 2>&1 || echo gone"))


@pytest.mark.parametrize("how", ["k3s --pod-manifest-path", "custom --config"])
def test_a_running_kubelet_with_a_non_default_static_pod_path_is_found(node: Node, how: str) -> None:
    node.exec("mkdir", "-p", "/etc/kbs-test", "/srv/kbs-test")
    if how.startswith("k3s"):
        base = kubelet_configuration(standalone=True)  # no staticPodPath: the flag sets it, as k3s does
        node.exec("sh", "-c", "cat > /etc/kbs-test/base.yaml", stdin=base.encode())
        pid = _run_kubelet(node, "--config=/etc/kbs-test/base.yaml", f"--pod-manifest-path={K3S_DIR}/")
        expected, source = K3S_DIR, f"kubelet --pod-manifest-path (pid {pid})"
    else:
        # relative to the file's directory, as the kubelet takes it
        custom = kubelet_configuration("static-pods/", standalone=True)
        node.exec("sh", "-c", "cat > /srv/kbs-test/kubelet.yaml", stdin=custom.encode())
        pid = _run_kubelet(node, "--config", "kubelet.yaml", cwd="/srv/kbs-test")  # relative to the kubelet's cwd
        expected, source = CUSTOM_DIR, f"staticPodPath in /srv/kbs-test/kubelet.yaml (kubelet --config, pid {pid})"
    try:
        out = kbs(node, "init", "phase", "reconciler", "--reconciler", "kubelet").stdout
        log = node.exec("tail", "-5", "/var/log/kubelet-by-hand.log")
        assert f"[kubelet] staticPodPath {expected} (from {source})" in out, log
        assert f"the installed kubelet runs the manifests in {expected}" in out
        _proves_the_kubelet_reads(node, expected)
    finally:
        _stop(node, pid)
        # /var/lib/kbs: the phase recorded the node's setup (this kubelet), which the next case must not inherit
        node.exec("rm", "-rf", "/etc/kbs-test", "/srv/kbs-test", "/var/lib/rancher", "/var/lib/kbs")


def test_init_status_reset_on_a_custom_static_pod_path(node: Node) -> None:
    install_kubelet(node, static_pod_path=CUSTOM_DIR)
    out = init(node)
    assert f"[kubelet] staticPodPath {CUSTOM_DIR} (from staticPodPath in {KUBELET_CONFIG}" in out
    assert f"created {CUSTOM_DIR}/kube-apiserver.yaml" in out
    wait_until("the kubelet's mirror pods", lambda: mirror_pods(node), timeout=120)
    # the previous cluster's kube-proxy pod, left with the kubelet by reset, is one the kubelet no longer knows
    wait_until("only this cluster's kube-proxy", lambda: len(running_containers(node, "kube-proxy")) <= 1)
    assert f"static pods from {CUSTOM_DIR}" in kbs(node, "status", "--reconciler", "kubelet").stdout
    kbs(node, "reset", "--force")  # plain: the recorded directory, whether the kubelet still reads it or not
    assert_nothing_of_kbs_left(node, CUSTOM_DIR)
