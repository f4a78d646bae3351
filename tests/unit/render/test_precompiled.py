"""The precompiled built-in templates are current, and an edited template is compiled instead of trusted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.config import Overrides
from bootstrap.render import engine, precompiled
from tests.support import precompile
from tests.unit.render.conftest import Render


def test_compiled_modules_match_the_templates() -> None:
    expected = precompile.expected_modules()
    present = {p.name: p.read_text() for p in precompiled.COMPILED_DIR.glob("tmpl_*.py")}
    assert present == expected, "run: .venv/bin/python -m tests.support.precompile"


def test_a_module_is_used_only_for_the_exact_source_it_came_from() -> None:
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
