"""`KubeAPI` in memory: the dry-run client and the unit tests' seam.

It keeps objects by (kind, namespace, name) and records every write as an `Action`, so `kbs init --dry-run`
can list the API objects it would create and tests can assert on what a phase asked for. Secret values are
kept (a phase may read back a token it wrote) but `Action.printable()` redacts them.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bootstrap.kube.api import Change, Obj, contains, describe


@dataclass(frozen=True)
class Action:
    verb: str  # create, update, patch, delete
    obj: Obj

    def printable(self) -> Obj:
        """The object with Secret data replaced by `<redacted>`: secrets never reach logs or dry-run output."""
        if self.obj.get("kind") != "Secret":
            return self.obj
        shown = copy.deepcopy(self.obj)
        for key in ("data", "stringData"):
            if isinstance(shown.get(key), dict):
                shown[key] = dict.fromkeys(shown[key], "<redacted>")
        return shown

    def summary(self) -> str:
        return f"{self.verb} {describe(self.obj)}"


def _merge(base: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(base) if isinstance(base, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


class MemoryAPI:
    """An API server that is a dict. `objects` may be pre-filled by tests."""

    def __init__(self, objects: list[Obj] | None = None) -> None:
        self._store: dict[tuple[str, str, str], Obj] = {}
        self._versions = itertools.count(1)
        self.actions: list[Action] = []
        for obj in objects or []:
            self._put(copy.deepcopy(obj))

    @staticmethod
    def _key(kind: str, name: str, namespace: str | None) -> tuple[str, str, str]:
        return kind, namespace or "", name

    def _put(self, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._versions))
        meta.setdefault("uid", str(uuid.uuid4()))  # what ownerReferences point at
        self._store[self._key(obj["kind"], meta["name"], meta.get("namespace"))] = obj
        return copy.deepcopy(obj)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        found = self._store.get(self._key(kind, name, namespace))
        return copy.deepcopy(found) if found is not None else None

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> list[Obj]:
        wanted = dict(labels or {})
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in sorted(self._store.items())
            if k == kind
            and (namespace is None or ns == namespace)
            and contains(obj["metadata"].get("labels", {}), wanted)
        ]

    def ensure(self, obj: Obj) -> Change:
        meta = obj["metadata"]
        current = self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if current is not None and contains(current, obj):
            return Change.UNCHANGED
        self.actions.append(Action("create" if current is None else "update", copy.deepcopy(obj)))
        self._put(_merge(current or {}, obj))
        return Change.CREATED if current is None else Change.UPDATED

    def create(self, obj: Obj) -> Obj:
        self.actions.append(Action("create", copy.deepcopy(obj)))
        return self._put(copy.deepcopy(obj))

    def merge_patch(self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None) -> Obj:
        current = self.get(api_version, kind, name, namespace)
        if current is None:
            from bootstrap.errors import APIServerError

            raise APIServerError(f"the API server refused to update {kind} {name}: not found (HTTP 404)", status=404)
        merged = _merge(current, patch)
        self.actions.append(Action("patch", merged))
        return self._put(merged)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        found = self._store.pop(self._key(kind, name, namespace), None)
        if found is not None:
            self.actions.append(Action("delete", found))
        return found is not None

    def close(self) -> None:
        return None
