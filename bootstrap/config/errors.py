"""Translate msgspec's ValidationError into one operator-facing ConfigError line.

The message names where the value came from (the file and the document's kind, or the flag), the field path in
the document's own camelCase names, the value that was given, and for an unknown field the closest valid name
(difflib) at that level.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from bootstrap.errors import ConfigError

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]*)`(?P<rest>.*?)(?:, got `(?P<got>[^`]*)`)?$")
_SECRET_FIELDS = {  # field name -> hint; their values are left out of messages
    "certificateKey": "64 hex characters; make one with `kbs certs certificate-key`",
    "token": "[a-z0-9]{6}.[a-z0-9]{16}; make one with `kubeadm token generate`",
}
_NAMES = {"array": "a list", "object": "a mapping", "str": "a string", "int": "an integer", "bool": "true or false"}


def field_path(loc: Sequence[int | str]) -> str:
    """('apiServer', 'extraArgs', 0, 'name') -> 'apiServer.extraArgs[0].name'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def translate(
    exc: msgspec.ValidationError,
    *,
    where: str,
    model: type[msgspec.Struct],
    data: Any = None,
    flags: Mapping[str, str] | None = None,
) -> ConfigError:
    """`exc` as a ConfigError; `data` is the document as given, `flags` maps a field path to the flag that set it."""
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches any text
    msg, loc = match["msg"], _parse_path(match["path"] or "")
    hint: str | None = None
    if unknown := _UNKNOWN.match(msg):
        valid = _field_names(model, loc)
        loc = (*loc, unknown["name"])
        close = difflib.get_close_matches(unknown["name"], valid, n=1, cutoff=0.6)
        detail = "unknown field" + (f"; did you mean {close[0]!r}?" if close else "")
        hint = f"valid fields here: {', '.join(sorted(valid))}" if valid else None
    elif missing := _MISSING.match(msg):
        loc = (*loc, missing["name"])
        detail = "required field is missing"
    else:
        given = _value_at(data, loc)
        if loc and loc[-1] in _SECRET_FIELDS:
            given = None  # a secret, even a mistyped one, never reaches the output
            hint = _SECRET_FIELDS[str(loc[-1])]
        detail = _detail(msg, given, _field_type(model, loc))
        if isinstance(given, Mapping) and loc and str(loc[-1]).startswith("extra"):
            detail = "expected a list of {name: ..., value: ...} items (kubeadm v1beta4), got a mapping"
            hint = "v1beta3 used maps; convert the file with `kubeadm config migrate` or write the list form"
    path = field_path(loc)
    flag = (flags or {}).get(path)
    origin = f"{flag}" if flag else f"{where}: {path}" if path else where
    return ConfigError(f"{origin}: {detail}", hint=hint)


def _detail(msg: str, given: Any, annotation: Any) -> str:
    got = f", got {given!r}" if isinstance(given, str | int | float | bool) else ""
    if msg.startswith("Invalid enum value"):
        choices = [a for a in _args(annotation) if typing.get_origin(a) is typing.Literal]
        allowed = [str(v) for c in choices for v in typing.get_args(c)]
        value = f" {given!r}" if got else ""
        return f"invalid value{value}" + (f"; one of {', '.join(allowed)}" if allowed else "")
    if expected := _EXPECTED.match(msg):
        want = _NAMES.get(expected["want"], expected["want"])
        return f"expected {want}{expected['rest']}{got}"
    return msg[:1].lower() + msg[1:]  # our own checks' words (bootstrap.config.types)


def _parse_path(text: str) -> tuple[int | str, ...]:
    """'.apiServer.extraArgs[0].name' -> ('apiServer', 'extraArgs', 0, 'name')."""
    return tuple(name if name else int(index) for name, index in _PART.findall(text))


def _value_at(data: Any, loc: Sequence[int | str]) -> Any:
    for part in loc:
        if isinstance(part, int) and isinstance(data, list) and part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, Mapping):
            data = data.get(part)
        else:
            return None
    return data


def _field_type(model: type[msgspec.Struct], loc: Sequence[int | str]) -> Any:
    """The annotation of the field at `loc` inside `model` (None when the path leaves the documents)."""
    current: Any = model
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return None
    return current


def _field_names(model: type[msgspec.Struct], loc: Sequence[int | str]) -> list[str]:
    """The camelCase field names valid at `loc` inside `model` (empty when the path leaves the documents)."""
    target = _struct_in(_field_type(model, loc))
    return [] if target is None else [f.encode_name for f in msgspec.structs.fields(target)]


def _descend(annotation: Any, part: int | str) -> Any:
    if isinstance(part, int):
        for arg in _args(annotation):
            if typing.get_origin(arg) in (list, tuple):
                return typing.get_args(arg)[0]
        return None
    target = _struct_in(annotation)
    if target is None:
        return None
    return next((f.type for f in msgspec.structs.fields(target) if part == f.encode_name), None)


def _struct_in(annotation: Any) -> type[msgspec.Struct] | None:
    for arg in _args(annotation):
        if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
            return arg
    return None


def _args(annotation: Any) -> list[Any]:
    """The alternatives of a Union/Optional (or the annotation itself), with Annotated unwrapped."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]
