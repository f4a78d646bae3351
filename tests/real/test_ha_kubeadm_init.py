"""`kbs join --control-plane` into a cluster made by the stock `kubeadm init --upload-certs` with a real kubelet
(a worker node image with containerd and the control-plane images imported): kubeadm's kubeadm-config, its
kubeadm-certs and its etcd mirror pods are all kbs's join needs.
"""

from __future__ import annotations

import json

import docker

from bootstrap.kube import clusterinfo
from tests.support.ha import COMPONENTS, etcd_members, kubeadm_flags, kubeadm_node
from tests.support.nodes import node_network
from tests.support.wait import wait_until


def test_kbs_join_control_plane_joins_a_cluster_made_by_kubeadm_init(docker_client: docker.DockerClient) -> None:
    """The reverse: `kubeadm init --upload-certs` with a real kubelet, then `kbs join --control-plane` beside it."""
    key, token = "c0" * 32, "kbsha1.0123456789abcdef"
    with node_network(docker_client, prefix="kbs-kadm") as network:
        second = network.start("kbs-2", "control-plane")
        first = kubeadm_node(network, "kadm-1")
        second.wait_ready()
        endpoint = f"{first.address}:6443"
        first.exec(
            "kubeadm", "init", f"--control-plane-endpoint={endpoint}", "--upload-certs", f"--certificate-key={key}",
            f"--token={token}", *kubeadm_flags(first), timeout=600,
        )  # fmt: skip
        ca_hash = clusterinfo.ca_cert_hash(first.exec("cat", "/etc/kubernetes/pki/ca.crt").encode())
        out = second.exec(
            "kbs", "join", endpoint, "--control-plane", "--token", token, "--discovery-token-ca-cert-hash", ca_hash,
            "--certificate-key", key, "--node-name=kbs-2", f"--apiserver-advertise-address={second.address}",
            timeout=600,
        )  # fmt: skip
        assert "This node has joined the cluster and a new control plane instance was created" in out
        members = etcd_members(second)
        assert sorted((m.get("name"), bool(m.get("isLearner"))) for m in members) == [
            ("kadm-1", False),
            ("kbs-2", False),
        ]

        def mirrors() -> bool | None:
            kubectl = ["kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "pods", "-n", "kube-system"]
            pods = json.loads(first.exec(*kubectl, "-o", "json"))["items"]
            phase = {p["metadata"]["name"]: p["status"].get("phase") for p in pods}
            return all(phase.get(f"{c}-kbs-2") == "Running" for c in COMPONENTS) or None

        wait_until("kbs-2's mirror pods in the kubeadm cluster", mirrors, timeout=120)
