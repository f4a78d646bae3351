"""An init killed mid-way (SIGKILL) completes when run again; `kbs reset` then leaves no container and no file.

One control plane for the module, brought up the hard way: `kbs init` is killed in the certs phase and again
while waiting for the control plane, and each re-run must pick up where the previous one stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.real.conftest import TestBed
from tests.support.control_plane import REPO, Sandbox, exclusive_ports, sandbox
from tests.support.wait import wait_until


@pytest.fixture(scope="module")
def box(testbed: TestBed, control_plane_lock: None) -> Iterator[Sandbox]:
    with exclusive_ports(), sandbox(testbed) as created:
        yield created


def _kill_init_when(box: Sandbox, marker: str) -> str:
    """Start `kbs init`, SIGKILL it as soon as `marker` appears in its output; returns the output so far."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "bootstrap", "init", "--config", str(box.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    seen = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    output = "".join(seen)
    if marker not in output:
        pytest.fail(f"kbs init ended before {marker!r}:\n{output}")
    return output


def test_init_killed_during_certs_completes_when_run_again(box: Sandbox) -> None:
    _kill_init_when(box, "[certs] apiserver:")
    assert (box.root / "etc/kubernetes/pki/ca.crt").exists()
    ca_before = (box.root / "etc/kubernetes/pki/ca.key").read_bytes()
    _kill_init_when(box, "[wait-control-plane] waiting")
    result = box.kbs("init")
    assert "all 4 components healthy" in result.stdout, result.stdout
    assert (box.root / "etc/kubernetes/pki/ca.key").read_bytes() == ca_before, "the CA key must never be replaced"
    status = box.status()
    assert all(c["healthy"] for c in status["components"]), status


def test_reset_leaves_no_container_and_no_kbs_file(box: Sandbox) -> None:
    wait_until("a healthy control plane", lambda: all(c["healthy"] for c in box.status()["components"]))
    result = box.kbs("reset", "--force")
    assert "removed container" in result.stdout and "ca.key" in result.stdout
    assert not box.containers(running_only=False), "no container of this node may remain"
    leftovers = sorted(str(p.relative_to(box.root)) for p in box.root.rglob("*"))
    assert leftovers == ["kbs.yaml"], leftovers
    again = box.kbs("reset", "--force")
    assert "nothing to remove" in again.stdout
