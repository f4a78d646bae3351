"""A highly available kbs cluster on this machine: three control-plane node containers behind the test bed's
HAProxy load balancer (kbs-testbed/haproxy, tests/testbed/image/haproxy.Dockerfile), stacked etcd, and a
kubeadm-joined worker. `kbs init --control-plane-endpoint LB:6443 --upload-certs` on cp-1, then
`kbs join LB:6443 --control-plane ...` on cp-2 and cp-3 with what init printed. Used by
tests/real/test_ha_control_plane.py and bench/ha_bench.py; everything is removed on exit.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker

from tests.support.cluster import CRI_SOCKET, PATCH_DIR, WORKER_PATCH, Cluster, kubeadm_control_plane_node
from tests.support.nodes import LABEL, Node, NodeNetwork, node_network

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
        return etcd_members(self.nodes[via])

    def voting_names(self, via: str = "cp-1") -> list[str]:
        return sorted(str(m.get("name", "")) for m in self.etcd_members(via) if not m.get("isLearner"))

    def mirror_pods_running(self, name: str) -> bool:
        pods = json.loads(self.kubectl("get", "pods", "-n", "kube-system", "-o", "json"))["items"]
        phase = {p["metadata"]["name"]: p["status"].get("phase") for p in pods}
        return all(phase.get(f"{c}-{name}") == "Running" for c in COMPONENTS)


def etcd_members(node: Node) -> list[dict[str, object]]:
    """`etcdctl member list` in the etcd container of a kbs control-plane node (its own Docker engine)."""
    container = node.exec("docker", "ps", "-q", "--filter", "name=k8s_etcd_").split()[0]
    pki = "/etc/kubernetes/pki/etcd"
    out = node.exec(
        "docker", "exec", container, "etcdctl", "--endpoints=https://127.0.0.1:2379", f"--cacert={pki}/ca.crt",
        f"--cert={pki}/healthcheck-client.crt", f"--key={pki}/healthcheck-client.key", "member", "list", "-w", "json",
    )  # fmt: skip
    return list(json.loads(out).get("members", []))


def kubeadm_node(network: NodeNetwork, name: str) -> Node:
    """A node for a stock `kubeadm init`/`join --control-plane` (tests.support.cluster.kubeadm_control_plane_node:
    containerd, a kubelet, the control-plane images) with the kubelet patch of tests.support.cluster in PATCH_DIR."""
    node = kubeadm_control_plane_node(network, name)
    node.exec("mkdir", "-p", PATCH_DIR)
    node.exec("sh", "-c", f"cat > {PATCH_DIR}/kubeletconfiguration+merge.yaml", stdin=WORKER_PATCH.encode())
    return node


def kubeadm_flags(node: Node) -> list[str]:
    """What kubeadm needs on a test-bed node besides its command's own flags."""
    return [f"--cri-socket={CRI_SOCKET}", f"--patches={PATCH_DIR}", "--ignore-preflight-errors=all",
            f"--node-name={node.name}", f"--apiserver-advertise-address={node.address}"]  # fmt: skip


def start_lb(client: docker.DockerClient, network: str, backends: list[str]) -> str:
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


def control_plane_images(version: str) -> list[str]:
    """The images of `version`'s control plane (what preload loads for a cluster at another version)."""
    from bootstrap import versions

    etcd = f"registry.k8s.io/etcd:{versions.lookup(version).etcd_tag}"
    return [*(f"registry.k8s.io/{c}:{version}" for c in COMPONENTS[1:]), etcd]


def preload(nodes: Iterable[Node], images: Sequence[str]) -> None:
    """Load host images into the nodes' Docker engines (what a node image does not carry, e.g. the previous minor's
    control plane for the upgrade tests)."""
    with tempfile.TemporaryDirectory() as tmp:
        tar = Path(tmp) / "images.tar"
        subprocess.run(["docker", "save", "-o", str(tar), *images], check=True, capture_output=True, timeout=300)
        for node in nodes:
            with tar.open("rb") as stream:
                subprocess.run(["docker", "exec", "-i", node.id, "docker", "load", "-q"], stdin=stream,
                               check=True, capture_output=True, timeout=300)  # fmt: skip


@contextmanager
def ha_cluster(
    client: docker.DockerClient,
    workers: int = 1,
    timings: dict[str, float] | None = None,
    kubernetes_version: str | None = None,
    images: Sequence[str] = (),
) -> Iterator[HA]:
    """Three control planes behind the load balancer (and `workers` kubeadm workers); `timings` gets the seconds
    each step took (init, join cp-2, join cp-3, workers). `kubernetes_version`: what `kbs init` makes (default: the
    default version), with `images` loaded into the control-plane nodes first."""
    timings = {} if timings is None else timings
    with node_network(client, prefix="kbs-ha") as network:
        # the checkout's kbs-node: it restarts the reconciler when a node container starts again (as systemd would)
        nodes = {name: network.start(name, "control-plane", entrypoint=NODE_SUPERVISOR) for name in CONTROL_PLANES}
        worker_nodes = [network.start(f"worker-{i}", "worker") for i in range(1, workers + 1)]
        lb = start_lb(client, network.name, [n.address for n in nodes.values()])
        for node in [*nodes.values(), *worker_nodes]:
            node.wait_ready()
        if images:
            preload(nodes.values(), images)
        start = time.monotonic()
        version = [f"--kubernetes-version={kubernetes_version}"] if kubernetes_version else []
        cluster = _init(network, nodes["cp-1"], f"{lb}:6443", version)
        timings["init cp-1"] = time.monotonic() - start
        match = JOIN.search(cluster.init_output)
        assert match, cluster.init_output
        endpoint, token, ca_hash, key = match.groups()
        made = HA(cluster, nodes, endpoint, token, ca_hash, key)
        for name in CONTROL_PLANES[1:]:
            begin = time.monotonic()
            made.join(name)
            timings[f"join {name}"] = time.monotonic() - begin
        timings["three control planes"] = time.monotonic() - start
        for worker in worker_nodes:
            cluster.join_worker(worker)
        yield made


def _init(network: NodeNetwork, node: Node, endpoint: str, extra: Sequence[str] = ()) -> Cluster:
    output = node.exec(
        "kbs", "init", "--pod-network-cidr=10.244.0.0/16", "--pod-network=flannel", "--node-name=cp-1",
        f"--control-plane-endpoint={endpoint}", "--upload-certs", f"--apiserver-advertise-address={node.address}",
        *extra, timeout=600,
    )  # fmt: skip
    return Cluster(network=network, control_plane=node, init_output=output)
