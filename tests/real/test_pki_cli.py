"""`kbs certs` as a process on the real machine: killed mid-run, or facing a read-only file system.

A SIGKILL at any moment must leave only whole files (each parses), and the next run completes the tree. A
read-only directory is a one-line error before anything is written. The read-only tmpfs is unmounted at the end.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

FLAGS = ["--advertise-address", "192.0.2.10", "--node-name", "node-a"]


def kbs_argv(kdir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bootstrap", "certs", "generate", "--cert-dir", str(kdir / "pki"),
            "--kubernetes-dir", str(kdir), *FLAGS, *extra]  # fmt: skip


def assert_whole(kdir: Path) -> None:
    """Every file kbs left parses completely, and no temporary file is left visible to readers."""
    for path in kdir.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        data = path.read_bytes()
        if path.suffix == ".crt":
            x509.load_pem_x509_certificate(data)
        elif path.suffix == ".key":
            serialization.load_pem_private_key(data, None)
        elif path.suffix == ".pub":
            serialization.load_pem_public_key(data)
        else:
            assert yaml.safe_load(data)["kind"] == "Config"


def entries(kdir: Path) -> int:
    with contextlib.suppress(OSError):
        return sum(1 for _ in kdir.rglob("*"))
    return 0


@pytest.mark.parametrize("seen", [1, 6, 20])
def test_a_run_killed_while_writing_leaves_whole_files_and_the_next_run_completes(tmp_path: Path, seen: int) -> None:
    """SIGKILL once `seen` entries (temporary files included) exist under the tree: in the middle of writing."""
    kdir = tmp_path / "k8s"
    proc = subprocess.Popen(kbs_argv(kdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and entries(kdir) < seen:
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if kdir.exists():
        assert_whole(kdir)
    done = subprocess.run(kbs_argv(kdir), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert_whole(kdir)
    assert not [p.name for p in kdir.rglob(".*")], "stale temporary files are cleaned up"
    again = subprocess.run(kbs_argv(kdir), capture_output=True, text=True, check=False)
    assert again.stdout.splitlines()[-1] == "0 created, 16 kept"


@contextlib.contextmanager
def read_only_tmpfs(path: Path) -> Iterator[Path]:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_a_read_only_directory_is_a_one_line_error_and_nothing_is_written(tmp_path: Path) -> None:
    with read_only_tmpfs(tmp_path / "ro") as ro:
        result = subprocess.run(kbs_argv(ro), capture_output=True, text=True, check=False)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            f"error: cannot write to {ro}: read-only file system",
            "hint: choose a writable directory",
        ]
        assert list(ro.iterdir()) == []
