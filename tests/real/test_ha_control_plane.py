"""A highly available kbs control plane (tests/support/ha.py): three control-plane node containers behind an
HAProxy load balancer, stacked etcd, and a kubeadm-joined worker. One cluster serves the module; tests run in file
order (the later ones kill, reset and rejoin nodes, and each leaves three healthy voting members behind).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import docker
import pytest

from tests.support.cluster import CRI_SOCKET
from tests.support.ha import CONTROL_PLANES, HA, ha_cluster, kubeadm_flags, kubeadm_node
from tests.support.wait import wait_until


@pytest.fixture(scope="module")
def ha(docker_client: docker.DockerClient) -> Iterator[HA]:
    with ha_cluster(docker_client) as made:
        yield made


def test_three_voting_etcd_members_and_every_node_shows_its_four_mirror_pods(ha: HA) -> None:
    assert ha.voting_names() == CONTROL_PLANES
    for name in CONTROL_PLANES:
        _wait_mirror_pods(ha, name)


def _wait_mirror_pods(ha: HA, name: str) -> None:
    wait_until(f"the four mirror pods of {name}", lambda: ha.mirror_pods_running(name) or None, timeout=120)


def test_join_prints_what_kubeadm_prints_and_the_nodes_are_control_planes(ha: HA) -> None:
    for name in CONTROL_PLANES[1:]:
        out = ha.join_output[name]
        assert "This node has joined the cluster and a new control plane instance was created" in out
        assert "[etcd-join] added etcd member" in out and "promoted etcd member" in out
        assert ha.key not in out and ha.token not in out.replace(f"--token {ha.token}", "")
    nodes = json.loads(ha.kubectl("get", "nodes", "-o", "json"))["items"]
    labels = {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in nodes}
    assert set(labels) == {*CONTROL_PLANES, "worker-1"}
    for name in CONTROL_PLANES:
        assert "node-role.kubernetes.io/control-plane" in labels[name], name


def test_kubectl_goes_through_the_load_balanced_endpoint(ha: HA) -> None:
    for name in CONTROL_PLANES:
        server = ha.nodes[name].exec("kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "config", "view",
                                     "-o", "jsonpath={.clusters[0].cluster.server}")  # fmt: skip
        assert server == f"https://{ha.endpoint}", name
    ha.cluster.wait_nodes_ready(["worker-1"])


def test_a_rerun_of_join_converges(ha: HA) -> None:
    out = ha.nodes["cp-3"].exec(*ha.join_args("cp-3"), timeout=300)
    assert "not adding it again" in out and "nothing changed" in out, out
    assert ha.voting_names() == CONTROL_PLANES


def test_a_killed_control_plane_node_leaves_the_cluster_serving_and_rejoins_when_back(ha: HA) -> None:
    node = ha.nodes["cp-2"]
    node.container.kill()
    name = "kbs-ha-killed"

    def write() -> bool | None:
        ha.kubectl("create", "configmap", name, check=False)
        return name in ha.kubectl("get", "configmap", name, "-o", "name", check=False) or None

    wait_until("a write through the endpoint with cp-2 down", write, timeout=60, interval=1)
    assert name in ha.kubectl("get", "configmap", name, "-o", "name")
    # cp-3 resetting now would leave one of two voting members answering: refused without --force
    refused = subprocess.run(
        ["docker", "exec", "-i", ha.nodes["cp-3"].id, "kbs", "reset"], input=b"y\n", capture_output=True, check=False
    )
    assert refused.returncode == 1 and b"would lose quorum" in refused.stdout + refused.stderr
    assert ha.nodes["cp-3"].exec("test", "-f", "/etc/kubernetes/manifests/etcd.yaml", check=False) == ""
    node.container.start()
    node.wait_ready(timeout=180)

    def healthy() -> bool | None:
        return (ha.mirror_pods_running("cp-2") and _cluster_healthy(ha)) or None

    wait_until("cp-2 back with its etcd member healthy", healthy, timeout=240, interval=2)
    assert ha.voting_names() == CONTROL_PLANES
    ha.kubectl("delete", "configmap", name)


def _cluster_healthy(ha: HA) -> bool:
    node = ha.nodes["cp-1"]
    container = node.exec("docker", "ps", "-q", "--filter", "name=k8s_etcd_").split()[0]
    pki = "/etc/kubernetes/pki/etcd"
    result = subprocess.run(
        ["docker", "exec", node.id, "docker", "exec", container, "etcdctl", "--endpoints=https://127.0.0.1:2379",
         f"--cacert={pki}/ca.crt", f"--cert={pki}/healthcheck-client.crt", f"--key={pki}/healthcheck-client.key",
         "endpoint", "health", "--cluster"],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    return result.returncode == 0


def test_reset_shrinks_etcd_a_wrong_key_leaves_nothing_and_the_node_joins_again(ha: HA) -> None:
    node = ha.nodes["cp-3"]
    out = node.exec("kbs", "reset", "--force", timeout=180)
    assert "removed etcd member" in out, out
    assert ha.voting_names() == ["cp-1", "cp-2"]
    assert "cp-1" in ha.kubectl("get", "nodes")
    ha.kubectl("delete", "node", "cp-3")

    dry = node.exec(*ha.join_args("cp-3"), "--dry-run", timeout=180)
    assert "would add cp-3" in dry and "[dryrun] nothing was changed" in dry, dry
    assert ha.key not in dry
    assert node.exec("sh", "-c", "ls -A /etc/kubernetes/manifests 2>/dev/null; true").strip() == ""

    wrong = subprocess.run(
        ["docker", "exec", node.id, *ha.join_args("cp-3", key="ab" * 32)], capture_output=True, text=True, check=False
    )
    assert wrong.returncode == 1 and "the key is wrong" in wrong.stdout + wrong.stderr, wrong.stdout + wrong.stderr
    left = node.exec("sh", "-c", "ls -A /etc/kubernetes/pki /etc/kubernetes/manifests /var/lib/etcd 2>/dev/null; true")
    assert left.strip() == "" or all(not line or line.endswith(":") for line in left.splitlines()), left
    assert ha.voting_names() == ["cp-1", "cp-2"]
    # the `kubernetes` Service's endpoints follow the API servers' leases: the reset node's address leaves
    wait_until("cp-3 out of the kubernetes endpoints", lambda: _apiserver_ips(ha) == _ips(ha, "cp-1", "cp-2") or None)

    _interrupt_join_after_the_learner_is_added(ha, "cp-3")
    out = ha.join("cp-3")  # resumes: the member is there already
    assert "not adding it again" in out, out
    assert ha.voting_names() == CONTROL_PLANES
    _wait_mirror_pods(ha, "cp-3")
    wait_until("cp-3 back in the kubernetes endpoints", lambda: _apiserver_ips(ha) == _ips(ha, *CONTROL_PLANES) or None)


def _interrupt_join_after_the_learner_is_added(ha: HA, name: str) -> None:
    """Start `kbs join`, and kill it (SIGKILL, inside the node) the moment it says the etcd learner was added."""
    node = ha.nodes[name]
    argv = ["docker", "exec", "-e", "PYTHONUNBUFFERED=1", node.id, *ha.join_args(name)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as join:
        assert join.stdout is not None
        seen = []
        for line in join.stdout:
            seen.append(line)
            if "[etcd-join] added etcd member" in line:
                node.exec("sh", "-c", "kill -9 $(pgrep -f '[p]ython -m bootstrap join')")
                break
        join.wait(timeout=60)
    assert any("added etcd member" in line for line in seen), "".join(seen)
    assert len(ha.etcd_members()) == 3  # the member was added (a learner, or promoted already) before the kill


def _ips(ha: HA, *names: str) -> list[str]:
    """The nodes' addresses now (a restarted node container could in principle get another one)."""
    found = []
    for name in names:
        container = ha.nodes[name].container
        container.reload()
        found.append(container.attrs["NetworkSettings"]["Networks"][ha.cluster.network.name]["IPAddress"])
    return sorted(found)


