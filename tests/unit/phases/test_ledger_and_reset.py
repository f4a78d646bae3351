"""The ledger classifies paths before kbs writes them; reset removes exactly the `created` ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.config.effective import KbsConfig
from bootstrap.phases import ledger as ledgers
from bootstrap.phases import reset as resets
from bootstrap.phases import supervise


def test_existing_paths_are_foreign_and_missing_ones_with_their_parents_are_kbs(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    operator_ca = tmp_path / "etc" / "ca.crt"
    operator_ca.write_text("theirs")
    ledger = ledgers.record(tmp_path / "state", [operator_ca, tmp_path / "etc" / "k8s" / "pki" / "apiserver.crt"])
    assert ledger.kind(operator_ca) == "foreign"
    assert ledger.owns(tmp_path / "etc" / "k8s" / "pki" / "apiserver.crt")
    assert ledger.owns(tmp_path / "etc" / "k8s") and ledger.owns(tmp_path / "etc" / "k8s" / "pki")
    assert not ledger.owns(tmp_path / "etc")


def test_a_path_keeps_its_first_class_after_kbs_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "f"
    ledgers.record(tmp_path / "state", [path])
    path.write_text("kbs's")
    assert ledgers.record(tmp_path / "state", [path]).owns(path)


def test_adopt_makes_a_foreign_manifest_kbs_s(tmp_path: Path) -> None:
    path = tmp_path / "etcd.yaml"
    path.write_text("x")
    ledger = ledgers.record(tmp_path / "state", [path])
    ledger.adopt(path)
    ledger.save()
    assert ledgers.Ledger.load(tmp_path / "state").owns(path)


def test_reset_removes_what_kbs_created_and_keeps_the_rest(cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervise, "stop", lambda cfg: None)
    manifests = cfg.manifests_dir
    manifests.mkdir(parents=True)
    users_pod = manifests / "static-web.yaml"
    users_pod.write_text("the operator's own static pod")
    ours = [manifests / "etcd.yaml", cfg.cert_dir / "ca.crt", cfg.kubeconfig("admin.conf")]
    ledgers.record(cfg.kbs.reconciler.state_dir, [manifests, *ours, cfg.etcd_data_dir])
    for path in ours:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("kbs")
    (cfg.etcd_data_dir / "member").mkdir(parents=True)

    report = resets.reset(cfg)

    assert users_pod.exists() and manifests.is_dir()
    assert not any(p.exists() for p in ours)
    assert not cfg.etcd_data_dir.exists() and not cfg.cert_dir.exists()
    assert not cfg.kbs.reconciler.state_dir.exists()
    assert str(manifests / "etcd.yaml") in report.files
    assert any(str(cfg.etcd_data_dir) in d for d in report.directories)
    assert not report.containers  # reconciler mode none in this config: no containers are touched


def test_reset_without_a_ledger_removes_nothing(cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervise, "stop", lambda cfg: None)
    cfg.cert_dir.mkdir(parents=True)
    (cfg.cert_dir / "ca.crt").write_text("someone's")
    report = resets.reset(cfg)
    assert (cfg.cert_dir / "ca.crt").exists()
    assert not report.files and any("no ledger" in n for n in report.notes)


def test_an_empty_data_dir_kbs_finds_is_classed_contents_also_after_a_foreign_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "var-lib-etcd"
    data_dir.mkdir()
    ledger = ledgers.record(tmp_path / "state", [], data_dirs=[data_dir])
    assert ledger.kind(data_dir) == "contents" and ledger.owns_contents(data_dir) and not ledger.owns(data_dir)
    (data_dir / "member").mkdir()
    assert ledgers.record(tmp_path / "state", [], data_dirs=[data_dir]).kind(data_dir) == "contents"
    other = tmp_path / "other"
    other.mkdir()
    (other / "theirs").write_text("x")
    assert ledgers.record(tmp_path / "state", [], data_dirs=[other]).kind(other) == "foreign"
    (other / "theirs").unlink()  # emptied since: what comes next is kbs's
    assert ledgers.record(tmp_path / "state", [], data_dirs=[other]).kind(other) == "contents"


def test_reset_empties_the_data_dirs_kbs_found_empty_and_keeps_them(
    cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervise, "stop", lambda cfg: None)
    state = cfg.kbs.reconciler.state_dir
    for directory in (cfg.etcd_data_dir, state):
        directory.mkdir(parents=True)
    ledgers.record(state, [], data_dirs=[cfg.etcd_data_dir])
    (cfg.etcd_data_dir / "member" / "snap").mkdir(parents=True)
    (state / "pods").mkdir()

    report = resets.reset(cfg)

    assert cfg.etcd_data_dir.is_dir() and not any(cfg.etcd_data_dir.iterdir())
    assert state.is_dir() and not any(state.iterdir())
    assert any(str(cfg.etcd_data_dir) in e for e in report.emptied)


def test_reset_lists_again_until_no_container_of_the_reconciler_is_left(
    cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bootstrap.phases import containers

    def box(cid: str, reconciler: str) -> containers.Container:
        return containers.Container(cid, f"k8s_c_p_ns_{cid}", "p", "ns", "c", "exited", 0, 0, None, "img", reconciler)

    listings = [[box("a", cfg.node_name), box("z", "another-node")], [box("b", cfg.node_name)], []]
    removed: list[str] = []
    monkeypatch.setattr(containers, "list_pod_containers", lambda cfg: listings.pop(0))

    def remove(cfg: KbsConfig, found: list[containers.Container]) -> list[containers.Container]:
        removed.extend(c.id for c in found)
        return found

    monkeypatch.setattr(containers, "remove", remove)
    report = resets.ResetReport()
    resets.remove_containers(cfg, report)
    assert removed == ["a", "b"] and len(report.containers) == 2
