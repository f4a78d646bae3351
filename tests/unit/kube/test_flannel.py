"""The flannel objects: the cluster's IPv4 pod range, the backend, the images; the shape of kube-flannel.yml."""

from __future__ import annotations

import json

import pytest

from bootstrap.kube import flannel

IMAGE = "ghcr.io/flannel-io/flannel:v0.28.10"
PLUGIN = "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3"


def by_kind(objects: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(o["kind"]): o for o in objects}


def test_objects_are_applied_namespace_first_and_daemonset_last() -> None:
    kinds = [o["kind"] for o in flannel.objects(pod_subnet="10.244.0.0/16", image=IMAGE, cni_plugin_image=PLUGIN)]
    assert kinds == ["Namespace", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "ConfigMap", "DaemonSet"]


def test_the_network_is_the_ipv4_range_of_a_dual_stack_pod_subnet() -> None:
    objects = by_kind(flannel.objects(pod_subnet="fd00::/56,10.32.0.0/12", image=IMAGE, cni_plugin_image=PLUGIN))
    data = objects["ConfigMap"]["data"]
    assert isinstance(data, dict)
    assert json.loads(data["net-conf.json"]) == {
        "Network": "10.32.0.0/12",
        "EnableNFTables": False,
        "Backend": {"Type": "vxlan"},
    }
    plugins = [p["type"] for p in json.loads(data["cni-conf.json"])["plugins"]]
    assert plugins == ["flannel", "portmap"]


def test_host_gw_backend_and_unknown_backends() -> None:
    objects = by_kind(
        flannel.objects(pod_subnet="10.244.0.0/16", image=IMAGE, cni_plugin_image=PLUGIN, backend="host-gw")
    )
    data = objects["ConfigMap"]["data"]
    assert isinstance(data, dict)
    assert json.loads(data["net-conf.json"])["Backend"] == {"Type": "host-gw"}
    with pytest.raises(ValueError, match="vxlan, host-gw"):
        flannel.objects(pod_subnet="10.244.0.0/16", image=IMAGE, cni_plugin_image=PLUGIN, backend="udp")


def test_an_ipv6_only_subnet_is_refused() -> None:
    with pytest.raises(ValueError, match="IPv4"):
        flannel.network("fd00::/56")


def test_the_daemonset_runs_flanneld_on_every_linux_node_and_installs_the_cni_conf_after_the_lease() -> None:
    ds = by_kind(flannel.objects(pod_subnet="10.244.0.0/16", image=IMAGE, cni_plugin_image=PLUGIN))["DaemonSet"]
    spec = ds["spec"]["template"]["spec"]  # type: ignore[index]
    assert spec["hostNetwork"] is True
    assert spec["tolerations"] == [{"operator": "Exists", "effect": "NoSchedule"}]
    assert [(c["name"], c["image"]) for c in spec["initContainers"]] == [("install-cni-plugin", PLUGIN)]
    (flanneld,) = spec["containers"]
    hook = flanneld["lifecycle"]["postStart"]["exec"]["command"]
    assert hook[:2] == ["/bin/sh", "-c"]
    assert hook[2].index("/run/flannel/subnet.env") < hook[2].index("/etc/cni/net.d/10-flannel.conflist")
    assert {"name": "cni", "mountPath": "/etc/cni/net.d"} in flanneld["volumeMounts"]
    assert flanneld["image"] == IMAGE
    assert flanneld["args"] == ["--ip-masq", "--kube-subnet-mgr", "--healthz-port=8081"]
    assert flanneld["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "NET_RAW"]


def test_the_namespace_allows_privileged_pods() -> None:
    ns = by_kind(flannel.objects(pod_subnet="10.244.0.0/16", image=IMAGE, cni_plugin_image=PLUGIN))["Namespace"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"  # type: ignore[index]
