"""The build hook's compiled templates are used for exactly the source they came from; anything else is compiled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hatch_build
from bootstrap.config import Overrides
from bootstrap.render import engine, precompiled
from tests.unit.render.conftest import Render


@pytest.fixture
def compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The modules hatch_build.py puts in a wheel, in a directory of their own that the runtime reads."""
    written = hatch_build.write_modules(tmp_path)
    assert {p.name for p in written} == {
        f"{precompiled.module_name(t.name)}.py" for t in engine.default_templates_dir().glob("*.j2")
    }
    monkeypatch.setattr(precompiled, "COMPILED_DIR", tmp_path)
    return tmp_path


def test_the_built_modules_render_what_the_compiler_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render: Render
) -> None:
    used: list[str] = []
    lookup = precompiled.lookup

    def counting_lookup(template: str, source: str, environment: Any) -> dict[str, Any] | None:
        namespace = lookup(template, source, environment)
        if namespace is not None:
            used.append(template)
        return namespace

    monkeypatch.setattr(precompiled, "lookup", counting_lookup)
    outputs = {}
    for label in ("built", "none"):
        directory = tmp_path / label
        if label == "built":
            hatch_build.write_modules(directory)
        directory.mkdir(exist_ok=True)
        monkeypatch.setattr(precompiled, "COMPILED_DIR", directory)
        engine._environment.cache_clear()
        outputs[label] = render(Overrides())
    engine._environment.cache_clear()
    assert "kube-apiserver.yaml.j2" in used
    assert outputs["built"] == outputs["none"]


def test_a_module_is_used_only_for_the_exact_source_it_came_from(compiled: Path) -> None:
    env = engine._environment(engine.search_path(None))
    source = (engine.default_templates_dir() / "kube-scheduler.yaml.j2").read_text()
    assert precompiled.lookup("kube-scheduler.yaml.j2", source, env) is not None
    assert precompiled.lookup("kube-scheduler.yaml.j2", source + "\n", env) is None


def test_an_override_directory_does_not_leak_into_the_built_in_environment(render: Render, tmp_path: Path) -> None:
    templates = tmp_path / "t"
    templates.mkdir()
    macros = (engine.default_templates_dir() / "_macros.j2").read_text()
    (templates / "_macros.j2").write_text(macros.replace("priority: 2000001000", "priority: 2000000999"))
    overridden = render(Overrides(), components=["kube-scheduler"], templates_dir=templates)
    builtin = render(Overrides(), components=["kube-scheduler"])
    assert "priority: 2000000999" in overridden["kube-scheduler"]
    assert "priority: 2000001000" in builtin["kube-scheduler"]


def test_a_stale_module_is_not_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module made by another Jinja (here: one that would fail to import) is skipped on its hash alone."""
    source = (engine.default_templates_dir() / "kube-scheduler.yaml.j2").read_text()
    stale = tmp_path / f"{precompiled.module_name('kube-scheduler.yaml.j2')}.py"
    stale.write_text("SOURCE_SHA256 = 'made-by-another-jinja'\nfrom jinja2.gone import nothing\n")
    monkeypatch.setattr(precompiled, "COMPILED_DIR", tmp_path)
    env = engine._environment(engine.search_path(None))
    assert precompiled.lookup("kube-scheduler.yaml.j2", source, env) is None
