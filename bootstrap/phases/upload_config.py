"""The upload-config phase: the `kubeadm-config` and `kubelet-config` ConfigMaps a stock `kubeadm join` reads.

kubeadm-config holds the ClusterConfiguration (the cluster-wide document only: no tokens, no node facts).
kubelet-config holds the KubeletConfiguration joining kubelets start with — kubeadm's defaults for this cluster's
DNS domain and service range — so `kubeadm join` on a worker finds everything it downloads. Each comes with the
Role and RoleBinding that let bootstrapping and joined nodes read it, as kubeadm creates them.
"""

from __future__ import annotations

import yaml

from bootstrap import constants
from bootstrap.kube.api import Obj
from bootstrap.kube.coredns import cluster_dns
from bootstrap.kube.token import DEFAULT_GROUP
from bootstrap.phases.apply import ensure_all, group, role, role_binding
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

KUBEADM_CONFIG = "kubeadm-config"
KUBELET_CONFIG = "kubelet-config"
CLUSTER_CONFIGURATION_KEY = "ClusterConfiguration"
KUBELET_KEY = "kubelet"
NODES_GROUP = "system:nodes"


def cluster_configuration_yaml(data: InitData) -> str:
    cluster = (data.real_cfg or data.cfg).documents()[1]
    return yaml.safe_dump(cluster, sort_keys=True)


def kubelet_configuration_yaml(data: InitData) -> str:
    cfg = data.real_cfg or data.cfg
    document = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"cacheTTL": "0s", "enabled": True},
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
        },
        "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"}},
        "cgroupDriver": "systemd",
        "clusterDNS": [cluster_dns(cfg.cluster.networking.service_subnet)],
        "clusterDomain": cfg.cluster.networking.dns_domain,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": constants.KUBELET_HEALTHZ_PORT,
        "rotateCertificates": True,
        "staticPodPath": "/etc/kubernetes/manifests",
    }
    return yaml.safe_dump(document, sort_keys=True)


def objects(data: InitData) -> list[Obj]:
    readers = [group(DEFAULT_GROUP), group(NODES_GROUP)]
    result: list[Obj] = []
    for name, key, body, rbac_name in (
        (KUBEADM_CONFIG, CLUSTER_CONFIGURATION_KEY, cluster_configuration_yaml(data), "kubeadm:nodes-kubeadm-config"),
        (KUBELET_CONFIG, KUBELET_KEY, kubelet_configuration_yaml(data), "kubeadm:kubelet-config"),
    ):
        result.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": constants.KUBE_SYSTEM},
                "data": {key: body},
            }
        )
        rules = [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [name], "verbs": ["get"]}]
        result.append(role(rbac_name, constants.KUBE_SYSTEM, rules))
        result.append(role_binding(rbac_name, constants.KUBE_SYSTEM, rbac_name, readers))
    return result


def run(data: InitData) -> Outcome:
    return ensure_all(data, "upload-config", objects(data))
