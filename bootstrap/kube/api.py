"""The small Kubernetes API surface kbs needs, behind one interface, with lightkube as the real implementation.

Why lightkube: it is typed (py.typed), small and quick to import, speaks server-side apply, and takes a custom
httpx transport; the official `kubernetes` client is large, untyped and slow to import. Phases see only `KubeAPI`,
and objects as plain dicts (`apiVersion`, `kind`, ...): the same dicts are printed by `--dry-run`, compared for
convergence and sent to the API server. The in-memory implementation (`bootstrap.kube.memory`) is the dry-run
client and the unit tests' seam, as kubeadm swaps its clientset for a fake in dry-run.

`ensure` is the convergence primitive: read, compare the fields kbs sets with what is there, and write only when
they differ (server-side apply, field manager `kbs`), reporting created / updated / unchanged. lightkube and
httpx errors become `APIServerError` here, at the one boundary that knows which object was being handled.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from bootstrap import constants
from bootstrap.errors import APIServerError

FIELD_MANAGER = constants.FIELD_MANAGER
Obj = dict[str, Any]


class Change(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class KubeAPI(Protocol):
    """What the phases, `kbs status` and the tests ask of an API server."""

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None: ...

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> list[Obj]: ...

    def ensure(self, obj: Obj) -> Change:
        """Make the fields `obj` sets hold on the server (create when absent); say what that took."""
        ...

    def create(self, obj: Obj) -> Obj: ...

    def merge_patch(self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None) -> Obj: ...

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool: ...

    def close(self) -> None: ...


def describe(obj: Mapping[str, Any]) -> str:
    """`ConfigMap kube-system/kubeadm-config`, for messages."""
    meta = obj.get("metadata", {})
    where = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
    return f"{obj.get('kind')} {where}"


def contains(current: Any, desired: Any) -> bool:
    """True when every field set in `desired` has the same value in `current` (lists compare item by item)."""
    if isinstance(desired, Mapping):
        return isinstance(current, Mapping) and all(
            k in current and contains(current[k], v) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(current) == len(desired)
            and all(contains(c, d) for c, d in zip(current, desired, strict=True))
        )
    return bool(current == desired)


class LightkubeAPI:
    """`KubeAPI` over lightkube, authenticated by a kubeconfig file (normally admin.conf)."""

    def __init__(
        self, kubeconfig: Path | Mapping[str, Any], timeout: float = 30.0, transport: Any = None, *, who: str = ""
    ) -> None:
        """`kubeconfig` is a file, or a kubeconfig document in memory (credentials that must not touch the disk,
        like a bootstrap token's); `who` names those credentials in messages."""
        import httpx2
        import lightkube

        try:
            if isinstance(kubeconfig, Mapping):
                config = lightkube.KubeConfig.from_dict(dict(kubeconfig))
            else:
                config = lightkube.KubeConfig.from_file(kubeconfig)
        except (OSError, lightkube.ConfigError) as exc:
            raise APIServerError(
                f"cannot read kubeconfig {who or kubeconfig}: {exc}", hint="run `kbs init phase kubeconfig` first"
            ) from exc
        self._client = lightkube.Client(
            config, timeout=httpx2.Timeout(timeout), field_manager=FIELD_MANAGER, trust_env=False, transport=transport
        )
        self._kubeconfig = who or str(kubeconfig)

    @staticmethod
    def _resource(api_version: str, kind: str) -> Any:
        from lightkube.codecs import resource_registry

        return resource_registry.load(api_version, kind)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import httpx2
        import lightkube

        try:
            return fn(*args, **kwargs)
        except lightkube.ApiError as exc:
            raise APIServerError(
                f"the API server refused to {what}: {exc.status.message} (HTTP {exc.status.code})",
                hint=f"check the API server with `kbs status` (credentials: {self._kubeconfig})",
                status=exc.status.code,
                reason=str(exc.status.reason or ""),
            ) from exc
        except httpx2.HTTPError as exc:
            raise APIServerError(
                f"cannot reach the API server to {what}: {exc}",
                hint="check that kube-apiserver is healthy (`kbs status`) and that advertiseAddress is right",
            ) from exc

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        import lightkube

        res = self._resource(api_version, kind)

        def run() -> Obj | None:
            try:
                return _to_dict(self._client.get(res, name, namespace=namespace))
            except lightkube.ApiError as exc:
                if exc.status.code == 404:
                    return None
                raise

        return self._call(f"read {kind} {name}", run)  # type: ignore[no-any-return]

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> list[Obj]:
        res = self._resource(api_version, kind)

        def run() -> list[Obj]:
            items = self._client.list(res, namespace=namespace, labels=dict(labels or {}))
            return [_to_dict(item) for item in items]

        return self._call(f"list {kind}", run)  # type: ignore[no-any-return]

    def ensure(self, obj: Obj) -> Change:
        meta = obj["metadata"]
        current = self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if current is not None and contains(current, obj):
            return Change.UNCHANGED
        from lightkube.codecs import from_dict

        self._call(f"write {describe(obj)}", self._client.apply, from_dict(obj), force=True)
        return Change.CREATED if current is None else Change.UPDATED

    def create(self, obj: Obj) -> Obj:
        from lightkube.codecs import from_dict

        return _to_dict(self._call(f"create {describe(obj)}", self._client.create, from_dict(obj)))

    def merge_patch(self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None) -> Obj:
        from lightkube.types import PatchType

        res = self._resource(api_version, kind)
        result = self._call(
            f"update {kind} {name}",
            self._client.patch,
            res,
            name,
            patch,
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )
        return _to_dict(result)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        if self.get(api_version, kind, name, namespace) is None:
            return False
        self._call(
            f"delete {kind} {name}", self._client.delete, self._resource(api_version, kind), name, namespace=namespace
        )
        return True

    def close(self) -> None:
        self._client.close()


def _to_dict(obj: Any) -> Obj:
    result: Obj = obj.to_dict()
    return result
