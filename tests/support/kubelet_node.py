"""A test-bed node with a real kubelet and containerd *and* kbs, for `kbs init --reconciler kubelet`.

The worker node image has the kubelet side (containerd, runc, CNI plugins, kubelet, crictl) but no Python; the
control-plane node image has Python with kbs's dependencies (/opt/kbs) and the `kbs` command that runs the checkout
mounted at /kbs. KUBELET_KBS_IMAGE is the control-plane image with the worker image's kubelet side copied in (a
local `docker build` from the two, no network, a few seconds), run as a worker node: the node supervisor
(kbs-node worker) starts containerd and, like kubeadm's kubelet unit, the kubelet once its configuration and
kubelet.conf exist (and stops it when kubelet.conf is removed).

install_kubelet() leaves the node as a kubeadm-packaged machine is before `kubeadm init`: the kubelet installed and
configured (/var/lib/kubelet/config.yaml, kubeadm-flags.env), waiting for its kubeconfig.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import yaml

from tests.support.cluster import CRI_SOCKET, kubeadm_control_plane_node
from tests.support.nodes import REPO, Node, NodeNetwork, node_images

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
KUBELET_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
KUBELET_SIDE = (
    "/usr/local/bin/containerd /usr/local/bin/containerd-shim-runc-v2 /usr/local/bin/ctr /usr/local/bin/runc "
    "/usr/local/bin/crictl /usr/local/bin/kubelet"
)


def _dockerfile(worker: str, control_plane: str) -> str:
    return "\n".join([
        f"FROM {worker} AS worker",
        f"FROM {control_plane}",
        f"COPY --from=worker {KUBELET_SIDE} /usr/local/bin/",
        "COPY --from=worker /opt/cni/bin/ /opt/cni/bin/",
        "COPY --from=worker /etc/containerd/config.toml /etc/containerd/config.toml",
        "COPY --from=worker /etc/crictl.yaml /etc/crictl.yaml",
        "RUN mkdir -p /etc/cni/net.d /var/lib/kubelet",
        'ENTRYPOINT ["/usr/local/bin/kbs-node", "worker"]',
        "",
    ])  # fmt: skip


@contextmanager
def kubelet_kbs_image(client: docker.DockerClient) -> Iterator[str]:
    """Builds the image (tagged after the worker image's version) and removes it on exit."""
    images = node_images()
    tag = "kbs-testbed/node-kubelet-kbs:" + images["worker"].rsplit(":", 1)[1]
    built = subprocess.run(
        ["docker", "build", "--quiet", "--tag", tag, "-"],
        input=_dockerfile(images["worker"], images["control-plane"]),
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise AssertionError(f"building {tag} failed: {built.stderr.strip()}")
    try:
        yield tag
    finally:
        client.images.remove(tag, noprune=False)


def kubelet_kbs_node(network: NodeNetwork, image: str, name: str = "kl-1") -> Node:
    """A node of KUBELET_KBS_IMAGE with the control-plane images in its containerd and kbs's source at /kbs."""
    return kubeadm_control_plane_node(network, name, image=image, mounts=[(str(REPO), "/kbs")])


def kubelet_configuration(static_pod_path: str | None = None, *, standalone: bool = False) -> str:
    """What kubeadm's kubelet-start writes for this kind of machine (cgroup v1, cgroupfs: WORKER_PATCH); a
    `standalone` kubelet (no API server, no cluster CA) serves its port without authentication instead."""
    document: dict[str, object] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": CRI_SOCKET,
        "rotateCertificates": True,
        "clusterDNS": ["10.96.0.10"],
        "clusterDomain": "cluster.local",
    }
    if standalone:
        document["authentication"] = {"anonymous": {"enabled": True}, "webhook": {"enabled": False}}
        document["authorization"] = {"mode": "AlwaysAllow"}
    if static_pod_path is not None:
        document["staticPodPath"] = static_pod_path
    return yaml.safe_dump(document, sort_keys=False)


def install_kubelet(node: Node, static_pod_path: str | None = "/etc/kubernetes/manifests") -> None:
    """The kubelet's configuration as kubeadm's kubelet-start leaves it; the node supervisor starts the kubelet
    once kubelet.conf exists too."""
    node.exec("mkdir", "-p", "/var/lib/kubelet")
    node.exec("sh", "-c", f"cat > {KUBELET_CONFIG}", stdin=kubelet_configuration(static_pod_path).encode())
    flags = f'KUBELET_KUBEADM_ARGS="--node-ip={node.address} --hostname-override={node.name}"\n'
    node.exec("sh", "-c", f"cat > {KUBELET_FLAGS}", stdin=flags.encode())
