"""Translate pydantic's ValidationError into one operator-facing ConfigError line.

The message names where the value came from (the file and the document's kind, or the flag), the field path in
the document's own camelCase names, and for an unknown field the closest valid name (difflib) at that level.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from bootstrap.errors import ConfigError


def field_path(loc: Sequence[int | str]) -> str:
    """('apiServer', 'extraArgs', 0, 'name') -> 'apiServer.extraArgs[0].name'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def translate(
    exc: ValidationError,
    *,
    where: str,
    model: type[BaseModel],
    flags: Mapping[str, str] | None = None,
) -> ConfigError:
    """The first error of `exc` as a ConfigError; `flags` maps a field path to the flag that set it."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    path = field_path(loc)
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    flag = (flags or {}).get(path)
    origin = f"{flag}" if flag else f"{where}: {path}" if path else where
    hint: str | None = None
    kind = first["type"]
    if kind == "extra_forbidden":
        valid = _field_names(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
        detail = "unknown field"
        if close:
            detail += f"; did you mean {close[0]!r}?"
        hint = f"valid fields here: {', '.join(sorted(valid))}" if valid else None
    elif kind == "list_type" and isinstance(first.get("input"), Mapping) and str(loc[-1]).startswith("extra"):
        detail = "expected a list of {name: ..., value: ...} items (kubeadm v1beta4), got a mapping"
        hint = "v1beta3 used maps; convert the file with `kubeadm config migrate` or write the list form"
    elif kind == "literal_error" and loc and loc[-1] in ("apiVersion", "kind"):
        detail = f"{first['msg'].lower()}, got {first.get('input')!r}"
    else:
        detail = _message(first)
    return ConfigError(f"{origin}: {detail}{more}", hint=hint)


def _message(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    text = msg[:1].lower() + msg[1:]
    value = error.get("input")
    if error["type"] not in ("value_error", "missing") and isinstance(value, (str, int, float, bool)):
        text += f", got {value!r}"
    return text


def _field_names(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The camelCase field names valid at `loc` inside `model` (empty when the path leaves the models)."""
    current: Any = model
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return []
    target = _model_in(current)
    if target is None:
        return []
    return [info.alias or name for name, info in target.model_fields.items()]


def _descend(annotation: Any, part: int | str) -> Any:
    if isinstance(part, int):
        for arg in _args(annotation):
            origin = typing.get_origin(arg)
            if origin in (list, tuple):
                return typing.get_args(arg)[0]
        return None
    target = _model_in(annotation)
    if target is None:
        return None
    for name, info in target.model_fields.items():
        if part in (name, info.alias):
            return info.annotation
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for arg in _args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _args(annotation: Any) -> list[Any]:
    """The alternatives of a Union/Optional (or the annotation itself), with Annotated unwrapped."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]
