"""upload-config, mark-control-plane, bootstrap-token, show-join-command against the in-memory API server."""

from __future__ import annotations

import base64

import yaml

from bootstrap.kube import clusterinfo
from bootstrap.kube.memory import MemoryAPI
from bootstrap.phases import bootstrap_token, mark_control_plane, show_join_command, upload_config
from bootstrap.phases.context import InitData
from tests.support.reporter import Collect
from tests.unit.phases.conftest import write_ca


def test_upload_config_stores_the_cluster_configuration_and_converges(data: InitData, api: MemoryAPI) -> None:
    first = upload_config.run(data)
    assert first.changed
    cm = api.get("v1", "ConfigMap", "kubeadm-config", "kube-system")
    assert cm is not None
    cluster = yaml.safe_load(cm["data"]["ClusterConfiguration"])
    assert cluster["kind"] == "ClusterConfiguration" and cluster["kubernetesVersion"] == data.cfg.kubernetes_version
    kubelet = yaml.safe_load(api.get("v1", "ConfigMap", "kubelet-config", "kube-system")["data"]["kubelet"])  # type: ignore[index]
    assert kubelet["clusterDNS"] == ["10.96.0.10"]
    assert api.get("rbac.authorization.k8s.io/v1", "RoleBinding", "kubeadm:nodes-kubeadm-config", "kube-system")
    second = upload_config.run(data)
    assert not second.changed and second.summary == "6 unchanged"


def test_mark_control_plane_registers_a_missing_node_labels_and_taints_it(data: InitData, api: MemoryAPI) -> None:
    outcome = mark_control_plane.run(data)
    node = api.get("v1", "Node", "node1")
    assert node is not None and outcome.changed
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert node["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"] == ""
    assert node["spec"]["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    assert node["status"]["allocatable"]["pods"] == "110"
    assert not mark_control_plane.run(data).changed


def test_mark_control_plane_keeps_taints_others_added(data: InitData, api: MemoryAPI) -> None:
    other = {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}
    api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}, "spec": {"taints": [other]}})
    mark_control_plane.run(data)
    taints = api.get("v1", "Node", "node1")["spec"]["taints"]  # type: ignore[index]
    assert other in taints and len(taints) == 2


def test_bootstrap_token_writes_what_kubeadm_join_needs_and_reuses_its_token(
    data: InitData, api: MemoryAPI, reporter: Collect
) -> None:
    write_ca(data.cfg.cert_dir)
    assert bootstrap_token.run(data).changed
    token = data.scratch["token"]
    secret = api.get("v1", "Secret", f"bootstrap-token-{token.token_id}", "kube-system")
    assert secret is not None and base64.b64decode(secret["data"]["token-secret"]).decode() == token.secret
    cm = api.get("v1", "ConfigMap", "cluster-info", "kube-public")
    assert cm is not None and clusterinfo.signature_for(cm, token)
    binding = api.get(
        "rbac.authorization.k8s.io/v1", "RoleBinding", "kubeadm:bootstrap-signer-clusterinfo", "kube-public"
    )
    assert binding is not None and binding["subjects"][0]["name"] == "system:anonymous"
    assert api.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kubeadm:kubelet-bootstrap")
    assert token.secret not in reporter.text

    data.scratch.clear()
    again = bootstrap_token.run(data)
    assert not again.changed
    assert data.scratch["token"].value == token.value


def test_show_join_command_prints_kubeadm_join_with_the_ca_pin(data: InitData, reporter: Collect) -> None:
    pem = write_ca(data.cfg.cert_dir)
    bootstrap_token.run(data)
    show_join_command.run(data)
    token = data.scratch["token"]
    assert f"kubeadm join 10.0.0.5:6443 --token {token.value}" in reporter.text
    assert clusterinfo.ca_cert_hash(pem) in reporter.text
    assert f"export KUBECONFIG={data.cfg.kubernetes_dir}/admin.conf" in reporter.text


def test_bootstrap_token_lets_the_api_server_reach_the_kubelet_api_for_kubectl_logs(
    data: InitData, api: MemoryAPI
) -> None:
    write_ca(data.cfg.cert_dir)
    bootstrap_token.run(data)
    binding = api.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kubeadm:apiserver-kubelet-client")
    assert binding is not None
    assert binding["roleRef"]["name"] == "system:kubelet-api-admin"
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-apiserver-kubelet-client"}
    ]
