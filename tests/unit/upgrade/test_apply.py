"""bootstrap.upgrade.apply's journal handling, with a fake observation of the pods (no runtime, no API server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.config import load_config
from bootstrap.config.effective import KbsConfig
from bootstrap.upgrade import waiting
from bootstrap.upgrade.apply import ApplyOptions, apply, current_version
from bootstrap.upgrade.plan import UpgradeError
from bootstrap.upgrade.state import UpgradeState
from tests.support.reporter import Collect


def _cfg(tmp_path: Path, version: str = "v1.37.2") -> KbsConfig:
    config = tmp_path / "kbs.yaml"
    config.write_text(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
        f"kubernetesVersion: {version}\n---\n"
        "apiVersion: kbs.dev/v1alpha1\nkind: KbsConfiguration\n"
        f"kubernetesDir: {tmp_path}/k8s\nreconciler:\n  stateDir: {tmp_path}/state\n"
    )
    return load_config(config)


def _manifest(component: str, tag: str) -> str:
    return f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: registry.k8s.io/{component}:{tag}\n"


def _write(directory: Path, tags: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for component, tag in tags.items():
        (directory / f"{component}.yaml").write_text(_manifest(component, tag))


OLD = {
    "etcd": "3.6.8-0",
    "kube-apiserver": "v1.36.3",
    "kube-controller-manager": "v1.36.3",
    "kube-scheduler": "v1.36.3",
}


def test_current_version_is_kube_apiservers_image_tag(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with pytest.raises(UpgradeError, match="no control plane here"):
        current_version(cfg)
    _write(cfg.manifests_dir, OLD)
    assert current_version(cfg) == "v1.36.3"


def test_an_interrupted_rollback_is_finished_by_the_next_run(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    backup = tmp_path / "backup"
    _write(backup / "manifests", OLD)
    _write(cfg.manifests_dir, {**OLD, "etcd": "3.7.0-0", "kube-apiserver": "v1.37.2"})
    state_dir = cfg.kbs.reconciler.state_dir
    state_dir.mkdir(parents=True)
    UpgradeState("v1.37.2", "v1.36.3", str(backup), "rolling-back", ["etcd", "kube-apiserver"]).save(state_dir)
    seen: list[str] = []

    def observe(_cfg: KbsConfig, _api: object, component: str) -> waiting.Observation:
        seen.append(component)
        return waiting.Observation("h", (f"registry.k8s.io/{component}:{OLD[component]}",), True)

    out = Collect()
    with pytest.raises(UpgradeError, match=r"was rolled back; the node runs v1\.36\.3 again"):
        apply(cfg, ApplyOptions("v1.37.2", timeout=5), out, observe=observe)
    for component, tag in OLD.items():
        assert (cfg.manifests_dir / f"{component}.yaml").read_text() == _manifest(component, tag)
    assert seen[0] == "kube-apiserver" and seen[-1] == "etcd"  # last written, first restored
    assert UpgradeState.load(state_dir) is None


def test_another_target_while_a_journal_exists_is_refused(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "v1.37.1")
    state_dir = cfg.kbs.reconciler.state_dir
    state_dir.mkdir(parents=True)
    UpgradeState("v1.37.2", "v1.36.3", str(tmp_path / "b")).save(state_dir)
    with pytest.raises(UpgradeError, match=r"an upgrade to v1.37.2 was interrupted") as info:
        apply(cfg, ApplyOptions("v1.37.1"), Collect())
    assert "kbs upgrade apply v1.37.2" in (info.value.hint or "")


def test_skipping_a_minor_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    _write(cfg.manifests_dir, {**OLD, "kube-apiserver": "v1.35.4"})
    before = {p.name: p.read_text() for p in cfg.manifests_dir.iterdir()}
    with pytest.raises(UpgradeError, match="one minor at a time"):
        apply(cfg, ApplyOptions("v1.37.2"), Collect())
    assert {p.name: p.read_text() for p in cfg.manifests_dir.iterdir()} == before
    assert not (tmp_path / "k8s/tmp").exists()
