"""The addon phase against the in-memory API server: kubeadm's objects, convergence, kept values, disabled addons."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from msgspec.structs import replace

from bootstrap.errors import ConfigError
from bootstrap.kube.memory import MemoryAPI
from bootstrap.phases import addon
from bootstrap.phases.context import InitData
from bootstrap.phases.init import INIT, sync_skipped_addons


def _disable(data: InitData, *, dns: bool = False, proxy: bool = False) -> InitData:
    cluster = data.cfg.cluster
    cluster = replace(cluster, dns=replace(cluster.dns, disabled=dns), proxy=replace(cluster.proxy, disabled=proxy))
    return dataclasses.replace(data, cfg=dataclasses.replace(data.cfg, cluster=cluster))


def test_coredns_creates_kubeadms_six_objects_and_a_rerun_changes_nothing(data: InitData, api: MemoryAPI) -> None:
    first = addon.run_coredns(data)
    assert first.changed and first.summary == "6 created"
    deploy = api.get("apps/v1", "Deployment", "coredns", "kube-system")
    assert deploy is not None and deploy["spec"]["replicas"] == 2
    image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"registry.k8s.io/coredns/coredns:{data.cfg.version.coredns_tag}"
    service = api.get("v1", "Service", "kube-dns", "kube-system")
    assert service is not None and service["spec"]["clusterIP"] == "10.96.0.10"
    corefile = api.get("v1", "ConfigMap", "coredns", "kube-system")["data"]["Corefile"]  # type: ignore[index]
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa" in corefile
    assert not addon.run_coredns(data).changed


def test_coredns_keeps_the_deployed_replicas_and_an_edited_corefile(data: InitData, api: MemoryAPI) -> None:
    addon.run_coredns(data)
    api.merge_patch("apps/v1", "Deployment", "coredns", {"spec": {"replicas": 5}}, "kube-system")
    api.merge_patch("v1", "ConfigMap", "coredns", {"data": {"Corefile": ".:53 { forward . 9.9.9.9 }\n"}}, "kube-system")
    assert not addon.run_coredns(data).changed
    assert api.get("apps/v1", "Deployment", "coredns", "kube-system")["spec"]["replicas"] == 5  # type: ignore[index]
    assert "9.9.9.9" in api.get("v1", "ConfigMap", "coredns", "kube-system")["data"]["Corefile"]  # type: ignore[index]


def test_kube_proxy_config_takes_the_pod_subnet_and_is_signed(data: InitData, api: MemoryAPI) -> None:
    first = addon.run_kube_proxy(data)
    assert first.changed and first.summary == "6 created"
    cm = api.get("v1", "ConfigMap", "kube-proxy", "kube-system")
    assert cm is not None
    config = yaml.safe_load(cm["data"]["config.conf"])
    assert config["kind"] == "KubeProxyConfiguration" and config["bindAddress"] == "0.0.0.0"
    assert config["clientConnection"]["kubeconfig"] == "/var/lib/kube-proxy/kubeconfig.conf"
    assert "server: https://10.0.0.5:6443" in cm["data"]["kubeconfig.conf"]
    assert cm["metadata"]["annotations"]["kubeadm.kubernetes.io/component-config.hash"].startswith("sha256:")
    ds = api.get("apps/v1", "DaemonSet", "kube-proxy", "kube-system")
    assert ds is not None
    image = ds["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"registry.k8s.io/kube-proxy:{data.cfg.kubernetes_version}"
    assert api.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kubeadm:node-proxier")
    assert not addon.run_kube_proxy(data).changed


def test_disabled_addons_create_nothing(data: InitData, api: MemoryAPI) -> None:
    off = _disable(data, dns=True, proxy=True)
    assert "dns.disabled" in addon.run_coredns(off).summary
    assert "proxy.disabled" in addon.run_kube_proxy(off).summary
    assert api.list("v1", "ConfigMap") == []


def test_skipping_an_addon_sub_phase_marks_it_disabled_like_kubeadm(data: InitData) -> None:
    cfg = sync_skipped_addons(data.cfg, INIT.check_skip(["addon/coredns"]))
    assert cfg.cluster.dns.disabled and not cfg.cluster.proxy.disabled
    cfg = sync_skipped_addons(data.cfg, INIT.check_skip(["addon"]))
    assert cfg.cluster.dns.disabled and cfg.cluster.proxy.disabled
    assert sync_skipped_addons(data.cfg, frozenset()) is data.cfg
    with pytest.raises(ConfigError):
        INIT.check_skip(["addon/dns"])
