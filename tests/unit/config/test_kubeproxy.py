"""The kube-proxy configuration: kubeadm's defaults over the zero struct, the operator's document, Go's YAML text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bootstrap.config import kubeproxy, load_config
from bootstrap.errors import ConfigError

CLUSTER = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking: {podSubnet: 10.244.0.0/16}\n"
PROXY = "---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"


def test_defaults_follow_kubeadm_per_minor() -> None:
    new = kubeproxy.build(None, advertise_address="10.0.0.1", pod_subnet="10.244.0.0/16", minor=(1, 37))
    old = kubeproxy.build(None, advertise_address="fd00::1", pod_subnet="", minor=(1, 36))
    assert new["mode"] == "iptables" and old["mode"] == ""
    assert new["bindAddress"] == "0.0.0.0" and old["bindAddress"] == "::"
    assert new["clusterCIDR"] == "10.244.0.0/16" and old["clusterCIDR"] == ""
    assert new["conntrack"]["udpTimeout"] == "0s" and new["conntrack"]["tcpEstablishedTimeout"] is None


def test_text_quotes_like_go_and_the_hash_covers_the_values_in_key_order() -> None:
    text = kubeproxy.to_text(kubeproxy.build(None, advertise_address="fd00::1", pod_subnet="", minor=(1, 37)))
    assert "bindAddress: '::'" in text and 'acceptContentTypes: ""' in text and 'infoBufferSize: "0"' in text
    assert "maxPerCore: null" in text and not text.endswith("\n")
    assert yaml.safe_load(text)["bindAddress"] == "::"
    assert kubeproxy.config_hash({"b": "2", "a": "1"}) == kubeproxy.config_hash({"a": "1", "b": "2"})


def test_an_operators_document_wins_and_durations_are_made_canonical(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        CLUSTER + PROXY + "mode: nftables\nclusterCIDR: 10.9.0.0/16\nconntrack: {tcpEstablishedTimeout: 1h}\n"
    )
    cfg = load_config(path)
    assert cfg.kube_proxy is not None and not cfg.notes
    built = kubeproxy.build(cfg.kube_proxy, advertise_address="10.0.0.1", pod_subnet="10.244.0.0/16", minor=(1, 37))
    assert built["mode"] == "nftables" and built["clusterCIDR"] == "10.9.0.0/16"
    assert built["conntrack"]["tcpEstablishedTimeout"] == "1h0m0s" and built["conntrack"]["min"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("bogusField: 1\n", "unknown field 'bogusField'"),
        ("iptables: {syncPeriod: soon}\n", "iptables.syncPeriod"),
    ],
)
def test_a_bad_document_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CLUSTER + PROXY + body)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert "c.yaml (KubeProxyConfiguration)" in err.value.message
