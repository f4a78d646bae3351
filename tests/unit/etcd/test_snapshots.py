"""Snapshot names, checksums, listing, deleting, retention, the atomic save and the cron schedule (no Docker)."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bootstrap.config import load_config
from bootstrap.config.effective import KbsConfig
from bootstrap.errors import ConfigError
from bootstrap.etcd import save as save_mod
from bootstrap.etcd import schedule, snapshots, tools
from bootstrap.etcd.snapshots import Snapshot, SnapshotError
from tests.unit.phases.conftest import CONFIG


def make_cfg(root: Path, extra: str = "") -> KbsConfig:
    path = root / "kbs.yaml"
    path.write_text(CONFIG.format(root=root, mode="bundled") + extra)
    return load_config(path)


@pytest.fixture
def cfg(tmp_path: Path) -> KbsConfig:
    return make_cfg(tmp_path)


def _snap(name: str, age: int) -> Snapshot:
    return Snapshot(name, Path("/x") / name, 1, datetime.fromtimestamp(1000 + age, UTC), "ok")


def test_names_follow_k3s() -> None:
    assert snapshots.snapshot_name(snapshots.ON_DEMAND, "cp1", 1700000000.7) == "on-demand-cp1-1700000000"
    assert snapshots.snapshot_name(snapshots.SCHEDULED, "cp1", 5) == "scheduled-cp1-5"


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "x.sha256", "-dash"])
def test_bad_names_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid snapshot name"):
        snapshots.check_name(bad)


def test_default_dir_is_under_the_state_dir_and_configurable(tmp_path: Path) -> None:
    assert make_cfg(tmp_path).etcd_snapshot_dir == tmp_path / "var/lib/kbs/etcd-snapshots"
    other = make_cfg(tmp_path, f"etcdSnapshots: {{dir: {tmp_path}/snaps}}\n")
    assert other.etcd_snapshot_dir == tmp_path / "snaps"
    assert other.kbs.etcd_snapshots.schedule_cron == "0 */12 * * *" and other.kbs.etcd_snapshots.retention == 5


def test_retention_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="retention"):
        make_cfg(tmp_path, "etcdSnapshots: {retention: 0}\n")


def test_retention_prunes_oldest_scheduled_of_this_node_only() -> None:
    found = [
        _snap("on-demand-cp1-1", 0),
        _snap("scheduled-cp1-10", 1),
        _snap("scheduled-cp1-30", 3),
        _snap("scheduled-cp1-20", 2),
        _snap("scheduled-cp2-5", 0),
        _snap("my-backup", 0),
    ]
    assert [s.name for s in snapshots.to_prune(found, "cp1", 2)] == ["scheduled-cp1-10"]
    assert [s.name for s in snapshots.to_prune(found, "cp1", 1)] == ["scheduled-cp1-10", "scheduled-cp1-20"]
    assert snapshots.to_prune(found, "cp1", 5) == []


def test_checksum_list_and_delete(tmp_path: Path) -> None:
    snap = tmp_path / "one"
    snap.write_bytes(b"data")
    snapshots.write_checksum(snap, snapshots.sha256_of(snap))
    (tmp_path / "two").write_bytes(b"more")
    (tmp_path / ".three.tmp").write_bytes(b"partial")
    listed = {s.name: s.checksum for s in snapshots.list_snapshots(tmp_path)}
    assert listed == {"one": "ok", "two": "missing"}
    snap.write_bytes(b"dat4")
    assert snapshots.verify_checksum(snap) == "MISMATCH"
    assert stat.S_IMODE(snapshots.checksum_path(snap).stat().st_mode) == 0o600
    assert snapshots.delete(tmp_path, "one") == [tmp_path / "one.sha256", tmp_path / "one"]
    with pytest.raises(SnapshotError, match="no snapshot 'one'"):
        snapshots.delete(tmp_path, "one")
    assert snapshots.list_snapshots(tmp_path / "absent") == []


def _fake_tools(monkeypatch: pytest.MonkeyPatch, *, status_fails: bool = False) -> None:
    def fake_save(cfg: KbsConfig, target: Path) -> None:
        target.write_bytes(b"snapshot bytes")

    def fake_status(cfg: KbsConfig, path: Path) -> dict[str, Any]:
        if status_fails:
            raise SnapshotError("etcdutl snapshot status failed: invalid database")
        return {"revision": 7, "totalKey": 3}

    monkeypatch.setattr(tools, "snapshot_save", fake_save)
    monkeypatch.setattr(tools, "snapshot_status", fake_status)


def test_save_publishes_a_0600_file_with_checksum(cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(monkeypatch)
    saved = save_mod.save(cfg, "backup1")
    assert saved.path == cfg.etcd_snapshot_dir / "backup1" and saved.status["revision"] == 7
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
    assert snapshots.verify_checksum(saved.path) == "ok"
    assert sorted(os.listdir(cfg.etcd_snapshot_dir)) == ["backup1", "backup1.sha256"]
    with pytest.raises(SnapshotError, match="already exists"):
        save_mod.save(cfg, "backup1")


def test_failed_verification_leaves_nothing(cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(monkeypatch, status_fails=True)
    with pytest.raises(SnapshotError, match="invalid database"):
        save_mod.save(cfg, "broken")
    assert os.listdir(cfg.etcd_snapshot_dir) == []


def test_scheduled_run_saves_prunes_and_records(cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(monkeypatch)
    save_mod.save(cfg, "on-demand-node1-1")
    for when in (100.0, 200.0):
        assert schedule.run_once(cfg, when).ok
    cfg2 = make_cfg(cfg.etcd_snapshot_dir.parents[3], "etcdSnapshots: {retention: 2}\n")
    last = schedule.run_once(cfg2, 300.0)
    assert last.ok and last.detail == "scheduled-node1-300" and last.pruned == ["scheduled-node1-100"]
    last = schedule.run_once(cfg2, 400.0)
    assert last.pruned == ["scheduled-node1-200"]
    names = {s.name for s in snapshots.list_snapshots(cfg.etcd_snapshot_dir)}
    assert names == {"on-demand-node1-1", "scheduled-node1-300", "scheduled-node1-400"}
    assert schedule.read_last(cfg2) == last
    assert schedule.summary(cfg2) == "etcd snapshots: last scheduled scheduled-node1-400 at 1970-01-01T00:06:40Z"


def test_scheduled_failure_is_recorded_not_raised(cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(monkeypatch, status_fails=True)
    last = schedule.run_once(cfg, 100.0)
    assert not last.ok and "invalid database" in last.detail
    assert schedule.read_last(cfg) == last
    assert "FAILED: etcdutl snapshot status failed" in (schedule.summary(cfg) or "")


def test_cron_next_time() -> None:
    noon = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    assert schedule.next_time("0 */12 * * *", noon) == noon + 12 * 3600
    assert schedule.next_time("0 */12 * * *", noon - 1) == noon
    assert schedule.next_time("* * * * * */4", noon) == noon + 4


@pytest.mark.parametrize("bad", ["every hour", "61 * * * *", "* * *"])
def test_bad_cron_names_the_field(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"etcdSnapshots\.scheduleCron"):
        schedule.next_time(bad, 0)
