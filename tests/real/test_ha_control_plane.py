"""A highly available kbs control plane: three control-plane node containers behind an HAProxy load balancer
(the test bed's kbs-testbed/haproxy image), stacked etcd, and a kubeadm-joined worker.

`kbs init --control-plane-endpoint LB:6443 --upload-certs` on cp-1, then `kbs join LB:6443 --control-plane ...`
on cp-2 and cp-3 with the command init printed. One cluster serves the module; tests run in file order (the later
ones kill, reset and rejoin nodes, and each leaves three healthy members behind).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import docker
import pytest

from tests.support.cluster import Cluster
from tests.support.nodes import LABEL, Node, NodeNetwork, node_network
from tests.support.wait import wait_until

LB_IMAGE = "kbs-testbed/haproxy:bookworm"  # built by tests/testbed/testbed.sh (image/haproxy.Dockerfile)
CONTROL_PLANES = ["cp-1", "cp-2", "cp-3"]
NODE_SUPERVISOR = "/kbs/tests/testbed/image/node/kbs-node"
COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
JOIN = re.compile(
    r"kubeadm join (\S+) --token (\S+) \\\n\s+--discovery-token-ca-cert-hash (\S+) \\\n\s+--control-plane"
    r" --certificate-key (\S+)"
)


@dataclass
class HA:
    cluster: Cluster
    nodes: dict[str, Node]
    endpoint: str
    token: str
    ca_hash: str
    key: str
    join_output: dict[str, str] = field(default_factory=dict)

    def join_args(self, name: str, key: str | None = None) -> list[str]:
        node = self.nodes[name]
        return [
            "kbs", "join", self.endpoint, "--control-plane", "--token", self.token,
            "--discovery-token-ca-cert-hash", self.ca_hash, "--certificate-key", key or self.key,
            f"--node-name={name}", f"--apiserver-advertise-address={node.address}",
        ]  # fmt: skip

    def join(self, name: str) -> str:
        out = self.nodes[name].exec(*self.join_args(name), timeout=600)
        self.join_output[name] = out
        return out

    def kubectl(self, *args: str, check: bool = True) -> str:
        return self.cluster.kubectl(*args, check=check, timeout=60)

    def etcd_members(self, via: str = "cp-1") -> list[dict[str, object]]:
        node = self.nodes[via]
        container = node.exec("docker", "ps", "-q", "--filter", "name=k8s_etcd_").split()[0]
        pki = "/etc/kubernetes/pki/etcd"
        out = node.exec(
            "docker", "exec", container, "etcdctl", "--endpoints=https://127.0.0.1:2379", f"--cacert={pki}/ca.crt",
            f"--cert={pki}/healthcheck-client.crt", f"--key={pki}/healthcheck-client.key",
            "member", "list", "-w", "json",
        )  # fmt: skip
        return list(json.loads(out).get("members", []))

    def voting_names(self, via: str = "cp-1") -> list[str]:
        return sorted(str(m.get("name", "")) for m in self.etcd_members(via) if not m.get("isLearner"))

    def mirror_pods_running(self, name: str) -> bool:
        pods = json.loads(self.kubectl("get", "pods", "-n", "kube-system", "-o", "json"))["items"]
        phase = {p["metadata"]["name"]: p["status"].get("phase") for p in pods}
        return all(phase.get(f"{c}-{name}") == "Running" for c in COMPONENTS)


def _start_lb(client: docker.DockerClient, network: str, backends: list[str]) -> str:
    container = client.containers.run(
        LB_IMAGE,
        name=f"{network}-lb",
        network=network,
        labels={LABEL: network},
        environment={"BACKENDS": " ".join(f"{b}:6443" for b in backends)},
        detach=True,
    )
    container.reload()
    return str(container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])


@pytest.fixture(scope="module")
def ha(docker_client: docker.DockerClient) -> Iterator[HA]:
    with node_network(docker_client, prefix="kbs-ha") as network:
        # the checkout's kbs-node: it restarts the reconciler when a node container starts again (as systemd would)
        nodes = {name: network.start(name, "control-plane", entrypoint=NODE_SUPERVISOR) for name in CONTROL_PLANES}
        worker = network.start("worker-1", "worker")
        lb = _start_lb(docker_client, network.name, [n.address for n in nodes.values()])
        for node in [*nodes.values(), worker]:
            node.wait_ready()
        cluster = _init(network, nodes["cp-1"], f"{lb}:6443")
        match = JOIN.search(cluster.init_output)
        assert match, cluster.init_output
        endpoint, token, ca_hash, key = match.groups()
        made = HA(cluster, nodes, endpoint, token, ca_hash, key)
        for name in CONTROL_PLANES[1:]:
            made.join(name)
        cluster.join_worker(worker)
        yield made


def _init(network: NodeNetwork, node: Node, endpoint: str) -> Cluster:
    output = node.exec(
        "kbs", "init", "--pod-network-cidr=10.244.0.0/16", "--pod-network=flannel", "--node-name=cp-1",
        f"--control-plane-endpoint={endpoint}", "--upload-certs", f"--apiserver-advertise-address={node.address}",
        timeout=600,
    )  # fmt: skip
    return Cluster(network=network, control_plane=node, init_output=output)


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

    wrong = subprocess.run(
        ["docker", "exec", node.id, *ha.join_args("cp-3", key="ab" * 32)], capture_output=True, text=True, check=False
    )
    assert wrong.returncode == 1 and "the key is wrong" in wrong.stdout + wrong.stderr, wrong.stdout + wrong.stderr
    left = node.exec("sh", "-c", "ls -A /etc/kubernetes/pki /etc/kubernetes/manifests /var/lib/etcd 2>/dev/null; true")
    assert left.strip() == "" or all(not line or line.endswith(":") for line in left.splitlines()), left
    assert ha.voting_names() == ["cp-1", "cp-2"]

    ha.join("cp-3")
    assert ha.voting_names() == CONTROL_PLANES
    _wait_mirror_pods(ha, "cp-3")
