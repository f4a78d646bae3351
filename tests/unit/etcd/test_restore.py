"""The restore state machine: every on-disk state maps to the steps left, and a run from any state converges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bootstrap.config.effective import KbsConfig
from bootstrap.etcd import restore, snapshots, tools
from bootstrap.etcd.restore import Observed, Restorer, Step
from bootstrap.etcd.snapshots import SnapshotError
from tests.unit.etcd.test_snapshots import make_cfg

S = Step
TAIL = [S.WAIT_HEALTHY, S.FINISH]


@pytest.mark.parametrize(
    ("seen", "steps"),
    [
        # nothing done yet
        (
            Observed(True, False, True, False),
            [S.PARK_MANIFEST, S.WAIT_STOPPED, S.MOVE_DATA_ASIDE, S.RESTORE, S.UNPARK_MANIFEST, *TAIL],
        ),
        # interrupted after parking the manifest
        (Observed(False, True, True, False), [S.WAIT_STOPPED, S.MOVE_DATA_ASIDE, S.RESTORE, S.UNPARK_MANIFEST, *TAIL]),
        # interrupted after moving the data aside (or during etcdutl)
        (Observed(False, True, False, True), [S.WAIT_STOPPED, S.RESTORE, S.UNPARK_MANIFEST, *TAIL]),
        # restored, manifest still parked
        (Observed(False, True, True, True), [S.UNPARK_MANIFEST, *TAIL]),
        # everything done but waiting for health
        (Observed(True, False, True, True), TAIL),
    ],
)
def test_plan_resumes_from_every_state(seen: Observed, steps: list[Step]) -> None:
    assert restore.plan(seen) == steps


MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {{name: etcd, namespace: kube-system}}
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.7.0-0
    command:
    - etcd
    - --data-dir={data}
    - --initial-advertise-peer-urls=https://10.0.0.5:2380
    - --initial-cluster={cluster}
    - --name=node1
"""


def _node(tmp_path: Path, cluster: str = "node1=https://10.0.0.5:2380") -> KbsConfig:
    cfg = make_cfg(tmp_path)
    cfg.manifests_dir.mkdir(parents=True)
    (cfg.manifests_dir / "etcd.yaml").write_text(MANIFEST.format(data=cfg.etcd_data_dir, cluster=cluster))
    (cfg.etcd_data_dir / "member").mkdir(parents=True)
    (cfg.etcd_data_dir / "member/old").write_text("old data")
    snap = cfg.etcd_snapshot_dir / "snap1"
    snap.parent.mkdir(parents=True)
    snap.write_bytes(b"snapshot")
    snapshots.write_checksum(snap, snapshots.sha256_of(snap))
    return cfg


