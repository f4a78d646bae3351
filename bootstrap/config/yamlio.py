"""YAML in and out for configuration documents.

Loading is strict where PyYAML is lenient: a key repeated in one mapping is an error (PyYAML silently keeps the
last, which would make kbs act on a value the operator may not have meant). Errors carry line and column.
"""

from __future__ import annotations

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


def dump_documents(docs: list[dict[str, Any]]) -> str:
    """A multi-document stream, keys sorted like kubeadm's output."""
    return "---\n".join(yaml.safe_dump(doc, sort_keys=True, default_flow_style=False) for doc in docs)
