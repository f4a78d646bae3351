"""admin.conf's authority, as kubeadm (v1.29+) arranges it.

admin.conf's client certificate is in the group `kubeadm:cluster-admins`, which has no rights until the
ClusterRoleBinding `kubeadm:cluster-admins` -> cluster-admin exists. Only super-admin.conf (group system:masters,
which bypasses RBAC) can create that binding on a fresh cluster; so, like kubeadm's init client, kbs tries
admin.conf first and falls back to super-admin.conf once, for that one object. super-admin.conf is used for
nothing else.
"""

from __future__ import annotations

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


def ensure_admin_binding(admin: KubeAPI, super_admin_kubeconfig: Path, timeout: float = 30.0) -> bool:
    """Make sure admin.conf can act; True when the binding had to be created (with super-admin.conf)."""
    try:
        if admin.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", ADMINS_GROUP) is not None:
            return False
    except APIServerError as exc:
        if exc.status != 403:
            raise
    privileged = LightkubeAPI(super_admin_kubeconfig, timeout=timeout)
    try:
        return privileged.ensure(binding()) is not Change.UNCHANGED
    finally:
        privileged.close()
