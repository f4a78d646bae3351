"""kbs's reconciler next to the real kubelet: the same static manifests on two nodes of one cluster, and the
mirror pods a user sees through kubectl compared field by field.

The cluster is tests/support/cluster.py's: `kbs init` on a control-plane node (kbs's reconciler on Docker, the
node cp-1) and a stock `kubeadm join` on one worker (the real kubelet on containerd, the node worker-1). Each
manifest is written into both nodes' /etc/kubernetes/manifests at once; static pods ignore the control-plane
node's taints. The pods use the host network (the control-plane node runs no pod network), each its own ports.

A difference is normalised away only where it must exist between two nodes (tests/support/kubelet_diff.py); any
other difference fails the test unless tests/support/kubelet_differences.py lists it with its reason (the
table that docs/kubelet-compatibility.md shows).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from tests.support.cluster import Cluster, start_control_plane
from tests.support.kubelet_diff import Difference, compare_pods, unexplained
from tests.support.nodes import node_network
from tests.support.wait import wait_until

KBS, KUBELET = "cp-1", "worker-1"
NODES = (KUBELET, KBS)
MANIFESTS = "/etc/kubernetes/manifests"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def manifest(name: str, *command: str, extra: str = "") -> str:
    """A hostNetwork agnhost pod; `extra` is YAML for its container, indented like its fields."""
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
  labels: {{app: {name}}}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: {AGNHOST}
    command: {json.dumps(list(command))}
{extra}"""


# netexec also listens on UDP (8081 by default): each pod its own ports, or the second one fails to bind
WEB = manifest("kd-web", "/agnhost", "netexec", "--http-port=18090", "--udp-port=18190")
CRASH = manifest("kd-crash", "sh", "-c", "exit 3")
UNREADY = manifest(
    "kd-unready", "/agnhost", "netexec", "--http-port=18091", "--udp-port=18191",
    extra="""\
    readinessProbe:
      exec: {command: [sh, -c, "exit 1"]}
      periodSeconds: 1
      failureThreshold: 1
""",
)  # fmt: skip


@pytest.fixture(scope="module")
def pair(docker_client: docker.DockerClient) -> Iterator[Cluster]:
    with node_network(docker_client, prefix="kbs-kdiff") as network:
        made = start_control_plane(network, KBS)
        worker = network.start(KUBELET, "worker")
        worker.wait_ready()
        made.join_worker(worker)
        for node in (made.control_plane, worker):
            for name, text in (("kd-web", WEB), ("kd-crash", CRASH), ("kd-unready", UNREADY)):
                node.exec("sh", "-c", f"cat > {MANIFESTS}/{name}.yaml", stdin=text.encode())
        yield made


def mirror(made: Cluster, name: str, node: str) -> dict[str, Any] | None:
    found = made.kubectl("get", "pod", "-n", "default", f"{name}-{node}", "-o", "json", "--ignore-not-found")
    return dict(json.loads(found)) if found.strip() else None


def both(made: Cluster, name: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, dict[str, Any]]:
    """Both nodes' mirrors of `name` once `ready(pod)` holds for each."""

    seen: dict[str, Any] = {}

    def check() -> dict[str, dict[str, Any]] | None:
        pods: dict[str, dict[str, Any]] = {}
        for node in NODES:
            pod = seen[node] = mirror(made, name, node)
            if pod is None or not ready(pod):
                return None
            pods[node] = pod
        return pods

    try:
        return wait_until(f"{name}'s mirror pods on {', '.join(NODES)}", check, timeout=180, interval=1)
    except AssertionError as exc:
        statuses = {node: (pod or {}).get("status") for node, pod in seen.items()}
        raise AssertionError(f"{exc}; last statuses: {json.dumps(statuses)}") from None


def differences(pods: dict[str, dict[str, Any]]) -> list[Difference]:
    return compare_pods(pods[KUBELET], KUBELET, pods[KBS], KBS)


def assert_no_unexplained(pods: dict[str, dict[str, Any]]) -> None:
    left = unexplained(differences(pods))
    assert not left, "differences not in tests/support/kubelet_differences.py:\n" + "\n".join(map(str, left))


def container(pod: dict[str, Any]) -> dict[str, Any]:
    return dict(pod["status"].get("containerStatuses", [{}])[0])


def condition(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in pod["status"].get("conditions", []) if c["type"] == kind), {})


