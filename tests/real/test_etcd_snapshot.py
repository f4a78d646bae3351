"""`kbs etcd snapshot save|list|delete|restore` and scheduled snapshots on a real control plane.

One sandboxed control plane for the module (tests/real/test_init_support.py). Tests run in file order: save and
list, a restore that brings a deleted namespace back, a damaged snapshot refused, delete, then the schedule (which
re-runs `kbs init` with a KbsConfiguration that snapshots every few seconds and keeps two).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.real.conftest import TestBed
from tests.support.control_plane import NODE, REPO, Sandbox, initialised
from tests.support.wait import wait_until


@pytest.fixture(scope="module")
def cp(testbed: TestBed, control_plane_lock: None) -> Iterator[Sandbox]:
    with initialised(testbed) as box:
        yield box


def _snapdir(cp: Sandbox) -> Path:
    return cp.root / "var/lib/kbs/etcd-snapshots"


def _list(cp: Sandbox) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(cp.kbs("etcd", "snapshot", "list", "-o", "json").stdout)
    return found


def _healthy(cp: Sandbox) -> bool:
    return all(c["healthy"] for c in cp.status()["components"])


def _old_dirs(cp: Sandbox) -> list[Path]:
    return sorted((cp.root / "var/lib").glob("etcd-old-*"))


def test_save_writes_a_private_snapshot_with_checksum_that_list_shows(cp: Sandbox) -> None:
    result = cp.kbs("etcd", "snapshot", "save")
    snapshot = next(p for p in _snapdir(cp).glob(f"on-demand-{NODE}-*") if p.suffix != ".sha256")
    assert str(snapshot) in result.stdout
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    checksum = snapshot.with_name(snapshot.name + ".sha256").read_text().split()
    assert checksum[1] == snapshot.name and len(checksum[0]) == 64
    listed = {s["name"]: s for s in _list(cp)}
    assert listed[snapshot.name]["checksum"] == "ok" and listed[snapshot.name]["size"] == snapshot.stat().st_size
    assert snapshot.name in cp.kbs("etcd", "snapshot", "list").stdout
    assert not [p for p in _snapdir(cp).iterdir() if p.name.startswith(".")], "no temp files left"


def test_restore_brings_back_a_deleted_namespace_and_keeps_the_old_data(cp: Sandbox) -> None:
    cp.kubectl("create", "namespace", "snap-test")
    cp.kubectl("-n", "snap-test", "create", "configmap", "keep-me", "--from-literal=answer=42")
    cp.kbs("etcd", "snapshot", "save", "with-namespace")
    cp.kubectl("delete", "namespace", "snap-test", "--wait=true", "--timeout=120s")
    assert cp.kubectl("get", "namespace", "snap-test", check=False).returncode != 0

    result = cp.kbs("etcd", "snapshot", "restore", "with-namespace")
    assert "restored" in result.stdout, result.stdout
    old = _old_dirs(cp)
    assert len(old) == 1 and (old[0] / "member").is_dir(), "the old data dir is kept beside the new one"
    assert (cp.manifests / "etcd.yaml").is_file()

    answer = wait_until(
        "the restored configmap",
        lambda: (
            cp.kubectl(
                "-n", "snap-test", "get", "configmap", "keep-me", "-o", "jsonpath={.data.answer}", check=False
            ).stdout
        ),
    )
    assert answer == "42"
    wait_until("every component healthy after the restore", lambda: _healthy(cp))


def test_a_killed_restore_is_finished_by_running_it_again(cp: Sandbox) -> None:
    cp.kubectl("-n", "snap-test", "create", "configmap", "after-snapshot", "--from-literal=x=y")
    env = {**os.environ, "PATH": f"{cp.testbed.bin_dir}:{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-m", "bootstrap", "etcd", "snapshot", "restore", "with-namespace"]
    process = subprocess.Popen([*command, "--config", str(cp.config)], cwd=REPO, env=env)
    parked = cp.root / "var/lib/kbs/etcd-restore/etcd.yaml"
    try:
        wait_until("the etcd manifest parked by the restore", parked.exists, interval=0.05)
    finally:
        process.kill()
        process.wait()
    assert not (cp.manifests / "etcd.yaml").exists(), "killed while etcd was stopped"

    result = cp.kbs("etcd", "snapshot", "restore", "with-namespace")
    assert "resuming the interrupted restore" in result.stdout
    assert (cp.manifests / "etcd.yaml").is_file() and not parked.exists()
    assert len(_old_dirs(cp)) == 2, "each restore keeps the data it replaced"
    wait_until("every component healthy after the resumed restore", lambda: _healthy(cp))
    configmaps = wait_until(
        "the API server serving the restored data",
        lambda: cp.kubectl("-n", "snap-test", "get", "configmaps", "-o", "name", check=False).stdout,
    )
    assert "configmap/keep-me" in configmaps and "after-snapshot" not in configmaps


def test_damaged_snapshot_is_refused_and_nothing_changes(cp: Sandbox) -> None:
    good = _snapdir(cp) / "with-namespace"
    bad = _snapdir(cp) / "damaged"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    bad.with_name("damaged.sha256").write_text(good.with_name("with-namespace.sha256").read_text())
    before = _old_dirs(cp)

    result = cp.kbs("etcd", "snapshot", "restore", str(bad), check=False)
    assert result.returncode == 1
    assert "does not match its checksum" in result.stderr and "refusing to restore" in result.stderr
    assert _old_dirs(cp) == before
    assert (cp.manifests / "etcd.yaml").is_file()
    assert not (cp.root / "var/lib/kbs/etcd-restore").exists()
    assert next(s for s in _list(cp) if s["name"] == "damaged")["checksum"] == "MISMATCH"
    assert _healthy(cp)


def test_delete_removes_snapshot_and_checksum(cp: Sandbox) -> None:
    result = cp.kbs("etcd", "snapshot", "delete", "damaged")
    assert "damaged.sha256" in result.stdout
    assert not (_snapdir(cp) / "damaged").exists() and not (_snapdir(cp) / "damaged.sha256").exists()
    assert "damaged" not in {s["name"] for s in _list(cp)}
    missing = cp.kbs("etcd", "snapshot", "delete", "damaged", check=False)
    assert missing.returncode == 1 and "no snapshot 'damaged'" in missing.stderr


def test_scheduled_snapshots_appear_and_retention_prunes_only_the_oldest_scheduled(cp: Sandbox) -> None:
    on_demand = {s["name"] for s in _list(cp)}
    text = cp.config.read_text()
    # every 4 seconds (croniter's trailing seconds field), keep 2
    cp.config.write_text(
        text.replace("reconciler:\n", "etcdSnapshots:\n  scheduleCron: '* * * * * */4'\n  retention: 2\nreconciler:\n")
    )
    try:
        cp.kbs("init")  # the changed configuration restarts the reconciler with the schedule

        def scheduled() -> list[str]:
            return [s["name"] for s in _list(cp) if s["name"].startswith(f"scheduled-{NODE}-")]

        first = wait_until("a first scheduled snapshot", scheduled, timeout=120)[0]
        wait_until("the first scheduled snapshot pruned", lambda: first not in scheduled(), timeout=120)
        assert len(scheduled()) <= 2
        assert on_demand <= {s["name"] for s in _list(cp)}, "retention never deletes on-demand snapshots"
        last = json.loads((cp.root / "var/lib/kbs/etcd-snapshot-schedule.json").read_text())
        assert last["ok"] is True
        assert "etcd snapshots: last scheduled scheduled-" in cp.kbs("status", check=False).stdout
    finally:
        cp.config.write_text(text)
        cp.kbs("init")
