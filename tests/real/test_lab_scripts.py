"""Every shell script of the project passes shellcheck (Debian's, installed by tests/tools.sh).

"Every script" is found, not listed: files git knows (tracked or new, not ignored) named *.sh or starting with a
shell shebang. The lab's scripts are checked to be among them, so the search cannot quietly find nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB_SCRIPTS = {"lab/common.sh", "lab/master.sh", "lab/worker.sh", "lab/show.sh", "tests/tools.sh"}


def _shell_scripts() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    scripts = []
    for name in listed:
        path = ROOT / name
        if not path.is_file():
            continue
        with path.open("rb") as handle:
            first = handle.readline()
        if name.endswith(".sh") or (first.startswith(b"#!") and first.rstrip().endswith((b"bash", b"/sh"))):
            scripts.append(name)
    return sorted(scripts)


def test_every_shell_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed: run tests/tools.sh")
    scripts = _shell_scripts()
    assert set(scripts) >= LAB_SCRIPTS
    # -x follows `. lab/common.sh`; source paths in the scripts are relative to the project root.
    result = subprocess.run([shellcheck, "-x", *scripts], check=False, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
