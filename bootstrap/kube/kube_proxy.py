"""The kube-proxy addon as kubeadm creates it: ConfigMap, DaemonSet, ServiceAccount, node-proxier binding, and the
Role/RoleBinding that let joining nodes read the ConfigMap.

Plain data, for the reasons bootstrap.kube.coredns gives. The ConfigMap's `config.conf` is the KubeProxyConfiguration
text bootstrap.config.kubeproxy builds; like kubeadm, kbs signs it (component-config.hash) unless the operator
supplied the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bootstrap import constants
from bootstrap.config import kubeproxy
from bootstrap.kube.api import Obj

_NS = constants.KUBE_SYSTEM
_APP = {"k8s-app": constants.KUBE_PROXY}


def kubeconfig_text(server: str) -> str:
    """The kubeconfig kube-proxy reads from the ConfigMap: its ServiceAccount's token and CA, `server` as given."""
    return f"""\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: {constants.SERVICE_ACCOUNT_DIR}/ca.crt
    server: {server}
  name: default
contexts:
- context:
    cluster: default
    namespace: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    tokenFile: {constants.SERVICE_ACCOUNT_DIR}/token"""


def configmap(config: Mapping[str, Any], server: str, *, sign: bool) -> Obj:
    data = {
        constants.KUBE_PROXY_CONFIG_KEY: kubeproxy.to_text(config),
        constants.KUBE_PROXY_KUBECONFIG_KEY: kubeconfig_text(server),
    }
    metadata: dict[str, Any] = {"name": constants.KUBE_PROXY, "namespace": _NS, "labels": {"app": constants.KUBE_PROXY}}
    if sign:
        metadata["annotations"] = {constants.COMPONENT_CONFIG_HASH_ANNOTATION: kubeproxy.config_hash(data)}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def daemonset(image: str, proxy_env: list[dict[str, str]]) -> Obj:
    """kubeadm's DaemonSet; `proxy_env` are the `*_proxy` variables of the installer's environment, as kubeadm adds."""
    node_name = {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    env = [node_name, *proxy_env]  # kubeadm appends the proxy variables, sorted, after NODE_NAME
    container = {
        "name": constants.KUBE_PROXY,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [
            "/usr/local/bin/kube-proxy",
            f"--config={constants.KUBE_PROXY_DIR}/{constants.KUBE_PROXY_CONFIG_KEY}",
            "--hostname-override=$(NODE_NAME)",
        ],
        "securityContext": {"privileged": True},
        "volumeMounts": [
            {"mountPath": constants.KUBE_PROXY_DIR, "name": constants.KUBE_PROXY},
            {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
            {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True},
        ],
        "env": env,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"labels": dict(_APP), "name": constants.KUBE_PROXY, "namespace": _NS},
        "spec": {
            "selector": {"matchLabels": dict(_APP)},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": dict(_APP)},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "containers": [container],
                    "hostNetwork": True,
                    "serviceAccountName": constants.KUBE_PROXY,
                    "volumes": [
                        {"name": constants.KUBE_PROXY, "configMap": {"name": constants.KUBE_PROXY}},
                        {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                        {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}},
                    ],
                    "tolerations": [{"operator": "Exists"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    # kbs's addition: not on nodes whose kbs reconciler runs static pods only (they would never run)
                    "affinity": constants.NOT_STATIC_PODS_ONLY_AFFINITY,
                },
            },
        },
    }


def rbac_objects() -> list[Obj]:
    """ServiceAccount, node-proxier binding, and the ConfigMap reader Role/RoleBinding, subjects as kubeadm writes
    them (no apiGroup: the API server fills it in)."""
    rbac = "rbac.authorization.k8s.io"
    name = constants.KUBE_PROXY
    rules = [{"apiGroups": [""], "resourceNames": [name], "resources": ["configmaps"], "verbs": ["get"]}]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": _NS}},
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": constants.KUBE_PROXY_CLUSTER_ROLE_BINDING},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": constants.KUBE_PROXY_CLUSTER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": _NS}],
        },
        {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": {"name": name, "namespace": _NS}, "rules": rules},
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": _NS},
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": name},
            "subjects": [{"kind": "Group", "name": constants.NODE_BOOTSTRAP_TOKEN_GROUP}],
        },
    ]


def objects(
    config: Mapping[str, Any], *, server: str, image: str, proxy_env: list[dict[str, str]], sign: bool
) -> list[Obj]:
    """kubeadm's order: ConfigMap, DaemonSet, ServiceAccount, ClusterRoleBinding, Role, RoleBinding."""
    return [configmap(config, server, sign=sign), daemonset(image, proxy_env), *rbac_objects()]
