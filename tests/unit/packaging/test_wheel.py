"""The wheel is what `pip install .` and `pipx install .` install: it must carry the templates and the data files.

The wheel is built offline with the project's own build backend (hatchling, a dev dependency) and
`--no-build-isolation`: the same build pip runs for users, minus downloading hatchling. Installing it into a fresh
environment needs the dependencies from the package index: tests/real/test_packaging_install.py does that.
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from configparser import ConfigParser
from pathlib import Path

import pytest

import bootstrap
from bootstrap import constants

ROOT = Path(__file__).resolve().parents[3]
DISTRIBUTION = "kbs-bootstrap"  # `kbs` on the package index is an unrelated project; the command stays `kbs`


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run([*command, "--wheel-dir", str(out), str(ROOT)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


def _source_files(top: Path) -> set[str]:
    """Files under `top` that belong in a wheel, relative to ROOT (no byte code, no caches)."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in top.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_wheel_metadata_names_the_distribution_and_the_package_version(wheel: zipfile.ZipFile) -> None:
    metadata = email.parser.Parser().parsestr(_dist_info(wheel, "METADATA"))
    assert metadata["Name"] == DISTRIBUTION
    assert metadata["Version"] == bootstrap.__version__
    assert metadata["Requires-Python"] == ">=3.11"


def test_wheel_installs_the_kbs_command(wheel: zipfile.ZipFile) -> None:
    entry_points = ConfigParser()
    entry_points.read_string(_dist_info(wheel, "entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == {"kbs": "bootstrap.cli.main:main"}


def test_wheel_carries_the_manifest_templates_under_bootstrap_templates(wheel: zipfile.ZipFile) -> None:
    templates = ROOT / "templates"
    expected = {f"bootstrap/{name}" for name in _source_files(templates)}
    packaged = {n for n in wheel.namelist() if n.startswith("bootstrap/templates/")}
    assert packaged == expected
    for component in constants.ALL_COMPONENTS:
        name = f"bootstrap/templates/manifests/{component}.yaml.j2"
        assert wheel.read(name) == (ROOT / "templates" / "manifests" / f"{component}.yaml.j2").read_bytes()


def test_wheel_carries_every_module_and_data_file_of_bootstrap_and_pki(wheel: zipfile.ZipFile) -> None:
    # Data files too: versions.toml (the version table), the render layer's Pod schemas.
    expected = _source_files(ROOT / "bootstrap") | _source_files(ROOT / "pki")
    assert "bootstrap/versions.toml" in expected
    assert expected <= set(wheel.namelist())


def test_wheel_carries_nothing_from_outside_the_two_packages(wheel: zipfile.ZipFile) -> None:
    top_levels = {name.split("/")[0] for name in wheel.namelist()}
    assert top_levels == {"bootstrap", "pki", f"{DISTRIBUTION.replace('-', '_')}-{bootstrap.__version__}.dist-info"}


def test_wheel_ships_no_test_doubles_or_test_helpers(wheel: zipfile.ZipFile) -> None:
    # Fakes, beds and wait helpers live in tests/support/; a shipped module must not import docker for clean-up.
    shipped = [n for n in wheel.namelist() if n.endswith(".py")]
    assert not [n for n in shipped if "fake" in n.rsplit("/", 1)[-1] or n.endswith(("/testing.py", "/conftest.py"))]
    importing = [n for n in shipped if any(w in wheel.read(n).decode() for w in ("from tests", "import tests"))]
    assert not importing


def test_wheel_carries_the_templates_compiled_by_the_build_hook(wheel: zipfile.ZipFile) -> None:
    from bootstrap.render import precompiled

    templates = sorted((ROOT / "templates" / "manifests").glob("*.j2"))
    for template in templates:
        module = f"bootstrap/render/compiled/{precompiled.module_name(template.name)}.py"
        text = wheel.read(module).decode()
        assert f"SOURCE_SHA256 = {precompiled.source_hash(template.read_text())!r}" in text
    compiled = [n for n in wheel.namelist() if n.startswith("bootstrap/render/compiled/tmpl_")]
    assert len(compiled) == len(templates)
