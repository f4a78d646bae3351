"""`kbs init` with the bundled reconciler publishes its static pods: the wiring of `kbs reconcile --config`.

The other mirror-pod behaviours are proven in test_mirror_pods.py on an in-process reconciler; this module
checks that the reconciler `kbs init` starts (a detached `kbs reconcile --config`) does the same as the node
`system:node:<node>`, alongside what `kbs init` itself writes to the Node (mark-control-plane).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from bootstrap import constants
from tests.real.conftest import TestBed
from tests.support.control_plane import NODE, Sandbox, initialised
from tests.support.wait import wait_until

COMPONENTS = constants.ALL_COMPONENTS


@pytest.fixture(scope="module")
def cp(testbed: TestBed, control_plane_lock: None) -> Iterator[Sandbox]:
    with initialised(testbed) as box:
        yield box


def _mirrors(cp: Sandbox) -> dict[str, Any] | None:
    items = cp.kubectl_json("get", "pods", "-n", "kube-system")["items"]
    found = {
        p["metadata"]["name"]: p
        for p in items
        if "kubernetes.io/config.mirror" in (p["metadata"].get("annotations") or {})
    }
    running = all(p["status"].get("phase") == "Running" for p in found.values())
    return found if running and set(found) >= {f"{c}-{NODE}" for c in COMPONENTS} else None


def _diagnose(cp: Sandbox) -> str:
    """What a failure message needs: the pods the API server has and the reconciler's last log lines."""
    pods = cp.kubectl("get", "pods", "-A", "-o", "wide", check=False)
    log = cp.root / "var/log/kbs/kbs-reconciler.log"
    tail = log.read_text().splitlines()[-25:] if log.exists() else ["(no reconciler log)"]
    return f"kubectl get pods -A:\n{pods.stdout}{pods.stderr}\nreconciler log:\n" + "\n".join(tail)


def test_kbs_init_shows_the_control_plane_as_mirror_pods_owned_by_the_node(cp: Sandbox) -> None:
    deadline = time.monotonic() + 120
    while (mirrors := _mirrors(cp)) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"no four running mirror pods after 120 s\n{_diagnose(cp)}")
        time.sleep(1)
    node = cp.kubectl_json("get", "node", NODE)
    for component in COMPONENTS:
        meta = mirrors[f"{component}-{NODE}"]["metadata"]
        assert meta["annotations"]["kubernetes.io/config.mirror"] == meta["annotations"]["kubernetes.io/config.hash"]
        assert meta["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
        docker = cp.containers(f"{component}-{NODE}")
        assert len(docker) == 1
        status = mirrors[f"{component}-{NODE}"]["status"]["containerStatuses"][0]
        assert status["containerID"] == f"docker://{docker[0].id}"


def test_the_node_is_ready_runs_static_pods_only_and_keeps_what_init_set(cp: Sandbox) -> None:
    def ready() -> Any:
        node = cp.kubectl_json("get", "node", NODE)
        conditions = {c["type"]: c for c in node["status"].get("conditions") or []}
        return node if conditions.get("Ready", {}).get("status") == "True" else None

    node = wait_until("the node to be Ready", ready, timeout=120)
    message = next(c["message"] for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert "static pods only" in message
    assert node["status"]["allocatable"]["pods"] == "110"
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 20250
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]  # mark-control-plane's, kept
    lease = cp.kubectl_json("get", "lease", "-n", "kube-node-lease", NODE)
    assert lease["spec"]["holderIdentity"] == NODE
