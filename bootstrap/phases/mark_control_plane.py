"""The mark-control-plane phase: label and taint this node's Node object as kubeadm does.

Labels `node-role.kubernetes.io/control-plane` and `node.kubernetes.io/exclude-from-external-load-balancers`;
taints from nodeRegistration.taints (nil: the control-plane NoSchedule taint; []: none). Taints other actors put
on the node (not-ready, unreachable) are kept: the patch adds what is missing and never rewrites the list.

Like kubeadm, which waits for the kubelet to register the Node, kbs first waits (up to NODE_WAIT) for whatever
runs the static pods to register it: the bundled reconciler does, with kubelet.conf, once the API server is up.
Only when nobody does (an older reconciler, a kubelet that cannot register) kbs registers a minimal Node itself,
the way a kubelet would — hostname/os/arch labels, addresses, capacity — so there is a Node to mark; a
registration that comes later finds it there and takes it over.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from bootstrap import constants
from bootstrap.errors import APIServerError
from bootstrap.kube.api import Obj
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
REGISTERED_BY = "kbs.dev/registered-by"
NODE_WAIT = 20.0  # seconds for the reconciler (or kubelet) to register the Node before kbs does it
CONFLICT_RETRIES = 3  # the node lifecycle controller may patch the Node between our read and our write
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def node_object(data: InitData) -> Obj:
    """A Node like the kubelet's first registration (without conditions: no kubelet reports them)."""
    cfg = data.cfg
    name = cfg.node_name
    arch = _ARCH.get(platform.machine(), platform.machine())
    memory_kib = 0
    try:
        with open("/proc/meminfo") as handle:
            memory_kib = int(handle.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    capacity = {"cpu": str(len(os.sched_getaffinity(0))), "memory": f"{memory_kib}Ki", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": arch,
            },
            "annotations": {REGISTERED_BY: "kbs init (no kubelet registered this node)"},
        },
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": cfg.advertise_address},
                {"type": "Hostname", "address": name},
            ],
            "capacity": capacity,
            "allocatable": dict(capacity),
        },
    }


def desired_taints(data: InitData) -> list[dict[str, Any]]:
    result = []
    for taint in data.cfg.taints:
        item: dict[str, Any] = {"key": taint.key, "effect": taint.effect}
        if taint.value:
            item["value"] = taint.value
        result.append(item)
    return result


def run(data: InitData) -> Outcome:
    for attempt in range(CONFLICT_RETRIES):
        try:
            return _mark(data)
        except APIServerError as exc:
            if exc.status != 409 or attempt == CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _mark(data: InitData) -> Outcome:
    api = data.api()
    name = data.cfg.node_name
    node = api.get("v1", "Node", name)
    if node is None and not data.dry_run and data.cfg.kbs.reconciler.mode != "none":
        data.out.line("mark-control-plane", f"waiting up to {NODE_WAIT:.0f}s for Node {name} to be registered")
        deadline = time.monotonic() + NODE_WAIT
        while node is None and time.monotonic() < deadline:
            time.sleep(0.2)
            node = api.get("v1", "Node", name)
    registered = False
    if node is None:
        node = api.create(node_object(data))
        registered = True
        data.out.line("mark-control-plane", f"{'would register' if data.dry_run else 'registered'} Node {name}")
    labels = node.get("metadata", {}).get("labels") or {}
    wanted_labels = {constants.CONTROL_PLANE_LABEL: "", EXCLUDE_LB_LABEL: ""}
    missing_labels = {k: v for k, v in wanted_labels.items() if labels.get(k) != v}
    current_taints = list(node.get("spec", {}).get("taints") or [])
    have = {(t.get("key"), t.get("effect")) for t in current_taints}
    missing_taints = [t for t in desired_taints(data) if (t["key"], t["effect"]) not in have]
    if not missing_labels and not missing_taints:
        return Outcome(f"Node {name} already labelled and tainted", changed=registered)
    patch: Obj = {"metadata": {"labels": missing_labels, "resourceVersion": node["metadata"].get("resourceVersion")}}
    if missing_taints:
        patch["spec"] = {"taints": current_taints + missing_taints}
    api.merge_patch("v1", "Node", name, patch)
    what = [f"label {k}" for k in missing_labels] + [f"taint {t['key']}:{t['effect']}" for t in missing_taints]
    verb = "would add" if data.dry_run else "added"
    return Outcome(f"{verb} {', '.join(what)} on Node {name}", changed=True)
