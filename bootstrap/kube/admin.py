"""admin.conf's authority, as kubeadm (v1.29+) arranges it.

admin.conf's client certificate is in the group `kubeadm:cluster-admins`, which has no rights until the
ClusterRoleBinding `kubeadm:cluster-admins` -> cluster-admin exists. Only super-admin.conf (group system:masters,
which bypasses RBAC) can create that binding on a fresh cluster; so, like kubeadm's init client, kbs tries
admin.conf first and falls back to super-admin.conf once, for that one object. super-admin.conf is used for
nothing else. The RBAC authorizer learns of a new binding from its informer a moment after the create returns,
so kbs then waits until admin.conf is actually allowed (kubeadm retries its next API calls instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bootstrap.errors import APIServerError
from bootstrap.kube.api import Change, KubeAPI, LightkubeAPI, Obj

ADMINS_GROUP = "kubeadm:cluster-admins"


def binding() -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ADMINS_GROUP},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": ADMINS_GROUP}],
    }


def ensure_admin_binding(
    admin: KubeAPI,
    super_admin_kubeconfig: Path,
    timeout: float = 30.0,
    *,
    privileged: KubeAPI | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Make sure admin.conf can act; True when the binding had to be created (with super-admin.conf)."""
    if _admin_allowed(admin):
        return False
    own = privileged is None
    privileged = LightkubeAPI(super_admin_kubeconfig, timeout=timeout) if privileged is None else privileged
    try:
        created = privileged.ensure(binding()) is not Change.UNCHANGED
    finally:
        if own:
            privileged.close()
    deadline = time.monotonic() + timeout
    while not _admin_allowed(admin):
        if time.monotonic() >= deadline:
            raise APIServerError(
                f"admin.conf is still forbidden {timeout:.0f}s after the {ADMINS_GROUP} binding was made",
                hint="check the API server's RBAC authorizer (`kubectl --kubeconfig super-admin.conf auth can-i`)",
            )
        sleep(0.1)
    return created


def _admin_allowed(admin: KubeAPI) -> bool:
    """admin.conf may read its own binding: the binding exists and the authorizer knows it."""
    try:
        return admin.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", ADMINS_GROUP) is not None
    except APIServerError as exc:
        if exc.status != 403:
            raise
        return False
