"""YAML in and out for configuration documents.

Loading is strict where PyYAML is lenient: a key repeated in one mapping is an error (PyYAML silently keeps the
last, which would make kbs act on a value the operator may not have meant). Errors carry line and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from bootstrap.errors import ConfigError

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


class _StrictLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader (libyaml's when available) that rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in the same mapping", mark
                )
            if isinstance(key, (str, int, float, bool)):
                seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def load_documents(text: str, name: str) -> list[Any]:
    """All documents of a YAML stream; malformed YAML is a ConfigError naming the file, line and column."""
    try:
        return list(yaml.load_all(text, Loader=_StrictLoader))  # _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "malformed YAML"
        raise ConfigError(f"{name}: {at}malformed YAML: {problem}", hint="fix the YAML syntax and run again") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: malformed YAML: {exc}") from None


def read_config_text(path: Path) -> str:
    """A --config file's text; a missing or unreadable file is a ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            f"cannot read config file {path}: {reason}", hint="pass an existing file to --config"
        ) from exc


def config_documents(text: str, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The non-empty documents of a config stream, each with its label ("NAME (document N)") for errors; a
    document that is not a mapping is a ConfigError."""
    for index, doc in enumerate(load_documents(text, name), start=1):
        if doc is None:
            continue
        label = f"{name} (document {index})"
        if not isinstance(doc, dict):
            raise ConfigError(f"{label}: expected a mapping with apiVersion and kind, got {type(doc).__name__}")
        yield label, doc


def dump_documents(docs: list[dict[str, Any]]) -> str:
    """A multi-document stream, keys sorted like kubeadm's output."""
    return "---\n".join(yaml.safe_dump(doc, sort_keys=True, default_flow_style=False) for doc in docs)
