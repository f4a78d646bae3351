"""A real multi-node cluster on this machine: a kbs control plane and kubeadm-joined workers with real kubelets.

The control-plane node is a container from the test bed's control-plane node image (its own Docker engine;
kbs's source mounted at /kbs) that runs `kbs init`; each worker is a worker node image (containerd, kubelet)
that runs a stock `kubeadm join`, exactly as the lab's workers do. Everything lives on a Docker network the
test makes, so traffic stays among the nodes.

kubeadm join needs two things on this kind of machine that a VM would not (both in WORKER_PATCH): the kubelet
must accept cgroup v1 (`failCgroupV1: false`) and use the cgroupfs driver (no systemd in the node).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import docker
import yaml

from tests.support.nodes import Node, NodeNetwork, ask_testbed, node_network
from tests.support.wait import wait_until

POD_SUBNET = "10.244.0.0/16"  # flannel's default network
ADMIN_CONF = "/etc/kubernetes/admin.conf"
CRI_SOCKET = "unix:///run/containerd/containerd.sock"
PATCH_DIR = "/etc/kbs-test/patches"
CONTROL_PLANE_IMAGES = "/testbed/images/kubeadm-control-plane"  # where a kubeadm control plane finds its images
WORKER_PATCH = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
"""


@dataclass
class Cluster:
    network: NodeNetwork
    control_plane: Node
    workers: list[Node] = field(default_factory=list)
    init_output: str = ""

    def kubectl(self, *args: str, check: bool = True, stdin: bytes | None = None, timeout: float = 240) -> str:
        return self.control_plane.exec(
            "kubectl", f"--kubeconfig={ADMIN_CONF}", *args, check=check, stdin=stdin, timeout=timeout
        )

    def kubectl_json(self, *args: str) -> dict[str, object]:
        return dict(json.loads(self.kubectl(*args, "-o", "json")))

    def join_command(self) -> list[str]:
        """A fresh `kubeadm join` command for a worker, from `kbs token create --print-join-command` if kbs has
        it, else from the command `kbs init` printed."""
        lines = [line.strip().rstrip("\\").strip() for line in self.init_output.splitlines()]
        start = next(i for i, line in enumerate(lines) if line.startswith("kubeadm join"))
        words = shlex.split(" ".join(lines[start : start + 2]))
        return words

    def join_worker(self, node: Node) -> None:
        node.exec("mkdir", "-p", PATCH_DIR)
        node.exec("sh", "-c", f"cat > {PATCH_DIR}/kubeletconfiguration+merge.yaml", stdin=WORKER_PATCH.encode())
        node.exec(
            *self.join_command(),
            f"--cri-socket={CRI_SOCKET}",
            f"--patches={PATCH_DIR}",
            "--ignore-preflight-errors=all",
            f"--node-name={node.name}",
            timeout=300,
        )
        self.workers.append(node)

    def wait_nodes_ready(self, names: list[str], timeout: float = 300) -> None:
        def ready() -> bool | None:
            items = self.kubectl_json("get", "nodes")["items"]
            status = {
                n["metadata"]["name"]: any(
                    c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", [])
                )
                for n in items  # type: ignore[attr-defined]
            }
            return all(status.get(name) for name in names) or None

        wait_until(f"nodes {', '.join(names)} Ready", ready, timeout=timeout, interval=1)


def flannel_manifest() -> str:
    """The flannel objects kbs's pod-network phase applies, as one YAML stream for `kubectl apply -f -`."""
    from bootstrap import versions
    from bootstrap.kube import flannel

    images = versions.pod_network("flannel")
    objects = flannel.objects(pod_subnet=POD_SUBNET, image=images.image, cni_plugin_image=images.cni_plugin_image)
    return yaml.safe_dump_all(objects, sort_keys=False)


def kubeadm_control_plane_node(
    network: NodeNetwork, name: str = "cp-1", *, image: str | None = None, mounts: Sequence[tuple[str, str]] = ()
) -> Node:
    """A node for `kubeadm init`: the worker image (containerd, a real kubelet) with the control-plane images
    imported, as a kubeadm VM would have them pulled. `image`, `mounts`: see NodeNetwork.start."""
    images = (ask_testbed("node-images", "control-plane"), CONTROL_PLANE_IMAGES)
    node = network.start(name, "worker", mounts=[images, *mounts], image=image)
    node.wait_ready()
    node.exec("sh", "-c", f"for f in {CONTROL_PLANE_IMAGES}/*.tar; do ctr -n k8s.io images import --local $f; done",
              timeout=300)  # fmt: skip
    return node


def kubeadm_init_argv(node: Node, *init_args: str) -> list[str]:
    """`kubeadm init` for a kubeadm_control_plane_node, with the kubelet patch this machine needs written first."""
    node.exec("mkdir", "-p", PATCH_DIR)
    node.exec("sh", "-c", f"cat > {PATCH_DIR}/kubeletconfiguration+merge.yaml", stdin=WORKER_PATCH.encode())
    return [
        "kubeadm", "init", f"--pod-network-cidr={POD_SUBNET}", f"--cri-socket={CRI_SOCKET}", f"--patches={PATCH_DIR}",
        "--ignore-preflight-errors=all", f"--node-name={node.name}", *init_args,
    ]  # fmt: skip


def kbs_init_argv(node: Node, *init_args: str) -> list[str]:
    """`kbs init` for a control_plane_node, with the same pod CIDR as kubeadm_init_argv."""
    return ["kbs", "init", f"--pod-network-cidr={POD_SUBNET}", f"--node-name={node.name}", *init_args]


def kubeadm_init(network: NodeNetwork, node: Node, *init_args: str) -> Cluster:
    """The peer of kbs_init: `kubeadm init` on a kubeadm_control_plane_node, then the same flannel objects kbs's
    pod-network phase applies, with kubectl."""
    output = node.exec(*kubeadm_init_argv(node, *init_args), timeout=600)
    made = Cluster(network=network, control_plane=node, init_output=output)
    made.kubectl("apply", "-f", "-", stdin=flannel_manifest().encode())
    return made


def control_plane_node(network: NodeNetwork, name: str = "cp-1") -> Node:
    """A node for `kbs init`: the control-plane image (its own Docker engine with the images loaded, kbs)."""
    node = network.start(name, "control-plane")
    node.wait_ready()
    return node


def kbs_init(network: NodeNetwork, node: Node, *init_args: str) -> Cluster:
    """`kbs init` with the flannel pod network on a control_plane_node."""
    output = node.exec(*kbs_init_argv(node, "--pod-network=flannel", *init_args), timeout=600)
    return Cluster(network=network, control_plane=node, init_output=output)


def start_control_plane(network: NodeNetwork, name: str = "cp-1", *init_args: str) -> Cluster:
    return kbs_init(network, control_plane_node(network, name), *init_args)


@contextmanager
def cluster(client: docker.DockerClient, workers: int = 2, prefix: str = "kbs-cluster") -> Iterator[Cluster]:
    """A kbs control plane plus `workers` kubeadm-joined workers, all Ready; removed on exit."""
    with node_network(client, prefix=prefix) as network:
        made = start_control_plane(network)
        for i in range(1, workers + 1):
            node = network.start(f"worker-{i}", "worker")
            node.wait_ready()
            made.join_worker(node)
        yield made
