"""The node's setup remembered in the ledger: written by the phases, applied to the next command's configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bootstrap.config import Overrides, load_config
from bootstrap.config.effective import KbsConfig
from bootstrap.errors import ConfigError
from bootstrap.phases import ledger as ledgers
from bootstrap.phases import node_setup, reconciler
from tests.support.reporter import Collect
from tests.unit.phases.conftest import CONFIG

KUBELET_DIR = "/var/lib/rancher/k3s/agent/pod-manifests"


def config(root: Path, **flags: Any) -> KbsConfig:
    """The phase tests' configuration without a reconciler mode in the file (a plain command's), plus `flags`."""
    path = root / "plain.yaml"
    path.write_text(CONFIG.format(root=root, mode="{}").replace("  mode: {}\n", ""))
    return load_config(path, Overrides(**flags))


def set_up(root: Path, **flags: str) -> KbsConfig:
    """Run the reconciler phase of `kbs init` with `flags`, as on the node; the configuration it used."""
    from bootstrap.phases.context import InitData, InitOptions

    cfg = config(root, **flags)
    reconciler.run(InitData(cfg=cfg, out=Collect(), options=InitOptions()))
    return cfg


def test_only_the_settings_the_file_or_the_flags_set_count_as_given(tmp_path: Path) -> None:
    assert config(tmp_path).kbs_given >= {"kubernetesDir", "reconciler.stateDir"}
    assert "reconciler.mode" not in config(tmp_path).kbs_given
    given = config(tmp_path, reconciler_mode="kubelet", static_pod_path="/srv/pods").kbs_given
    assert {"reconciler.mode", "staticPodPath"} <= given


def test_the_reconciler_phase_records_the_kubelet_and_its_directory_before_any_file(tmp_path: Path) -> None:
    set_up(tmp_path, reconciler_mode="kubelet", static_pod_path=KUBELET_DIR)
    ledger = json.loads((tmp_path / "var/lib/kbs" / ledgers.LEDGER_FILE).read_text())
    assert ledger["node"] == {"reconciler": "kubelet", "staticPodPath": KUBELET_DIR}
    assert not (tmp_path / "etc/kubernetes").exists()


def test_a_plain_command_acts_on_the_node_as_it_was_set_up(tmp_path: Path) -> None:
    set_up(tmp_path, reconciler_mode="kubelet", static_pod_path=KUBELET_DIR)
    plain = config(tmp_path)
    assert plain.kbs.reconciler.mode == "bundled"  # the default, before the record
    cfg = node_setup.apply(plain)
    assert cfg.kbs.reconciler.mode == "kubelet" and cfg.manifests_dir == Path(KUBELET_DIR)
    assert node_setup.from_record(cfg)
    assert any(f"--reconciler kubelet, staticPodPath {KUBELET_DIR}" in note for note in cfg.notes)
    same = node_setup.apply(config(tmp_path, reconciler_mode="kubelet", static_pod_path=KUBELET_DIR))
    assert not any("set up with" in note for note in same.notes)  # agreeing flags are fine, and quiet


@pytest.mark.parametrize(
    ("flags", "asked"),
    [
        ({"reconciler_mode": "bundled"}, "--reconciler bundled"),
        ({"static_pod_path": "/etc/kubernetes/manifests"}, "staticPodPath /etc/kubernetes/manifests"),
    ],
)
def test_a_setting_that_contradicts_the_record_is_refused(tmp_path: Path, flags: dict[str, str], asked: str) -> None:
    set_up(tmp_path, reconciler_mode="kubelet", static_pod_path=KUBELET_DIR)
    with pytest.raises(ConfigError) as caught:
        node_setup.apply(config(tmp_path, **flags))
    message = caught.value.message
    assert f"set up by kbs with --reconciler kubelet, staticPodPath {KUBELET_DIR}" in message
    assert ledgers.LEDGER_FILE in message and f"asks for {asked}" in message
    assert "kbs reset" in (caught.value.hint or "")


def test_a_kubelet_record_without_a_directory_leaves_it_to_be_found_again(tmp_path: Path) -> None:
    ledgers.record(tmp_path / "var/lib/kbs", [], node={"reconciler": "kubelet"})
    cfg = node_setup.apply(config(tmp_path))
    assert cfg.kbs.reconciler.mode == "kubelet" and cfg.kbs.static_pod_path is None  # not the bundled default


def test_a_bundled_node_with_the_default_directory_changes_nothing(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    node = {"reconciler": "bundled", "staticPodPath": str(cfg.manifests_dir)}
    ledger = ledgers.record(tmp_path / "var/lib/kbs", [], node=node)
    assert ledgers.Ledger.load(ledger.path.parent).node == node
    assert node_setup.apply(cfg) is cfg


def test_no_record_leaves_the_configuration_as_given(tmp_path: Path) -> None:
    cfg = config(tmp_path, reconciler_mode="none")
    assert node_setup.apply(cfg) is cfg


def test_a_record_kbs_would_not_write_is_a_clear_error(tmp_path: Path) -> None:
    ledgers.record(tmp_path / "var/lib/kbs", [], node={"reconciler": "crio"})
    with pytest.raises(ConfigError) as caught:
        node_setup.apply(config(tmp_path))
    assert "node: the record of this node's setup is not one kbs writes" in caught.value.message
    assert "bundled, kubelet, none" in (caught.value.hint or "")


def test_the_record_survives_later_ledger_writes_and_goes_with_the_ledger(tmp_path: Path) -> None:
    cfg = set_up(tmp_path, reconciler_mode="none")
    state_dir = cfg.kbs.reconciler.state_dir
    ledgers.record(state_dir, [cfg.cert_dir / "ca.crt"])  # a later phase, which does not pass the record
    assert ledgers.Ledger.load(state_dir).node == {"reconciler": "none", "staticPodPath": str(cfg.manifests_dir)}
    from bootstrap.phases import reset

    reset.reset(node_setup.apply(config(tmp_path)))
    assert not state_dir.exists()
    assert node_setup.apply(config(tmp_path)).kbs.reconciler.mode == "bundled"
