"""Template loading and the injection-safe render of one manifest.

Every `{{ value }}` is quoted by the environment's `finalize` (bootstrap.render.quoting), and `|safe` is removed,
so no template can print a raw value. Each template is rendered twice: with the real values, and with a unique
token in place of each value. The token render, parsed, is the template's own structure; the real render, parsed,
must equal it with each token replaced by its value. A value that would add a key, a list item or a document, or
that a template printed inside a larger scalar, fails that comparison and nothing is written.

Templates are found in an operator's --templates-dir first (file by file), then in the packaged templates
(bootstrap/templates/manifests in a wheel, templates/manifests in a source checkout).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import jinja2

from bootstrap.config.yamlio import load_documents
from bootstrap.errors import RenderError
from bootstrap.render import helpers, precompiled
from bootstrap.render.quoting import Placeholders, finalize_quoted

TEMPLATE_SUFFIX = ".yaml.j2"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # bootstrap/


def default_templates_dir() -> Path:
    """The packaged templates: the wheel's bootstrap/templates/manifests, else the checkout's templates/manifests."""
    for candidate in (_PACKAGE_ROOT / "templates" / "manifests", _PACKAGE_ROOT.parent / "templates" / "manifests"):
        if candidate.is_dir():
            return candidate
    raise RenderError(
        "the manifest templates are missing from this kbs installation",
        hint="reinstall kbs, or pass --templates-dir",
    )


def template_name(component: str) -> str:
    return f"{component}{TEMPLATE_SUFFIX}"


_GLOBALS: dict[str, Callable[..., Any]] = {
    "command": helpers.command,
    "arg": helpers.arg,
    "has_arg": helpers.has_arg,
    "join": helpers.join,
    "host_port": helpers.host_port,
    "url": helpers.url,
    "split_url": helpers.split_url,
    "bind_probe_host": helpers.bind_probe_host,
    "hostpath": helpers.hostpath,
    "merge_mounts": helpers.merge_mounts,
    "sort_by_name": helpers.sort_by_name,
    "merge_env": helpers.merge_env,
    "etcd_cert_dirs": helpers.etcd_cert_dirs,
}


# Which finalize the next render uses: quoting (the real text) or placeholders (the structure). Compiled templates
# call environment.finalize at render time, so one environment, and one compilation per template, serves both.
_FINALIZE: contextvars.ContextVar[Callable[[Any], Any]] = contextvars.ContextVar("finalize", default=finalize_quoted)


def _finalize(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the missing variable
    return _FINALIZE.get()(value)


class _Loader(jinja2.BaseLoader):
    """Files from the search path; a built-in template whose precompiled module matches its source skips Jinja's
    compiler (bootstrap.render.precompiled)."""

    def __init__(self, search_path: tuple[str, ...], use_precompiled: bool) -> None:
        self._files = jinja2.FileSystemLoader(list(search_path))
        self._builtin = search_path[-1]
        self._use_precompiled = use_precompiled

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        return self._files.get_source(environment, template)

    def load(
        self, environment: jinja2.Environment, name: str, globals: MutableMapping[str, Any] | None = None
    ) -> jinja2.Template:
        source, filename, uptodate = self.get_source(environment, name)
        namespace = None
        if self._use_precompiled and filename and str(Path(filename).parent) == self._builtin:
            namespace = precompiled.lookup(name, source, environment)
        if namespace is not None:
            return environment.template_class.from_module_dict(
                environment, namespace, environment.make_globals(globals)
            )
        code = environment.compile(source, name, filename)
        return environment.template_class.from_code(environment, code, environment.make_globals(globals), uptodate)


def _new_environment(search_path: tuple[str, ...], use_precompiled: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=_Loader(search_path, use_precompiled),
        autoescape=True,  # with finalize returning Markup, this only makes macro output count as template text
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    for name in ("safe", "forceescape", "escape", "e", "tojson", "xmlattr", "urlize"):
        env.filters.pop(name, None)
    env.globals.update(_GLOBALS)
    return env


@functools.cache
def _environment(search_path: tuple[str, ...]) -> jinja2.Environment:
    return _new_environment(search_path, use_precompiled=True)


def compiling_environment() -> jinja2.Environment:
    """An environment that always compiles (for generating the precompiled modules)."""
    return _new_environment((str(default_templates_dir()),), use_precompiled=False)


def search_path(templates_dir: Path | None) -> tuple[str, ...]:
    base = str(default_templates_dir())
    if templates_dir is None:
        return (base,)
    if not templates_dir.is_dir():
        raise RenderError(f"templates directory {templates_dir} does not exist or is not a directory")
    return (str(templates_dir), base)


def render_text(component: str, context: dict[str, Any], templates_dir: Path | None = None) -> dict[str, Any]:
    """Render `component`'s template, check its structure against the token render, return the parsed Pod."""
    path = search_path(templates_dir)
    name = template_name(component)
    env = _environment(path)
    placeholders = Placeholders()
    try:
        template = env.get_template(name)
        text = template.render(context)
        token = _FINALIZE.set(placeholders)
        try:
            skeleton_text = template.render(context)
        finally:
            _FINALIZE.reset(token)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"no template {exc.name} in {', '.join(path)}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"template {exc.filename or name}, line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise RenderError(f"template {name}: {exc.message}") from None
    where = f"rendered {name}"
    parsed = _single_document(text, where)
    skeleton = _single_document(skeleton_text, f"{where} (structure)")
    expected = _substitute(skeleton, placeholders.values, where)
    if parsed != expected:
        raise RenderError(
            f"{where}: a value changed the manifest's structure: {_first_difference(expected, parsed)}",
            hint="a configuration value contains YAML syntax that kbs refused to write",
        )
    if not isinstance(parsed, dict):
        raise RenderError(f"{where}: expected a Pod mapping, got {type(parsed).__name__}")
    return parsed


def _single_document(text: str, where: str) -> Any:
    try:
        docs = [d for d in load_documents(text, where) if d is not None]
    except Exception as exc:  # ConfigError from the YAML reader: the template, not the config file, is at fault
        raise RenderError(str(exc)) from None
    if len(docs) != 1:
        raise RenderError(f"{where}: expected one YAML document, got {len(docs)}")
    return docs[0]


def _substitute(node: Any, values: dict[str, Any], where: str) -> Any:
    if isinstance(node, dict):
        return {_substitute(k, values, where): _substitute(v, values, where) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(item, values, where) for item in node]
    if isinstance(node, str):
        if node in values:
            return values[node]
        if "kbsvalue" in node:
            raise RenderError(
                f"{where}: the template prints a value inside other text ({node!r})",
                hint="build the whole scalar in one expression, e.g. {{ '--name=' ~ value }}",
            )
    return node


def _first_difference(expected: Any, actual: Any, path: str = "") -> str:
    if type(expected) is not type(actual):
        return f"{path or 'document'}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in actual or key not in expected:
                return f"{path}.{key}: {'missing' if key not in actual else 'unexpected'}"
            if expected[key] != actual[key]:
                return _first_difference(expected[key], actual[key], f"{path}.{key}")
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} items, got {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            if e != a:
                return _first_difference(e, a, f"{path}[{i}]")
    return f"{path}: expected {expected!r}, got {actual!r}"