def running_and_ready(pod: dict[str, Any]) -> bool:
    return pod["status"].get("phase") == "Running" and condition(pod, "Ready").get("status") == "True"


def test_a_running_pod_looks_the_same_on_both_nodes(pair: Cluster) -> None:
    assert_no_unexplained(both(pair, "kd-web", running_and_ready))


def _events(made: Cluster, name: str, node: str) -> set[tuple[str, ...]]:
    """(type, reason, component, field path, message) of the events about a mirror pod, its name normalised."""
    pod = f"{name}-{node}"
    found = made.kubectl_json("get", "events", "-n", "default", f"--field-selector=involvedObject.name={pod}")
    return {
        (
            e["type"], e["reason"], (e.get("source") or {}).get("component", ""), e.get("reportingComponent", ""),
            e["involvedObject"].get("fieldPath", ""), e["message"].replace(pod, f"{name}-<node>"),
        )
        for e in found["items"]  # type: ignore[attr-defined]
    }  # fmt: skip


def test_the_running_pod_has_the_same_events_on_both_nodes(pair: Cluster) -> None:
    both(pair, "kd-web", running_and_ready)
    events = {node: _events(pair, "kd-web", node) for node in NODES}
    assert events[KBS] == events[KUBELET], events


def crash_loop_snapshots(made: Cluster, name: str) -> dict[str, dict[str, Any]]:
    """Each node's mirror at the same point of the crash loop: waiting in CrashLoopBackOff after the same number
    of restarts (at least two), each caught on its own. The kubelet shows the container terminated during a back-off
    and the wait only when its pod worker syncs before the restart: at the back-off's end, or after its one-minute
    resync once the back-off is longer (docs/kubelet-compatibility.md); so this comes about the fourth restart:
    the 10+20+40+80 s back-offs, then up to the kubelet's one-minute resync, longer on a loaded machine."""
    seen: dict[str, dict[int, dict[str, Any]]] = {node: {} for node in NODES}

    def check() -> dict[str, dict[str, Any]] | None:
        for node in NODES:
            pod = mirror(made, name, node)
            status = container(pod) if pod else {}
            waiting = (status.get("state") or {}).get("waiting") or {}
            if pod and waiting.get("reason") == "CrashLoopBackOff" and status.get("restartCount", 0) >= 2:
                seen[node].setdefault(status["restartCount"], pod)
        common = sorted(set(seen[KBS]) & set(seen[KUBELET]))
        return {node: seen[node][common[0]] for node in NODES} if common else None

    return wait_until(f"{name} in CrashLoopBackOff after the same restarts on both nodes", check, timeout=420)


def test_a_crash_looping_container_looks_the_same_on_both_nodes(pair: Cluster) -> None:
    pods = crash_loop_snapshots(pair, "kd-crash")
    for pod in pods.values():
        last = container(pod)["lastState"]["terminated"]
        assert (last["reason"], last["exitCode"]) == ("Error", 3), pod["status"]
    assert_no_unexplained(pods)  # the back-off message too: the same delay after the same restarts


def failing_readiness(pod: dict[str, Any]) -> bool:
    running = "running" in (container(pod).get("state") or {})
    return running and condition(pod, "Ready").get("status") == "False" and container(pod).get("started") is True


def test_a_pod_whose_readiness_probe_fails_looks_the_same_on_both_nodes(pair: Cluster) -> None:
    pods = both(pair, "kd-unready", failing_readiness)
    for pod in pods.values():
        assert condition(pod, "Ready").get("reason") == "ContainersNotReady", pod["status"]
    assert_no_unexplained(pods)


def test_a_deleted_mirror_pod_comes_back_with_its_restart_count_and_container(pair: Cluster) -> None:
    before = both(pair, "kd-web", running_and_ready)
    for node in NODES:
        pair.kubectl("delete", "pod", "-n", "default", f"kd-web-{node}", "--wait=true")
    uids = {node: before[node]["metadata"]["uid"] for node in NODES}
    after = both(pair, "kd-web", lambda p: running_and_ready(p) and p["metadata"]["uid"] not in uids.values())
    for node in NODES:
        old, new = container(before[node]), container(after[node])
        assert (new["containerID"], new["restartCount"]) == (old["containerID"], old["restartCount"]), node
    assert_no_unexplained(after)