def _apiserver_ips(ha: HA) -> list[str]:
    out = ha.kubectl("get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes",
                     "-o", "jsonpath={.items[*].endpoints[*].addresses[*]}")  # fmt: skip
    return sorted(out.split())


def test_a_stock_kubeadm_join_control_plane_with_a_kubelet_joins_the_kbs_cluster(ha: HA) -> None:
    """kubeadm v1.37.2's own `join --control-plane` (kubelet + containerd node) into the kbs-made cluster, with the
    certificate key kbs uploaded; then `kubeadm reset` takes its etcd member out again."""
    node = kubeadm_node(ha.cluster.network, "kcp-4")
    out = node.exec(
        "kubeadm", "join", ha.endpoint, "--control-plane", "--token", ha.token,
        "--discovery-token-ca-cert-hash", ha.ca_hash, "--certificate-key", ha.key,
        *kubeadm_flags(node), timeout=600,
    )  # fmt: skip
    assert "This node has joined the cluster and a new control plane instance was created" in out
    assert ha.voting_names() == sorted([*CONTROL_PLANES, "kcp-4"])
    _wait_mirror_pods(ha, "kcp-4")
    node.exec("kubeadm", "reset", "--force", f"--cri-socket={CRI_SOCKET}", timeout=300)
    assert ha.voting_names() == CONTROL_PLANES
    ha.kubectl("delete", "node", "kcp-4")
