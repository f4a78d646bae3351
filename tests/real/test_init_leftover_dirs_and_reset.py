"""Directories another tool left empty (as `kubeadm reset` leaves /var/lib/etcd): init, a re-run converges, and
reset empties them again; a static pod whose manifest goes a moment before reset leaves no container behind.

One control plane for the module, on a sandbox root where the etcd data dir and kbs's state, run and log dirs
exist, empty, before the first `kbs init`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.real.conftest import TestBed
from tests.support.control_plane import NODE, Sandbox, exclusive_ports, sandbox
from tests.support.wait import wait_until

LEFTOVER_DIRS = ("var/lib/etcd", "var/lib/kbs", "run/kbs", "var/log/kbs")

# ignores SIGTERM, so the reconciler is still stopping it (30 s grace) when reset begins
STUBBORN = """apiVersion: v1
kind: Pod
metadata:
  name: stubborn
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: main
    image: {image}
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
"""


@pytest.fixture(scope="module")
def box(testbed: TestBed, control_plane_lock: None) -> Iterator[Sandbox]:
    with exclusive_ports(), sandbox(testbed) as created:
        for directory in LEFTOVER_DIRS:
            (created.root / directory).mkdir(parents=True)
        yield created


def _reconciler_containers() -> list[str]:
    client = docker.from_env()
    try:
        return [str(c.name) for c in client.containers.list(all=True, filters={"label": f"io.kbs.reconciler={NODE}"})]
    finally:
        client.close()


def test_init_over_empty_leftover_dirs_converges_when_run_again(box: Sandbox) -> None:
    first = box.kbs("init")
    assert "all 4 components healthy" in first.stdout, first.stdout
    assert any((box.root / "var/lib/etcd").iterdir()), "etcd wrote its data into the directory it found empty"
    again = box.kbs("init")
    assert "all 4 components healthy" in again.stdout, again.stdout
    assert "DirAvailable" not in again.stdout + again.stderr


def test_manifest_removed_right_before_reset_leaves_no_container_and_empty_data_dirs(
    box: Sandbox, testbed: TestBed
) -> None:
    manifest = box.manifests / "stubborn.yaml"
    manifest.write_text(STUBBORN.format(image=testbed.images["agnhost"]))
    wait_until("the stubborn pod running", lambda: box.containers(f"stubborn-{NODE}"))
    manifest.unlink()
    result = box.kbs("reset", "--force")
    counted = re.search(r"\[reset\] removed (\d+) container\(s\)", result.stdout)
    assert counted and int(counted.group(1)) >= 6, result.stdout  # 4 components + stubborn, with their sandboxes
    assert not _reconciler_containers(), "reset must remove every container the reconciler made"
    for directory in LEFTOVER_DIRS:
        path: Path = box.root / directory
        assert path.is_dir() and not any(path.iterdir()), (directory, sorted(p.name for p in path.iterdir()))
    assert "emptied" in result.stdout and str(box.root / "var/lib/etcd") in result.stdout
