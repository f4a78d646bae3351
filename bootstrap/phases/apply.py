"""Shared by the API-server phases: ensure a list of objects, print one line per change, sum up.

Each phase builds its objects as plain data and hands them here; the same list is what `--dry-run` prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bootstrap.kube.api import Change, Obj, describe
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome


def ensure_all(data: InitData, phase: str, objects: Iterable[Obj]) -> Outcome:
    api = data.api()
    counts = {change: 0 for change in Change}
    for obj in objects:
        change = api.ensure(obj)
        counts[change] += 1
        if change is not Change.UNCHANGED:
            verb = "would create" if data.dry_run and change is Change.CREATED else change.value
            verb = "would update" if data.dry_run and change is Change.UPDATED else verb
            data.out.line(phase, f"{verb} {describe(obj)}")
    would = "would be " if data.dry_run else ""
    parts = [f"{n} {'' if c is Change.UNCHANGED else would}{c.value}" for c, n in counts.items() if n]
    changed = counts[Change.CREATED] + counts[Change.UPDATED] > 0
    return Outcome(", ".join(parts) or "nothing to do", changed=changed)


def role(name: str, namespace: str, rules: list[dict[str, Any]]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": rules,
    }


def role_binding(name: str, namespace: str, role_name: str, subjects: list[dict[str, str]]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        "subjects": subjects,
    }


def cluster_role(name: str, rules: list[dict[str, Any]]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def cluster_role_binding(name: str, role_name: str, subjects: list[dict[str, str]]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": subjects,
    }


def group(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def user(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}
