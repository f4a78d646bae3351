"""Version-dependent manifest details come from the version table, per Kubernetes minor and etcd image tag."""

from __future__ import annotations

import yaml

from bootstrap import versions
from bootstrap.config import Overrides, load_config
from bootstrap.render.versiondata import etcd_version, facts
from tests.unit.render.conftest import Render, WriteConfig


def test_every_supported_minor_uses_named_probe_ports_and_livez_probes() -> None:
    for row in versions.supported():
        f = facts(row)
        assert f.named_probe_port
        assert f.etcd_probes.liveness == "/livez"
        assert f.scheduler_probes.readiness == "/readyz"
        assert not f.creation_timestamp_null


def test_v135_follows_the_etcd_image_tag_for_flag_names() -> None:
    row = versions.lookup("v1.35.4")
    assert "experimental-initial-corrupt-check" in facts(row, "3.5.21-0").etcd_flags
    assert facts(row, "3.6.6-0").etcd_flags == {
        "feature-gates": "InitialCorruptCheck=true",
        "watch-progress-notify-interval": "5s",
    }
    assert facts(row).kcm_flexvolume_dir


def test_v136_and_later_use_etcd_36_flag_names_whatever_the_tag() -> None:
    for version in ("v1.36.3", "v1.37.2"):
        f = facts(versions.lookup(version), "3.5.21-0")
        assert "feature-gates" in f.etcd_flags
        assert not f.kcm_flexvolume_dir


def test_an_etcd_35_image_on_v135_renders_the_experimental_flags(render: Render, write_config: WriteConfig) -> None:
    path = write_config(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.35.4\n"
        "etcd:\n  local:\n    imageTag: 3.5.21-0\n"
    )
    etcd = yaml.safe_load(render(load_config(path))["etcd"])
    command = etcd["spec"]["containers"][0]["command"]
    assert "--experimental-initial-corrupt-check=true" in command
    assert "--experimental-watch-progress-notify-interval=5s" in command
    assert etcd["spec"]["containers"][0]["image"] == "registry.k8s.io/etcd:3.5.21-0"


def test_the_controller_manager_mounts_the_flexvolume_dir_only_on_v135(render: Render) -> None:
    for version, expected in (("v1.35.4", True), ("v1.36.3", False)):
        kcm = yaml.safe_load(render(Overrides(kubernetes_version=version))["kube-controller-manager"])
        names = [v["name"] for v in kcm["spec"]["volumes"]]
        assert ("flexvolume-dir" in names) is expected


def test_etcd_version_parses_tags() -> None:
    assert etcd_version("3.6.6-0") == (3, 6, 6)
    assert etcd_version("v3.5.21") == (3, 5, 21)
    assert etcd_version("latest") is None
