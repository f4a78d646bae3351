"""Restart safety: `kbs reconcile` killed with SIGKILL and started again adopts its pods and restarts nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.real.conftest import TestBed
from tests.support.reconciler import Bed
from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]


BED_PREFIX = "kbs-adopt"  # the node name of this module's beds (the `bed` fixture, tests/real/conftest.py)


def start(bed: Bed, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "bootstrap", "reconcile",
        "--manifest-dir", str(bed.manifests), "--state-dir", str(bed.state), "--node-name", bed.node,
        "--node-ip", "127.0.0.1", "--healthz-port", "0", "--file-check-frequency", "2s",
    ]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def test_reconciler_killed_with_sigkill_adopts_running_pods_without_restarting_them(
    bed: Bed, testbed: TestBed, tmp_path: Path
) -> None:
    image = testbed.images["agnhost"]
    bed.write(
        "web.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  containers:
  - name: web
    image: {image}
    args: ["netexec", "--http-port=8080"]
    readinessProbe: {{httpGet: {{port: 8080, path: /hostname}}, periodSeconds: 1}}
    livenessProbe: {{httpGet: {{port: 8080, path: /hostname}}, periodSeconds: 1}}
""",
    )
    bed.write(
        "sidecar.yaml",
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: side}}\nspec:\n  containers:\n"
        f"  - {{name: a, image: {image}, args: [pause]}}\n  - {{name: b, image: {image}, args: [pause]}}\n",
    )
    log = tmp_path / "reconcile.log"
    first = start(bed, log)
    try:
        wait_until("web ready", lambda: (s := bed.status("web")) is not None and s.ready, timeout=60, interval=0.1)
        wait_until(
            "side running",
            lambda: (s := bed.status("side")) is not None and s.phase == "Running",
            timeout=60,
            interval=0.1,
        )
        before = {(r.id, r.state) for r in bed.containers()}
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    second = start(bed, log)
    try:
        wait_until(
            "second reconciler synced",
            lambda: b"All sources read and every pod synced" in log.read_bytes().split(b"Reconciler started")[-1],
            timeout=60,
            interval=0.1,
        )
        time.sleep(3)  # a few probe periods and a relist
        after = {(r.id, r.state) for r in bed.containers()}
        assert after == before, "the restarted reconciler must not create, restart or remove any container"
        status = bed.status("web")
        assert status is not None and status.ready and status.container_statuses[0].restart_count == 0
        tail = log.read_bytes().split(b"Reconciler started")[-1].decode()
        assert "reason=Created" not in tail and "Killing" not in tail and "Stopping container" not in tail
    finally:
        second.terminate()
        second.wait(20)
