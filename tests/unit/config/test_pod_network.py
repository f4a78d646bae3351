"""`--pod-network` / KbsConfiguration podNetwork: checked when the configuration is loaded, not mid-init."""

from __future__ import annotations

import pytest

from bootstrap.config import Overrides, load_config
from bootstrap.errors import ConfigError
from tests.unit.config.conftest import WriteConfig


def test_no_pod_network_by_default_as_kubeadm() -> None:
    assert load_config(None, Overrides()).kbs.pod_network == "none"


def test_flannel_with_a_pod_subnet_is_accepted() -> None:
    cfg = load_config(None, Overrides(pod_network="flannel", pod_network_cidr="10.244.0.0/16"))
    assert cfg.kbs.pod_network == "flannel"


def test_flannel_without_a_pod_subnet_is_refused_naming_the_flag_to_add() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, Overrides(pod_network="flannel"))
    assert "flannel needs an IPv4 networking.podSubnet" in caught.value.message
    assert "--pod-network-cidr" in (caught.value.hint or "")


def test_flannel_with_only_an_ipv6_pod_subnet_is_refused() -> None:
    with pytest.raises(ConfigError, match="IPv4"):
        load_config(None, Overrides(pod_network="flannel", pod_network_cidr="fd00:10:244::/56"))


def test_the_kbs_document_chooses_it_too(write_config: WriteConfig) -> None:
    path = write_config(
        "apiVersion: kbs.dev/v1alpha1\nkind: KbsConfiguration\npodNetwork: flannel\n---\n"
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.32.0.0/12\n"
    )
    assert load_config(path, Overrides()).kbs.pod_network == "flannel"


def test_an_unknown_pod_network_lists_the_choices(write_config: WriteConfig) -> None:
    path = write_config("apiVersion: kbs.dev/v1alpha1\nkind: KbsConfiguration\npodNetwork: calico\n")
    with pytest.raises(ConfigError, match="flannel"):
        load_config(path, Overrides())
