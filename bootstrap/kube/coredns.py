"""The CoreDNS addon as kubeadm creates it: ConfigMap, ClusterRole and binding, ServiceAccount, Deployment, Service.

Why data in Python rather than templates/ like the static pods: these are API objects, not files. They are
compared field by field with what the API server holds (`KubeAPI.ensure`) and sent by server-side apply, so
plain dicts are what every consumer wants, and no value reaches YAML text except the Corefile, whose only input
is the (validated) DNS domain. The fields and their order follow kubeadm's dns/manifests.go, checked against the
real kubeadm's dry-run output (tests/real/test_addons_kubeadm_parity.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from bootstrap import constants
from bootstrap.kube.api import Obj

_NS = constants.KUBE_SYSTEM
_APP = {"k8s-app": constants.KUBE_DNS_APP_LABEL}


def cluster_dns(service_subnet: str) -> str:
    """The 10th address of the (first) service range: kubeadm's kube-dns ClusterIP and the kubelets' clusterDNS."""
    network = ipaddress.ip_network(service_subnet.split(",", maxsplit=1)[0])
    return str(network[constants.KUBE_DNS_SERVICE_INDEX])


def corefile(dns_domain: str) -> str:
    return f"""\
.:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {dns_domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {dns_domain}
       disable denial {dns_domain}
    }}
    loop
    reload
    loadbalance
}}
"""


def configmap(dns_domain: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": constants.COREDNS, "namespace": _NS},
        "data": {"Corefile": corefile(dns_domain)},
    }


def cluster_role() -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": constants.COREDNS_CLUSTER_ROLE},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["endpoints", "services", "pods", "namespaces"],
                "verbs": ["list", "watch"],
            },
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ],
    }


def cluster_role_binding() -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": constants.COREDNS_CLUSTER_ROLE},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": constants.COREDNS_CLUSTER_ROLE,
        },
        "subjects": [{"kind": "ServiceAccount", "name": constants.COREDNS, "namespace": _NS}],
    }


def service_account(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": _NS}}


def _port(name: str, port: int, protocol: str) -> dict[str, Any]:
    return {"containerPort": port, "name": name, "protocol": protocol}


def deployment(image: str, replicas: int) -> Obj:
    probe_ports = [_port("liveness-probe", 8080, "TCP"), _port("readiness-probe", 8181, "TCP")]
    container = {
        "name": constants.COREDNS,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
        "args": ["-conf", "/etc/coredns/Corefile"],
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
        "ports": [_port("dns", 53, "UDP"), _port("dns-tcp", 53, "TCP"), _port("metrics", 9153, "TCP"), *probe_ports],
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": "liveness-probe", "scheme": "HTTP"},
            "initialDelaySeconds": 60,
            "timeoutSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 5,
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "readiness-probe", "scheme": "HTTP"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
    }
    anti_affinity = {
        "weight": 100,
        "podAffinityTerm": {
            "labelSelector": {
                "matchExpressions": [{"key": "k8s-app", "operator": "In", "values": [constants.KUBE_DNS_APP_LABEL]}]
            },
            "topologyKey": "kubernetes.io/hostname",
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": constants.COREDNS, "namespace": _NS, "labels": dict(_APP)},
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": {"matchLabels": dict(_APP)},
            "template": {
                "metadata": {"labels": dict(_APP)},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": constants.COREDNS,
                    "affinity": {
                        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [anti_affinity]}
                    },
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": constants.CONTROL_PLANE_LABEL, "effect": "NoSchedule"},
                    ],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [container],
                    "dnsPolicy": "Default",
                    "volumes": [
                        {
                            "name": "config-volume",
                            "configMap": {
                                "name": constants.COREDNS,
                                "items": [{"key": "Corefile", "path": "Corefile"}],
                            },
                        }
                    ],
                },
            },
        },
    }


def service(service_subnet: str) -> Obj:
    ports = [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "labels": {**_APP, "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
            "name": constants.KUBE_DNS_SERVICE,
            "namespace": _NS,
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": {
            "clusterIP": cluster_dns(service_subnet),
            "ports": [{"name": n, "port": p, "protocol": proto, "targetPort": p} for n, p, proto in ports],
            "selector": dict(_APP),
        },
    }


def objects(*, image: str, dns_domain: str, service_subnet: str, replicas: int) -> list[Obj]:
    """kubeadm's order: ConfigMap, ClusterRole, ClusterRoleBinding, ServiceAccount, Deployment, Service."""
    return [
        configmap(dns_domain),
        cluster_role(),
        cluster_role_binding(),
        service_account(constants.COREDNS),
        deployment(image, replicas),
        service(service_subnet),
    ]
