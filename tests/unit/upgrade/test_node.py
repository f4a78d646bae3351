"""bootstrap.upgrade.node: the node's configuration for the cluster's version, and what `kbs upgrade node` does with
it (a fake kubeadm-config; no runtime, no API server)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bootstrap.cli.main import cli
from bootstrap.config.effective import KbsConfig
from bootstrap.render import render_manifests
from bootstrap.upgrade.node import NodeOptions, joined_initial_cluster, node_config, upgrade_node
from bootstrap.upgrade.plan import UpgradeError
from bootstrap.upgrade.state import UpgradeState
from tests.support.reporter import Collect

PEERS = (("cp-1", "https://10.0.0.1:2380"), ("cp-2", "https://10.0.0.2:2380"))


def _saved(tmp_path: Path, version: str = "v1.36.3") -> Path:
    """What `kbs join --control-plane` leaves in <stateDir>/config.yaml on cp-2."""
    path = tmp_path / "state" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
        "nodeRegistration:\n  name: cp-2\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.0.2\n---\n"
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
        f"kubernetesVersion: {version}\ncontrolPlaneEndpoint: 10.0.0.100:6443\n---\n"
        "apiVersion: kbs.dev/v1alpha1\nkind: KbsConfiguration\n"
        f"kubernetesDir: {tmp_path}/k8s\nreconciler:\n  stateDir: {tmp_path}/state\n"
    )
    return path


def _cluster(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": version,
        "controlPlaneEndpoint": "10.0.0.100:6443",
        "networking": {"podSubnet": "10.244.0.0/16"},
    }


def _fetch(version: str) -> Any:
    return lambda _cfg: _cluster(version)


def _install(cfg: KbsConfig) -> dict[str, str]:
    """This node's manifests as `kbs join` wrote them for `cfg`'s version (etcd joined with PEERS)."""
    manifests = dict(render_manifests(dataclasses.replace(cfg, etcd_initial_cluster=PEERS)))
    cfg.manifests_dir.mkdir(parents=True, exist_ok=True)
    for component, text in manifests.items():
        (cfg.manifests_dir / f"{component}.yaml").write_text(text)
    return manifests


def test_node_config_is_this_nodes_part_with_the_clusters_configuration(tmp_path: Path) -> None:
    cfg = node_config(_saved(tmp_path), _fetch("v1.37.2"))
    assert cfg.kubernetes_version == "v1.37.2"
    assert cfg.node_name == "cp-2" and cfg.advertise_address == "10.0.0.2"
    assert cfg.control_plane_endpoint == "10.0.0.100:6443"
    assert cfg.cluster.networking.pod_subnet == "10.244.0.0/16"  # the cluster's, not the saved file's
    assert cfg.kubernetes_dir == tmp_path / "k8s"


def test_a_joined_member_keeps_its_initial_cluster_and_a_first_member_renders_as_before(tmp_path: Path) -> None:
    old = node_config(_saved(tmp_path), _fetch("v1.36.3"))
    assert joined_initial_cluster(old) is None  # no manifest yet
    written = _install(old)
    assert joined_initial_cluster(old) == PEERS
    new = node_config(_saved(tmp_path), _fetch("v1.37.2"))
    assert new.etcd_initial_cluster == PEERS
    etcd = dict(render_manifests(new, ["etcd"]))["etcd"]
    assert "--initial-cluster-state=existing" in etcd and "cp-1=https://10.0.0.1:2380" in etcd
    assert etcd != written["etcd"] and "etcd:3.7.0-0" in etcd
    first = dict(render_manifests(old, ["etcd"]))["etcd"]  # kbs init's member: state new, itself only
    (old.manifests_dir / "etcd.yaml").write_text(first)
    assert joined_initial_cluster(old) is None


def test_dry_run_names_every_component_for_the_clusters_version_and_writes_nothing(tmp_path: Path) -> None:
    saved = _saved(tmp_path)
    cfg = node_config(saved, _fetch("v1.36.3"))
    written = _install(cfg)
    out = Collect()
    result = upgrade_node(saved, NodeOptions(dry_run=True), out, fetch=_fetch("v1.37.2"))
    assert "4 component(s) would change; nothing was written" in result
    text = out.text
    assert "kubeadm-config) names v1.37.2; upgrading cp-2" in text
    assert "would upgrade kube-apiserver: registry.k8s.io/kube-apiserver:v1.36.3 -> " in text
    assert {p.stem: p.read_text() for p in cfg.manifests_dir.iterdir()} == written
    assert not (tmp_path / "k8s/tmp").exists()


def test_a_node_already_at_the_clusters_version_has_nothing_to_do(tmp_path: Path) -> None:
    saved = _saved(tmp_path, "v1.37.2")
    _install(node_config(saved, _fetch("v1.37.2")))
    out = Collect()
    result = upgrade_node(saved, NodeOptions(dry_run=True), out, fetch=_fetch("v1.37.2"))
    assert "0 component(s) would change" in result


def test_a_cluster_version_older_than_the_node_is_refused(tmp_path: Path) -> None:
    saved = _saved(tmp_path, "v1.37.2")
    _install(node_config(saved, _fetch("v1.37.2")))
    with pytest.raises(UpgradeError, match="does not downgrade"):
        upgrade_node(saved, NodeOptions(), Collect(), fetch=_fetch("v1.36.3"))


def test_an_interrupted_node_upgrade_names_kbs_upgrade_node_to_finish_it(tmp_path: Path) -> None:
    saved = _saved(tmp_path)
    cfg = node_config(saved, _fetch("v1.36.3"))
    UpgradeState("v1.37.2", "v1.36.3", str(tmp_path / "b")).save(cfg.kbs.reconciler.state_dir)
    with pytest.raises(UpgradeError, match=r"an upgrade to v1\.37\.2 was interrupted") as info:
        upgrade_node(saved, NodeOptions(), Collect(), fetch=_fetch("v1.37.1"))
    assert "`kbs upgrade node`" in (info.value.hint or "")


def test_a_missing_saved_configuration_is_one_line_naming_the_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["upgrade", "node", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope.yaml'} does not exist" in result.output
    assert "Traceback" not in result.output


def test_a_cluster_without_a_version_is_refused(tmp_path: Path) -> None:
    saved = _saved(tmp_path)
    fetch = _fetch("")
    with pytest.raises(UpgradeError, match="names no kubernetesVersion"):
        node_config(saved, fetch)
