"""admin.conf's binding: made with super-admin.conf when missing, then waited for until the authorizer knows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bootstrap.errors import APIServerError
from bootstrap.kube.admin import ADMINS_GROUP, ensure_admin_binding
from bootstrap.kube.memory import MemoryAPI


class LaggingAdmin(MemoryAPI):
    """admin.conf against an API server whose RBAC cache refuses the first `lag` reads after the binding exists."""

    def __init__(self, store: MemoryAPI, lag: int) -> None:
        super().__init__()
        self.store, self.lag, self.reads = store, lag, 0

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        self.reads += 1
        found = self.store.get(api_version, kind, name, namespace)
        if found is None:
            raise APIServerError("forbidden: no binding yet", status=403)
        if self.lag > 0:
            self.lag -= 1
            raise APIServerError("forbidden: the authorizer has not seen the binding yet", status=403)
        return found


def test_a_new_binding_is_waited_for_until_admin_conf_is_allowed() -> None:
    privileged = MemoryAPI()
    admin = LaggingAdmin(privileged, lag=3)
    made = ensure_admin_binding(admin, Path("/unused"), privileged=privileged, sleep=lambda s: None)
    assert made and privileged.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", ADMINS_GROUP)
    assert admin.reads == 5  # refused before the binding, refused three times while the cache lagged, allowed


def test_an_existing_binding_needs_no_super_admin() -> None:
    privileged = MemoryAPI()
    ensure_admin_binding(LaggingAdmin(privileged, lag=0), Path("/unused"), privileged=privileged, sleep=lambda s: None)
    admin = LaggingAdmin(privileged, lag=0)
    assert not ensure_admin_binding(admin, Path("/unused"), privileged=MemoryAPI(), sleep=lambda s: None)


def test_a_binding_that_never_takes_effect_is_an_error() -> None:
    privileged = MemoryAPI()
    with pytest.raises(APIServerError, match="still forbidden"):
        ensure_admin_binding(
            LaggingAdmin(privileged, lag=10**9),
            Path("/unused"),
            timeout=0.05,
            privileged=privileged,
            sleep=lambda s: None,
        )
