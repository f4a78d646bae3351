"""Mirror pods, node, events and `kubectl logs` against a real control plane run by kbs's reconciler.

One control plane for the module (test bed binaries and images, kbs certs + render in a sandbox), run by a
reconciler in this process that publishes with the node's kubelet.conf. Tests run in file order; each leaves
the control plane as it found it. What is asserted is what a user sees with kubectl and docker.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.real.conftest import TestBed
from tests.support.mirror_plane import Plane, control_plane, output_with
from tests.support.wait import wait_until

NODE = "kbs-mirror-e2e"
READ_PORT = 21250
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def web_manifest(agnhost: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: e2e-web
  namespace: default
  labels: {{app: e2e-web}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: {agnhost}
    args: [netexec, --http-port=18081]
"""


def unhealthy_manifest(agnhost: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: e2e-unhealthy, namespace: default}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: {agnhost}
    args: [pause]
    livenessProbe:
      httpGet: {{path: /healthz, port: 18082}}
      periodSeconds: 2
      failureThreshold: 1
"""


def rejected_manifest(agnhost: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: e2e-rejected, namespace: default}}
spec:
  priorityClassName: kbs-e2e-no-such-class
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: {agnhost}
    args: [pause]
"""


@pytest.fixture(scope="module")
def plane(testbed: TestBed, control_plane_lock: None) -> Iterator[Plane]:
    with control_plane(
        testbed, node=NODE, port=READ_PORT, extra={"e2e-web": web_manifest(testbed.images["agnhost"])}
    ) as p:
        yield p


def _mirror(plane: Plane, name: str, namespace: str = "kube-system") -> Any:
    return wait_until(f"the mirror pod of {name}", lambda: plane.pod(name, namespace), timeout=60)


def _running_mirror(plane: Plane, name: str, namespace: str = "kube-system") -> Any:
    def check() -> Any:
        pod = plane.pod(name, namespace)
        return pod if _running(pod) else None

    return wait_until(f"{name} running in its mirror", check)


def _restarts(pod: Any) -> int:
    return int(pod["status"]["containerStatuses"][0]["restartCount"])


def _running(pod: Any) -> bool:
    statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
    return bool(statuses) and all("running" in s["state"] for s in statuses)


def test_every_static_pod_has_a_mirror_named_after_the_node_with_hash_and_node_owner(plane: Plane) -> None:
    node_uid = wait_until("the node", lambda: plane.kubectl_json("get", "node", NODE))["metadata"]["uid"]
    for name in COMPONENTS:
        pod = _running_mirror(plane, name)
        meta = pod["metadata"]
        assert meta["name"] == f"{name}-{NODE}"
        assert meta["annotations"]["kubernetes.io/config.mirror"] == meta["annotations"]["kubernetes.io/config.hash"]
        assert meta["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": node_uid, "controller": True}
        ]
        assert pod["status"]["phase"] == "Running"
        conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert conditions["PodScheduled"] == conditions["Initialized"] == "True"
        container = pod["status"]["containerStatuses"][0]
        docker_id = plane.containers(name)[0].id
        assert container["containerID"] == f"docker://{docker_id}" and container["imageID"]
    listing = plane.kubectl("get", "pods", "-n", "kube-system")
    assert f"etcd-{NODE}" in listing and "Running" in listing


def test_node_is_ready_says_static_pods_only_and_holds_a_lease(plane: Plane) -> None:
    node = wait_until(
        "the Ready condition",
        lambda: (
            (n := plane.kubectl_json("get", "node", NODE))
            and any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
            and n
        ),
    )
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert "static pods only" in ready["message"]
    assert node["status"]["allocatable"]["pods"] == "110"
    assert node["metadata"]["labels"]["kbs.dev/static-pods-only"] == "true"
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.37.2+kbs")
    lease = plane.kubectl_json("get", "lease", "-n", "kube-node-lease", NODE)
    assert lease["spec"]["holderIdentity"] == NODE


def test_kubectl_delete_of_a_mirror_leaves_the_container_running_and_the_mirror_returns(plane: Plane) -> None:
    before = _running_mirror(plane, "e2e-web", "default")
    container = plane.containers("e2e-web")[0]
    started = container.attrs["State"]["StartedAt"]
    plane.kubectl("delete", "pod", "-n", "default", f"e2e-web-{NODE}", timeout=90)
    after = wait_until(
        "a new mirror of e2e-web",
        lambda: (
            (p := plane.pod("e2e-web", "default"))
            and p["metadata"]["uid"] != before["metadata"]["uid"]
            and _running(p)
            and p
        ),
        timeout=30,
    )
    assert _restarts(after) == _restarts(before)
    now = plane.containers("e2e-web")
    assert [c.id for c in now] == [container.id]
    now[0].reload()
    assert now[0].attrs["State"]["StartedAt"] == started


def test_edits_to_a_mirror_change_nothing_on_the_node(plane: Plane) -> None:
    pod = _mirror(plane, "e2e-web", "default")
    container = plane.containers("e2e-web")[0]
    plane.kubectl("label", "pod", "-n", "default", f"e2e-web-{NODE}", "edited=yes")
    patch = '{"spec":{"containers":[{"name":"web","image":"registry.k8s.io/pause:3.10.2"}]}}'
    plane.kubectl("patch", "pod", "-n", "default", f"e2e-web-{NODE}", "-p", patch)
    time.sleep(5)
    assert [c.id for c in plane.containers("e2e-web")] == [container.id]
    assert plane.containers("e2e-web")[0].image.tags == container.image.tags
    now = plane.pod("e2e-web", "default")
    assert now["metadata"]["uid"] == pod["metadata"]["uid"]


