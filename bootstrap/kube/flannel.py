"""The flannel pod network, as flannel's own kube-flannel.yml deploys it, for this cluster's pod subnet.

Why flannel: it is the pod network kubeadm's documentation and most courses start with, one DaemonSet and no
CRDs, with a vxlan backend that works on any network the nodes share. The objects follow flannel v0.28.10's
Documentation/kube-flannel.yml field for field (namespace kube-flannel with the privileged Pod Security level,
RBAC for the subnet manager, the kube-flannel-cfg ConfigMap with the CNI and network configuration, the
kube-flannel-ds DaemonSet with its two init containers); what kbs sets is the network (the ClusterConfiguration's
IPv4 podSubnet), the backend and the images. Three differences: the CNI configuration's spec version is 0.3.1
(CNI_VERSION says why); the DaemonSet skips nodes that run static pods only (kbs's reconciler); and the CNI
configuration is installed once flanneld has its subnet lease (INSTALL_CNI_CONF says why). Like the addons these
are plain data, applied by server-side apply.

flannel needs the API server through the `kubernetes` Service, so it runs once kube-proxy does.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from bootstrap import constants
from bootstrap.kube.api import Obj

NAMESPACE = "kube-flannel"
NAME = "flannel"
DAEMONSET = "kube-flannel-ds"
CONFIGMAP = "kube-flannel-cfg"
HEALTHZ_PORT = 8081
BACKENDS = ("vxlan", "host-gw")
_LABELS = {"k8s-app": NAME}
_NODE_LABELS = {"tier": "node", "app": NAME}


def network(pod_subnet: str) -> str:
    """flannel's Network: the IPv4 range of the podSubnet (flannel's IPv6 needs its own settings, not set here)."""
    for cidr in pod_subnet.split(","):
        if ipaddress.ip_network(cidr.strip()).version == 4:
            return cidr.strip()
    raise ValueError(f"flannel needs an IPv4 podSubnet, got {pod_subnet!r}")


# kube-flannel.yml says "1.0.0"; kbs says 0.3.1, a spec version every flannel CNI plugin speaks. The test bed's
# plugin is built from its last release the module proxy serves (v0.9.1, which stops at 0.4.0: components.toml
# says why), and for a flannel + portmap chain the two spec versions behave the same.
CNI_VERSION = "0.3.1"


# kube-flannel.yml copies the CNI configuration in an init container, before flanneld starts. The kubelet turns
# the node Ready as soon as a configuration exists, so the first pods placed there (CoreDNS, on a fresh cluster)
# fail their sandbox with "open /run/flannel/subnet.env: no such file or directory" and wait out the kubelet's
# back-off (~15 s measured here). kbs installs it from flanneld's container instead, in a postStart hook that
# waits for flanneld's subnet lease: the node turns Ready when pods can get an address.
SUBNET_ENV = "/run/flannel/subnet.env"
CNI_CONF_PATH = "/etc/cni/net.d/10-flannel.conflist"
INSTALL_CNI_CONF = (
    f"until [ -s {SUBNET_ENV} ]; do sleep 0.2; done; "
    f"exec /opt/bin/install-conf /etc/kube-flannel/cni-conf.json {CNI_CONF_PATH}"
)


def cni_conf() -> str:
    conf = {
        "name": "cbr0",
        "cniVersion": CNI_VERSION,
        "plugins": [
            {"type": "flannel", "delegate": {"hairpinMode": True, "isDefaultGateway": True}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(conf, indent=2) + "\n"


def net_conf(pod_subnet: str, backend: str) -> str:
    conf = {"Network": network(pod_subnet), "EnableNFTables": False, "Backend": {"Type": backend}}
    return json.dumps(conf, indent=2) + "\n"


def _meta(name: str, labels: dict[str, str], namespace: str | None = NAMESPACE) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _host_path(name: str, path: str, kind: str | None = None) -> dict[str, Any]:
    host: dict[str, str] = {"path": path}
    if kind:
        host["type"] = kind
    return {"name": name, "hostPath": host}


def _mount(name: str, path: str) -> dict[str, str]:
    return {"name": name, "mountPath": path}


def daemonset(image: str, cni_plugin_image: str) -> Obj:
    probe: dict[str, Any] = {"httpGet": {"path": "/healthz", "port": "healthz"}}
    flanneld = {
        "name": "kube-flannel",
        "image": image,
        "command": ["/opt/bin/flanneld"],
        "args": ["--ip-masq", "--kube-subnet-mgr", f"--healthz-port={HEALTHZ_PORT}"],
        "ports": [{"name": "healthz", "containerPort": HEALTHZ_PORT, "protocol": "TCP"}],
        "livenessProbe": {**probe, "initialDelaySeconds": 10, "periodSeconds": 30},
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "healthz"},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
        "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
        "securityContext": {"privileged": False, "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "EVENT_QUEUE_DEPTH", "value": "5000"},
            {"name": "CONT_WHEN_CACHE_NOT_READY", "value": "false"},
        ],
        "lifecycle": {"postStart": {"exec": {"command": ["/bin/sh", "-c", INSTALL_CNI_CONF]}}},
        "volumeMounts": [
            _mount("run", "/run/flannel"),
            _mount("cni", "/etc/cni/net.d"),
            _mount("flannel-cfg", "/etc/kube-flannel/"),
            _mount("xtables-lock", "/run/xtables.lock"),
        ],
    }
    init_containers = [
        {
            "name": "install-cni-plugin",
            "image": cni_plugin_image,
            "command": ["cp"],
            "args": ["-f", "/flannel", "/opt/cni/bin/flannel"],
            "volumeMounts": [_mount("cni-plugin", "/opt/cni/bin")],
        },
    ]
    # kube-flannel.yml's linux-only term, and kbs's: not on nodes that run static pods only (kbs's reconciler)
    linux_only = {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}
    not_static_only = {"key": constants.STATIC_PODS_ONLY_LABEL, "operator": "DoesNotExist"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(DAEMONSET, {**_NODE_LABELS, **_LABELS}),
        "spec": {
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": dict(_NODE_LABELS)},
                "spec": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [{"matchExpressions": [linux_only, not_static_only]}]
                            }
                        }
                    },
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                    "serviceAccountName": NAME,
                    "initContainers": init_containers,
                    "containers": [flanneld],
                    "volumes": [
                        _host_path("run", "/run/flannel"),
                        _host_path("cni-plugin", "/opt/cni/bin"),
                        _host_path("cni", "/etc/cni/net.d"),
                        {"name": "flannel-cfg", "configMap": {"name": CONFIGMAP}},
                        _host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
                    ],
                },
            },
        },
    }


def objects(*, pod_subnet: str, image: str, cni_plugin_image: str, backend: str = "vxlan") -> list[Obj]:
    """Every object of the pod network, in the order they are applied."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown flannel backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]},
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _meta(NAMESPACE, {**_LABELS, "pod-security.kubernetes.io/enforce": "privileged"}, None),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(NAME, _LABELS, None),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(NAME, _LABELS, None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, _LABELS)},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(CONFIGMAP, {**_NODE_LABELS, **_LABELS}),
            "data": {"cni-conf.json": cni_conf(), "net-conf.json": net_conf(pod_subnet, backend)},
        },
        daemonset(image, cni_plugin_image),
    ]
