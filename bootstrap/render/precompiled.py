"""The built-in templates, compiled ahead of time: `kbs render` skips Jinja's compiler (~40 ms of ~300).

The modules bootstrap/render/compiled/tmpl_<sha1 of name>.py are made when kbs is built (hatch_build.py, a
hatchling build hook: into the wheel, or in place for an editable install; never committed). Each holds Jinja's
generated code and the SHA-256 of the template source (and Jinja version) it came from. The engine's loader uses a
module only when that hash matches the template file it would otherwise compile, so an edited template, an
operator's --templates-dir file, another Jinja or a missing module is simply compiled as usual
(tests/unit/render/test_precompiled.py).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
from pathlib import Path
from typing import Any

COMPILED_DIR = Path(__file__).with_name("compiled")
_PACKAGE = f"{__package__}.compiled"
_HASH_LINE = "SOURCE_SHA256 = "


def module_name(template: str) -> str:
    return "tmpl_" + hashlib.sha1(template.encode()).hexdigest()


def source_hash(source: str) -> str:
    """SHA-256 of the template source and the Jinja version (generated code is only valid for the Jinja that made
    it)."""
    import jinja2

    return hashlib.sha256(f"jinja2 {jinja2.__version__}\n{source}".encode()).hexdigest()


def _recorded_hash(path: Path) -> str | None:
    """The SOURCE_SHA256 a generated module records in its first lines, read as text (nothing is executed)."""
    try:
        with path.open(encoding="utf-8") as module:
            head = [module.readline() for _ in range(5)]
    except OSError:
        return None
    for line in head:
        if line.startswith(_HASH_LINE):
            return line[len(_HASH_LINE) :].strip().strip("'\"")
    return None


def lookup(template: str, source: str, environment: Any) -> dict[str, Any] | None:
    """A fresh namespace of the compiled code for `template`, bound to `environment`, when the module was made from
    exactly `source` (and this Jinja); else None, and the caller compiles.

    The hash is read from the module's text before anything runs, so a stale module (another Jinja, an edited
    template) is never executed. The code runs in a namespace of its own per environment (not an imported
    module's), because Jinja binds the environment into that namespace and two environments (built-in,
    --templates-dir) must not share one.
    """
    path = COMPILED_DIR / f"{module_name(template)}.py"
    if _recorded_hash(path) != source_hash(source):
        return None
    loader = importlib.machinery.SourceFileLoader(f"{_PACKAGE}.{path.stem}", str(path))
    try:
        code = loader.get_code(loader.name)  # the cached bytecode when there is one
    except (OSError, SyntaxError, ImportError):
        return None
    if code is None:
        return None
    namespace: dict[str, Any] = {"environment": environment, "__file__": str(path)}
    exec(code, namespace)  # kbs's own generated module, made from exactly this source by this Jinja
    return namespace
