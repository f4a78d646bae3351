"""The etcd-join phase against an in-memory etcd membership: learner added once, manifest with the existing
cluster, promotion retried while the learner catches up, and a re-run that changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bootstrap.etcd import members as etcd
from bootstrap.phases import etcd_join
from bootstrap.phases.context import InitData
from tests.support.reporter import Collect
from tests.unit.phases.conftest import make_cfg

FIRST = etcd.Member(0xA1, "cp-1", ("https://10.0.0.1:2380",), ("https://10.0.0.1:2379",), False)
NOT_SYNCED = (
    "etcd /v3/cluster/member/promote: etcdserver: can only promote a learner member which is in sync with leader"
)


class FakeEtcd:
    def __init__(self) -> None:
        self.list = [FIRST]
        self.adds = 0
        self.promote_failures = 2

    def members(self) -> list[etcd.Member]:
        return list(self.list)

    def add_learner(self, url: str) -> tuple[etcd.Member, list[etcd.Member]]:
        self.adds += 1
        new = etcd.Member(0xB2, "", (url,), (), True)
        self.list.append(new)
        return new, list(self.list)

    def remove(self, member_id: int) -> None:
        self.list = [m for m in self.list if m.id != member_id]

    def promote(self, member_id: int) -> None:
        if self.promote_failures:
            self.promote_failures -= 1
            raise etcd.EtcdMemberError(NOT_SYNCED, retryable=True)
        self.list = [
            etcd.Member(m.id, m.name or "node1", m.peer_urls, m.client_urls, False) if m.id == member_id else m
            for m in self.list
        ]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEtcd:
    cluster = FakeEtcd()
    monkeypatch.setattr(etcd, "EtcdCluster", lambda *a, **k: cluster)
    monkeypatch.setattr(etcd_join, "client_endpoints", lambda data: ["https://10.0.0.1:2379"])
    monkeypatch.setattr(etcd_join, "PROMOTE_INTERVAL", 0.0)
    return cluster


def _command(data: InitData) -> list[str]:
    pod = yaml.safe_load((data.cfg.manifests_dir / "etcd.yaml").read_text())
    return [str(a) for a in pod["spec"]["containers"][0]["command"]]


def test_a_learner_is_added_written_with_the_existing_cluster_and_promoted(fake: FakeEtcd, tmp_path: Path) -> None:
    data = InitData(cfg=make_cfg(tmp_path), out=Collect())
    outcome = etcd_join.run(data)
    assert outcome.changed and fake.adds == 1 and not fake.list[1].learner
    command = _command(data)
    assert "--initial-cluster=cp-1=https://10.0.0.1:2380,node1=https://10.0.0.5:2380" in command
    assert "--initial-cluster-state=existing" in command
    assert "added etcd member b2" in data.out.text and "promoted etcd member b2" in data.out.text  # type: ignore[attr-defined]


def test_a_rerun_finds_the_member_adds_nothing_and_keeps_the_manifest(fake: FakeEtcd, tmp_path: Path) -> None:
    etcd_join.run(InitData(cfg=make_cfg(tmp_path), out=Collect()))
    (tmp_path / "var/lib/etcd/member").mkdir(parents=True)  # the member started here
    fake.list.append(etcd.Member(0xC3, "cp-3", ("https://10.0.0.3:2380",), (), False))  # the cluster grew since
    data = InitData(cfg=make_cfg(tmp_path), out=Collect())
    outcome = etcd_join.run(data)
    assert not outcome.changed and fake.adds == 1
    assert "--initial-cluster=cp-1=https://10.0.0.1:2380,node1=https://10.0.0.5:2380" in _command(data)


def test_an_interrupted_join_resumes_with_the_learner_already_there(fake: FakeEtcd, tmp_path: Path) -> None:
    fake.list.append(etcd.Member(0xB2, "", ("https://10.0.0.5:2380",), (), True))
    data = InitData(cfg=make_cfg(tmp_path), out=Collect())
    etcd_join.run(data)
    assert fake.adds == 0 and not fake.list[1].learner
    assert "not adding it again" in data.out.text  # type: ignore[attr-defined]


def test_a_started_member_whose_data_is_gone_is_replaced_by_a_new_learner(fake: FakeEtcd, tmp_path: Path) -> None:
    fake.list.append(etcd.Member(0xD4, "node1", ("https://10.0.0.5:2380",), (), False))  # a reset that kept it
    data = InitData(cfg=make_cfg(tmp_path), out=Collect())
    etcd_join.run(data)
    assert fake.adds == 1 and [m.id for m in fake.list] == [0xA1, 0xB2]
    assert "etcd member d4 has this node's peer URL but no data here" in data.out.text  # type: ignore[attr-defined]
