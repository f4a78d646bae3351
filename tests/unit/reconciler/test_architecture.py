"""docs/architecture.md's picture of the reconciler holds: every module it names exists, and the imports it
promises (and the ones it rules out) are the code's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "bootstrap" / "reconciler"
PREFIX = "bootstrap.reconciler."


def _section() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text()
    start = text.index("## Inside the reconciler")
    return text[start : text.index("\n## ", start + 1)]


def imports(module: str) -> set[str]:
    """What `module` (a path under bootstrap/reconciler, e.g. pods/worker.py) imports, anywhere in its body."""
    names: set[str] = set()
    for node in ast.walk(ast.parse((PACKAGE / module).read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name.removeprefix(PREFIX) for name in names}


def test_every_module_the_picture_names_exists() -> None:
    named = set(re.findall(r"(?<![/\w])((?:[a-z]+/)?[a-z_]+\.py)\b", _section()))  # not tests/... paths
    assert named, "the section names no modules"
    assert {m for m in named if not (PACKAGE / m).is_file()} == set()


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("pods/worker.py", "pods.actions.compute_pod_actions"),  # the worker executes what the decision returns
        ("manager.py", "registry"),
        ("manager.py", "housekeeping"),
        ("apiserver/publisher.py", "events"),
    ],
)
def test_the_arrows_are_imports(module: str, imported: str) -> None:
    assert imported in imports(module)


PURE = ("threading", "time", "docker", "runtime.docker")


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("pods/actions.py", PURE),  # the decision step: no runtime, no lock, no clock
        ("sources/file.py", ("registry", "manager")),  # sources only call the callback they are handed
        ("sources/url.py", ("registry", "manager")),
        ("registry.py", ("manager", "pods.worker")),  # workers come from the make_worker callback
        *((str(p.relative_to(PACKAGE)), ("manager",)) for p in sorted((PACKAGE / "apiserver").glob("*.py"))),
    ],
)
def test_what_a_module_must_not_import(module: str, forbidden: tuple[str, ...]) -> None:
    found = imports(module)
    assert {name for name in found for bad in forbidden if name == bad or name.startswith(bad + ".")} == set()


def test_only_the_runtime_imports_docker() -> None:
    users = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name == "docker" or name.startswith("docker.") for name in imports(str(path.relative_to(PACKAGE))))
    }
    assert users == {"runtime/docker.py", "runtime/streams.py"}