class FakeNode:
    """etcdutl, etcdctl and the waits replaced; `fail_restore` makes etcdutl fail once (an interruption)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, members: int = 1) -> None:
        self.fail_restore = False
        self.restored: list[Path] = []
        monkeypatch.setattr(tools, "snapshot_status", lambda cfg, path: {"revision": 1})
        monkeypatch.setattr(tools, "member_count", lambda cfg: members)
        monkeypatch.setattr(tools, "current_revision", lambda cfg, data_dir: 500)
        monkeypatch.setattr(tools, "snapshot_restore", self._restore)
        monkeypatch.setattr(Restorer, "_wait_stopped", lambda self, journal: None)
        monkeypatch.setattr(Restorer, "_wait_healthy", lambda self, journal: None)

    def _restore(self, cfg: Any, snapshot: Path, data_dir: Path, *, name: str, peer_urls: str, bump: int) -> None:
        data_dir.mkdir()
        (data_dir / "member").mkdir()
        if self.fail_restore:
            self.fail_restore = False
            raise SnapshotError("etcdutl snapshot restore failed: interrupted")
        assert (name, peer_urls, bump) == ("node1", "https://10.0.0.5:2380", 500 + tools.BUMP_MARGIN)
        (data_dir / "member/restored").write_text("new")
        self.restored.append(snapshot)


def test_restore_moves_data_aside_restores_and_puts_the_manifest_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _node(tmp_path)
    node = FakeNode(monkeypatch)
    journal = Restorer(cfg).run(cfg.etcd_snapshot_dir / "snap1")
    assert (cfg.etcd_data_dir / "member/restored").exists()
    assert (journal.old_dir / "member/old").read_text() == "old data"
    assert (cfg.manifests_dir / "etcd.yaml").exists()
    assert not (cfg.kbs.reconciler.state_dir / "etcd-restore").exists()
    assert node.restored == [(cfg.etcd_snapshot_dir / "snap1").resolve()]


def test_an_interrupted_restore_is_finished_by_a_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _node(tmp_path)
    node = FakeNode(monkeypatch)
    node.fail_restore = True
    snap = cfg.etcd_snapshot_dir / "snap1"
    with pytest.raises(SnapshotError, match="interrupted"):
        Restorer(cfg).run(snap)
    assert not (cfg.manifests_dir / "etcd.yaml").exists(), "etcd stays stopped until the restore is done"
    other = cfg.etcd_snapshot_dir / "snap2"
    other.write_bytes(b"x")
    with pytest.raises(SnapshotError, match="is in progress"):
        Restorer(cfg).run(other)
    lines: list[str] = []
    journal = Restorer(cfg, lines.append).run(snap)
    assert lines[0].startswith("resuming")
    assert (cfg.etcd_data_dir / "member/restored").exists()
    assert not Path(f"{cfg.etcd_data_dir}.restoring").exists()
    assert (journal.old_dir / "member/old").exists() and (cfg.manifests_dir / "etcd.yaml").exists()


def test_damaged_snapshot_is_refused_before_anything_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _node(tmp_path)
    FakeNode(monkeypatch)
    snap = cfg.etcd_snapshot_dir / "snap1"
    snap.write_bytes(b"snapshoT")
    with pytest.raises(SnapshotError, match="does not match its checksum"):
        Restorer(cfg).run(snap)
    assert (cfg.manifests_dir / "etcd.yaml").exists() and (cfg.etcd_data_dir / "member/old").exists()
    assert not (cfg.kbs.reconciler.state_dir / "etcd-restore").exists()


@pytest.mark.parametrize(
    ("members", "cluster"),
    [(3, "node1=https://10.0.0.5:2380"), (0, "node1=https://10.0.0.5:2380,node2=https://10.0.0.6:2380")],
)
def test_multi_member_cluster_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, members: int, cluster: str
) -> None:
    cfg = _node(tmp_path, cluster)
    FakeNode(monkeypatch, members=members)
    with pytest.raises(SnapshotError, match="a restore makes this member a one-member cluster") as info:
        Restorer(cfg).run(cfg.etcd_snapshot_dir / "snap1")
    assert "--cluster-reset" in (info.value.hint or "") and "kbs reset --force" in (info.value.hint or "")
    assert (cfg.manifests_dir / "etcd.yaml").exists()


def test_cluster_reset_makes_a_joined_member_a_one_member_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _node(tmp_path, "node2=https://10.0.0.6:2380,node1=https://10.0.0.5:2380")
    path = cfg.manifests_dir / "etcd.yaml"
    path.write_text(path.read_text() + "    - --initial-cluster-state=existing\n")
    FakeNode(monkeypatch, members=3)
    lines: list[str] = []
    Restorer(cfg, lines.append, cluster_reset=True).run(cfg.etcd_snapshot_dir / "snap1")
    assert (cfg.etcd_data_dir / "member/restored").exists()
    text = path.read_text()
    assert "    - --initial-cluster=node1=https://10.0.0.5:2380\n" in text
    assert "initial-cluster-state" not in text and "node2" not in text
    assert "cluster reset: the 3-member cluster becomes node1 alone" in lines


def test_manifest_without_name_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "etcd.yaml"
    path.write_text("spec: {containers: [{command: [etcd, --data-dir=/x]}]}\n")
    with pytest.raises(SnapshotError, match="--name, --initial-advertise-peer-urls"):
        restore.member_from_manifest(path)
