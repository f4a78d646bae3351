"""`pip install .` and `pipx install .` give a working `kbs` in a fresh environment, away from the checkout.

Both download the build backend and the dependencies from the package index, as they do for a user: that is why
this is a real test (the offline wheel checks are tests/unit/packaging/test_wheel.py). Everything runs from a
directory outside the checkout, so `bootstrap` can only come from the installed wheel, and `kbs render` proves
that the wheel's templates are found and render. pipx is Debian's (tests/tools.sh installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bootstrap
from bootstrap import constants

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{' '.join(map(str, args))}:\n{result.stdout}{result.stderr}"
    return result.stdout


def _assert_working_kbs(kbs: Path, python: Path, workdir: Path, prefix: Path) -> None:
    assert _run(kbs, "--version", cwd=workdir) == f"kbs, version {bootstrap.__version__}\n"
    assert "init" in _run(kbs, "--help", cwd=workdir)
    imported = Path(_run(python, "-c", "import bootstrap; print(bootstrap.__file__)", cwd=workdir).strip())
    assert prefix in imported.parents, f"bootstrap imported from {imported}, not from the installation"
    manifests = workdir / "manifests"
    render = ("render", "--output-dir", manifests, "--advertise-address", "192.0.2.10", "--node-name", "pkg")
    _run(kbs, *render, cwd=workdir)
    assert sorted(p.name for p in manifests.iterdir()) == sorted(f"{c}.yaml" for c in constants.ALL_COMPONENTS)


def test_pip_install_into_a_fresh_venv_gives_a_working_kbs(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", ROOT, cwd=tmp_path)
    _assert_working_kbs(venv / "bin" / "kbs", venv / "bin" / "python", tmp_path, venv)


def test_pipx_install_gives_a_working_kbs_command(tmp_path: Path) -> None:
    pipx = shutil.which("pipx")
    if pipx is None:
        pytest.fail("pipx is not installed: run tests/tools.sh")
    home, bin_dir = tmp_path / "pipx", tmp_path / "bin"
    env = {**os.environ, "PIPX_HOME": str(home), "PIPX_BIN_DIR": str(bin_dir)}
    _run(pipx, "install", "--python", sys.executable, ROOT, cwd=tmp_path, env=env)
    assert "kbs-bootstrap" in _run(pipx, "list", "--short", cwd=tmp_path, env=env)
    venv = home / "venvs" / "kbs-bootstrap"
    _assert_working_kbs(bin_dir / "kbs", venv / "bin" / "python", tmp_path, venv)
