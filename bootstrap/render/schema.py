"""Validate a rendered Pod against the Kubernetes schema of its target minor, fast.

The schemas are kubernetes-validate's strict Pod schemas trimmed to what a Pod reaches (bootstrap.render.schemagen).
They use a small part of JSON Schema: type, enum, properties, additionalProperties, required, items, $ref, oneOf,
format int32/int64, plus the x-kubernetes-list-type: map keys, which kbs also enforces (two volumes with one name,
two ports with one containerPort and protocol). Loading and checking four Pods takes a few milliseconds, where
importing kubernetes-validate alone takes ~70 ms.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).with_name("schemas")
_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "null": type(None),
}
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


@functools.cache
def load(minor: int) -> dict[str, Any]:
    path = SCHEMAS_DIR / f"pod-v1.{minor}.json"
    with path.open() as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def available_minors() -> list[int]:
    return sorted(int(p.name.split(".")[1]) for p in SCHEMAS_DIR.glob("pod-v1.*.json"))


def errors(pod: Any, minor: int) -> list[str]:
    """Every schema violation of `pod`, as `field.path: problem`; empty when valid."""
    schema = load(minor)
    return list(_check(pod, schema, schema["$defs"], ""))


def _check(value: Any, schema: dict[str, Any], defs: dict[str, Any], path: str) -> Iterator[str]:
    if "$ref" in schema:
        yield from _check(value, defs[schema["$ref"].removeprefix("#/$defs/")], defs, path)
        return
    where = path or "document"
    if "oneOf" in schema:
        matches = sum(1 for option in schema["oneOf"] if not any(_check(value, option, defs, path)))
        if matches != 1:
            yield f"{where}: {value!r} does not match exactly one of the allowed forms"
        return
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        if not any(_is_type(value, t) for t in allowed):
            yield f"{where}: expected {' or '.join(t for t in allowed if t != 'null')}, got {_type_name(value)}"
            return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{where}: {value!r} is not one of {schema['enum']}"
    fmt = schema.get("format")
    if fmt in _INT_RANGES and isinstance(value, int) and not isinstance(value, bool):
        low, high = _INT_RANGES[fmt]
        if not low <= value <= high:
            yield f"{where}: {value} is out of the {fmt} range"
    if isinstance(value, dict):
        yield from _check_object(value, schema, defs, path)
    elif isinstance(value, list):
        yield from _check_array(value, schema, defs, path)


def _check_object(value: dict[str, Any], schema: dict[str, Any], defs: dict[str, Any], path: str) -> Iterator[str]:
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name in schema.get("required", []):
        if name not in value:
            yield f"{_join(path, name)}: required field missing"
    for key, item in value.items():
        sub = _join(path, str(key))
        if key in properties:
            yield from _check(item, properties[key], defs, sub)
        elif extra is False:
            yield f"{sub}: unknown field"
        elif isinstance(extra, dict):
            yield from _check(item, extra, defs, sub)


def _check_array(value: list[Any], schema: dict[str, Any], defs: dict[str, Any], path: str) -> Iterator[str]:
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            yield from _check(item, items, defs, f"{path}[{index}]")
    keys = schema.get("x-kubernetes-list-map-keys")
    if schema.get("x-kubernetes-list-type") == "map" and keys:
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(value):
            if isinstance(item, dict):
                # a missing key with an API default (ports: protocol TCP) counts as that default
                key = tuple(item.get(k, "TCP" if k == "protocol" else None) for k in keys)
                if key in seen:
                    named = ", ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True))
                    yield f"{path}[{index}]: duplicate entry for {named}"
                seen.add(key)


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES[name])


def _type_name(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "object", "array", "null"):
        if _is_type(value, name):
            return name
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
