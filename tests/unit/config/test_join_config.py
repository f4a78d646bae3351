"""`kbs join --config`: a kubeadm v1beta4 JoinConfiguration read into this node's part of the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.config.join import node_config, read_join_file
from bootstrap.config.overrides import Overrides
from bootstrap.errors import ConfigError

JOIN = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: lb.example:6443
    token: abcdef.0123456789abcdef
    caCertHashes: [sha256:0000000000000000000000000000000000000000000000000000000000000000]
nodeRegistration:
  name: cp-2
controlPlane:
  localAPIEndpoint:
    advertiseAddress: 10.0.0.2
    bindPort: 6443
  certificateKey: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
skipPhases: [control-plane-join/mark-control-plane]
"""
CLUSTER = {
    "apiVersion": "kubeadm.k8s.io/v1beta4",
    "kind": "ClusterConfiguration",
    "controlPlaneEndpoint": "lb.example:6443",
    "kubernetesVersion": "v1.37.2",
    "networking": {"podSubnet": "10.244.0.0/16"},
}


def test_a_join_configuration_gives_discovery_key_and_this_nodes_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "join.yaml"
    path.write_text(JOIN)
    join = read_join_file(path)
    assert (join.endpoint, join.control_plane, join.skip_phases) == (
        "lb.example:6443",
        True,
        ("control-plane-join/mark-control-plane",),
    )
    assert join.token == "abcdef.0123456789abcdef" and join.certificate_key.startswith("0f1e")
    assert join.token not in repr(join) and join.certificate_key not in repr(join)
    cfg = node_config(CLUSTER, join, Overrides())
    assert (cfg.node_name, cfg.advertise_address, cfg.control_plane_endpoint) == ("cp-2", "10.0.0.2", "lb.example:6443")
    assert cfg.cluster.networking.pod_subnet == "10.244.0.0/16"
    flags = node_config(CLUSTER, join, Overrides(node_name="other", advertise_address="10.0.0.9"))
    assert (flags.node_name, flags.advertise_address) == ("other", "10.0.0.9")


def test_an_init_configuration_in_a_join_file_is_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "join.yaml"
    path.write_text("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n")
    with pytest.raises(ConfigError) as caught:
        read_join_file(path)
    assert str(path) in caught.value.message and "does not belong in a join configuration" in caught.value.message


def test_an_invalid_field_of_the_node_part_names_the_join_file(tmp_path: Path) -> None:
    path = tmp_path / "join.yaml"
    path.write_text(JOIN.replace("advertiseAddress: 10.0.0.2", "advertiseAddress: not-an-ip"))
    with pytest.raises(ConfigError) as caught:
        node_config(CLUSTER, read_join_file(path), Overrides())
    assert "JoinConfiguration" in caught.value.message
