"""Typed, path-aware access to a manifest's fields: the first mistake becomes one InvalidManifestError.

Every field of a pod is read through a Reader that knows its path (`spec.containers[0]`), so parse.py and
parse_container.py validate and build the model in one pass, and each error names the field it is about.
"""

from __future__ import annotations

import re
from typing import Any

from bootstrap.reconciler.errors import InvalidManifestError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Reader:
    """Typed access to a mapping that reports the full field path on any mistake."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise InvalidManifestError(f"{path or 'document'}: must be a mapping, not {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> InvalidManifestError:
        return InvalidManifestError(f"{self.at(key)}: {message}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required or default is None:
                raise self.fail(key, "required")
            return default
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {value!r}")
        if required and not value:
            raise self.fail(key, "required")
        return value

    def opt_str(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def number(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, not {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, not {value}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def sub(self, key: str) -> Reader | None:
        return Reader(self.data[key], self.at(key)) if self.has(key) else None

    def items(self, key: str) -> list[Reader]:
        value = self.data.get(key) or []
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        return [Reader(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]

    def port(self, key: str) -> int | str:
        value = self.data.get(key)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= 65535:
                raise self.fail(key, f"must be between 1 and 65535, not {value}")
            return value
        if isinstance(value, str) and value and _PORT_NAME.match(value) and len(value) <= 15:
            return value
        raise self.fail(key, f"must be a port number or a port name, not {value!r}")


def forbid(path: str, resource: str) -> InvalidManifestError:
    return InvalidManifestError(f"{path}: static pods may not reference {resource}")


def unique(names: list[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidManifestError(f"{path}: duplicate {what} {name!r}")
        seen.add(name)