def test_a_killed_container_shows_a_restart_in_kubectl(plane: Plane) -> None:
    before = _restarts(_mirror(plane, "e2e-web", "default"))
    plane.containers("e2e-web")[0].kill()
    wait_until(
        "RESTARTS to go up",
        lambda: (p := plane.pod("e2e-web", "default")) and _running(p) and _restarts(p) == before + 1,
        timeout=60,
    )
    row = next(line for line in plane.kubectl("get", "pods", "-n", "default").splitlines() if "e2e-web" in line)
    assert row.split()[3] == str(before + 1), row  # NAME READY STATUS RESTARTS AGE


def test_kubectl_logs_of_a_mirror_prints_the_containers_log(plane: Plane) -> None:
    name = f"e2e-web-{NODE}"
    _running_mirror(plane, "e2e-web", "default")
    out = wait_until("kubectl logs", lambda: plane.kubectl("logs", "-n", "default", name))
    assert "Started HTTP server on port 18081" in out
    assert "Started HTTP server" in plane.kubectl("logs", "-n", "default", name, "-c", "web", "--tail=5")
    previous = plane.kubectl("logs", "-n", "default", name, "--previous", check=False)
    assert "Started HTTP server" in previous  # the container killed in the previous test
    follow = subprocess.Popen(
        [
            plane.testbed.bin("kubectl"),
            "--kubeconfig",
            str(plane.kubernetes_dir / "admin.conf"),
            "logs",
            "-f",
            "-n",
            "default",
            name,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    timer = threading.Timer(30, follow.kill)  # a hanging stream fails the test instead of blocking it
    timer.start()
    try:
        assert follow.stdout is not None
        line = follow.stdout.readline()
        assert "Started HTTP server" in line
        assert follow.poll() is None  # still following
    finally:
        timer.cancel()
        follow.kill()
        follow.wait()


def test_kubectl_exec_in_a_mirror_runs_in_the_static_pods_container(plane: Plane) -> None:
    # the node API itself is tested in test_node_api.py; here: exec reaches the right container
    out = plane.kubectl("exec", "-n", "default", f"e2e-web-{NODE}", "--", "cat", "/proc/1/cmdline")
    assert "netexec" in out, out


def test_a_liveness_failure_is_an_unhealthy_event_in_describe(plane: Plane) -> None:
    path = plane.write_manifest("e2e-unhealthy", unhealthy_manifest(plane.testbed.images["agnhost"]))
    try:
        described = output_with(
            "Unhealthy in kubectl describe",
            lambda: plane.kubectl("describe", "pod", "-n", "default", f"e2e-unhealthy-{NODE}", check=False),
            "Unhealthy",
            timeout=90,
        )
        assert "Liveness probe failed" in described
        events = described.split("Events:")[1]
        assert "Started" in events and "kubelet" in events
    finally:
        path.unlink()
    wait_until("the mirror to go with the manifest", lambda: plane.pod("e2e-unhealthy", "default") is None, timeout=60)
    wait_until("its containers to stop", lambda: not plane.containers("e2e-unhealthy"), timeout=60)


def test_a_mirror_the_api_server_rejects_is_reported_while_the_pod_runs(plane: Plane) -> None:
    path = plane.write_manifest("e2e-rejected", rejected_manifest(plane.testbed.images["agnhost"]))
    try:
        wait_until("the rejected pod's container", lambda: plane.containers("e2e-rejected"), timeout=60)
        events = output_with(
            "a MirrorPodRejected event",
            lambda: plane.kubectl("get", "events", "-n", "default", "--field-selector", "reason=MirrorPodRejected"),
            "kbs-e2e-no-such-class",
            timeout=60,
        )
        assert "keeps running" in events
        assert plane.pod("e2e-rejected", "default") is None
        assert plane.containers("e2e-rejected")
    finally:
        path.unlink()
    wait_until("its containers to stop", lambda: not plane.containers("e2e-rejected"), timeout=60)


def test_deleting_a_manifest_removes_its_mirror(plane: Plane) -> None:
    text = web_manifest(plane.testbed.images["agnhost"]).replace("e2e-web", "e2e-gone").replace("18081", "18083")
    path = plane.write_manifest("e2e-gone", text)
    wait_until("the new mirror", lambda: _running(plane.pod("e2e-gone", "default")), timeout=60)
    path.unlink()
    wait_until("the mirror to go", lambda: plane.pod("e2e-gone", "default") is None, timeout=60)
    assert not plane.containers("e2e-gone")


def test_pods_run_through_an_api_server_outage_and_the_mirrors_catch_up(plane: Plane) -> None:
    before = _restarts(_mirror(plane, "e2e-web", "default"))
    apiserver, etcd = plane.containers("kube-apiserver")[0], plane.containers("etcd")[0]
    apiserver.pause()
    try:
        wait_until(
            "the API server to stop answering",
            lambda: "ok" not in plane.kubectl("get", "--raw", "/readyz", "--request-timeout=2s", check=False),
            timeout=30,
        )
        old = plane.containers("e2e-web")[0]
        old.kill()
        wait_until("the container to be restarted", lambda: (c := plane.containers("e2e-web")) and c[0].id != old.id)
        time.sleep(3)
    finally:
        apiserver.unpause()
    wait_until(
        "the mirror to show the restart",
        lambda: (p := plane.pod("e2e-web", "default")) and _running(p) and _restarts(p) == before + 1,
        timeout=90,
    )
    assert plane.containers("kube-apiserver")[0].id == apiserver.id
    assert plane.containers("etcd")[0].id == etcd.id
