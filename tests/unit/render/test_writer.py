"""Manifests land atomically with kubeadm's modes, report what changed, and dry-run diffs touch nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bootstrap.config import Overrides
from bootstrap.errors import FileWriteError
from bootstrap.render import Change, as_stream, diff_manifests, write_manifests
from tests.unit.render.conftest import Render


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_write_creates_a_0700_directory_with_0600_files(render: Render, tmp_path: Path) -> None:
    target = tmp_path / "etc" / "manifests"
    changes = write_manifests(render(), target)
    assert [c.change for c in changes] == [Change.CREATED] * 4
    assert _mode(target) == 0o700
    assert sorted(p.name for p in target.iterdir()) == [
        "etcd.yaml",
        "kube-apiserver.yaml",
        "kube-controller-manager.yaml",
        "kube-scheduler.yaml",
    ]
    assert {_mode(p) for p in target.iterdir()} == {0o600}


def test_rewriting_the_same_manifests_touches_no_file(render: Render, tmp_path: Path) -> None:
    manifests = render()
    write_manifests(manifests, tmp_path)
    inodes = {p.name: p.stat().st_ino for p in tmp_path.iterdir()}
    changes = write_manifests(manifests, tmp_path)
    assert {c.change for c in changes} == {Change.UNCHANGED}
    assert {p.name: p.stat().st_ino for p in tmp_path.iterdir()} == inodes


def test_a_changed_manifest_is_replaced_by_rename_and_leaves_no_temporary_file(render: Render, tmp_path: Path) -> None:
    write_manifests(render(), tmp_path)
    before = (tmp_path / "kube-controller-manager.yaml").stat().st_ino
    changes = write_manifests(render(Overrides(pod_network_cidr="10.244.0.0/16")), tmp_path)
    assert {c.component: c.change for c in changes}["kube-controller-manager"] is Change.UPDATED
    assert {c.component: c.change for c in changes}["kube-scheduler"] is Change.UNCHANGED
    assert (tmp_path / "kube-controller-manager.yaml").stat().st_ino != before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_unwritable_target_fails_before_any_file(render: Render, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(FileWriteError, match="is not a directory"):
        write_manifests(render(), blocker / "manifests")
    assert blocker.read_text() == "not a directory"


def test_diff_shows_only_files_that_exist_and_differ(render: Render, tmp_path: Path) -> None:
    write_manifests(render(components=["kube-scheduler", "kube-apiserver"]), tmp_path)
    changed = render(Overrides(service_cidr="10.100.0.0/16"))
    diff = diff_manifests(changed, tmp_path)
    assert "-    - --service-cluster-ip-range=10.96.0.0/12" in diff
    assert "+    - --service-cluster-ip-range=10.100.0.0/16" in diff
    assert "kube-scheduler" not in diff and "etcd.yaml" not in diff


def test_stream_is_one_multi_document_yaml(render: Render) -> None:
    import yaml

    docs = list(yaml.safe_load_all(as_stream(render())))
    assert [d["metadata"]["name"] for d in docs] == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ]
