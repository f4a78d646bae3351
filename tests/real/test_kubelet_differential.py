"""kbs's reconciler next to the real kubelet: the same static manifests on two nodes of one cluster, and the
mirror pods a user sees through kubectl compared field by field.

The cluster is tests/support/cluster.py's: `kbs init` on a control-plane node (kbs's reconciler on Docker, the
node cp-1) and a stock `kubeadm join` on one worker (the real kubelet on containerd, the node worker-1). Each
manifest is written into both nodes' /etc/kubernetes/manifests at once; static pods ignore the control-plane
node's taints. Most pods use the host network, each its own ports; pod-network pods get Docker's bridge on the
kbs node (it runs no flannel: static pods only) and flannel's network on the worker. The tests share the one
cluster, in file order: the crash loop, the watch of kd-slow and a mirror's deletion began earlier run on while
the others do, and a later test may rely on an earlier one (`DELETED`). The last ones compare the Node objects,
then kill the API server and stop both agents: kube-controller-manager runs with a short
--node-monitor-grace-period (NODE_MONITOR_GRACE) for them.

A difference is normalised away only where it must exist between two nodes (tests/support/kubelet_diff.py); any
other difference fails the test unless tests/support/kubelet_differences.py lists it with its reason (the
table that docs/kubelet-compatibility.md shows).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import docker
import pytest
import yaml

from tests.support.cluster import ADMIN_CONF, Cluster, start_control_plane
from tests.support.kubelet_corpus import CORPUS, settled
from tests.support.kubelet_diff import Difference, compare_nodes, compare_pods, unexplained
from tests.support.nodes import Node, node_network
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


SLOW_INIT = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: kd-slow, namespace: default}}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  initContainers:
  - {{name: wait, image: {AGNHOST}, command: [sh, -c, "sleep 6"]}}
  containers:
  - {{name: c, image: {AGNHOST}, command: [/agnhost, pause]}}
"""
PROBED = manifest(  # exec probes with a long timeout: a `docker exec` can take over a second on a busy machine

    "kd-probed", "/agnhost", "pause",
    extra="""\
    livenessProbe:
      exec: {command: [sh, -c, "if test -f /probe/kill; then rm /probe/kill; exit 1; fi"]}
      periodSeconds: 1
      timeoutSeconds: 10
      failureThreshold: 1
    readinessProbe:
      exec: {command: [sh, -c, "test -f /probe/ready"]}
      periodSeconds: 1
      timeoutSeconds: 10
      failureThreshold: 1
    volumeMounts: [{name: probe, mountPath: /probe}]
  volumes: [{name: probe, hostPath: {path: /tmp/kd-probe, type: DirectoryOrCreate}}]
""",
)  # fmt: skip
PAUSED = {name: manifest(name, "/agnhost", "pause") for name in ("kd-edit", "kd-moved", "kd-removed", "kd-deleted")}
WATCHED: dict[str, str] = {}  # node -> the file of the kd-slow mirror's versions
FIRST = {"kd-web": WEB, "kd-crash": CRASH, "kd-unready": UNREADY, "kd-probed": PROBED, **PAUSED, **CORPUS}


def put(node: Node, name: str, text: str, *, directory: str = MANIFESTS) -> None:
    """Write a file the way an editor or a config tool does: complete, then renamed into place."""
    node.exec("sh", "-c", f"cat > /tmp/.{name}.part && mv /tmp/.{name}.part {directory}/{name}", stdin=text.encode())


def watch(made: Cluster, name: str, node: str) -> str:
    """Start recording every version of `name`'s mirror on `node` (kubectl's watch, in the control-plane node);
    returns the file the versions go to, once the watch is established."""
    path = f"/tmp/kd-watch-{name}-{node}"
    made.control_plane.exec(
        "sh", "-c",
        f"nohup timeout 900 kubectl --kubeconfig={ADMIN_CONF} get pods -n default -w --output-watch-events -o json "
        f"--field-selector=metadata.name={name}-{node} -v=6 > {path}.json 2> {path}.log &",
    )  # fmt: skip
    wait_until(f"the watch of {name}-{node}", lambda: "watch=true" in made.control_plane.exec("cat", f"{path}.log"))
    return f"{path}.json"


# The node lifecycle controller's wait before it calls a silent node Unknown (default 50 s): shorter, for the tests
# that stop an agent. Both agents renew their Lease every 10 s, well within it.
NODE_MONITOR_GRACE = "20s"


def shorten_node_monitor_grace(node: Node) -> None:
    """kube-controller-manager with --node-monitor-grace-period=NODE_MONITOR_GRACE (its manifest edited; kbs's
    reconciler replaces the pod while the worker joins)."""
    path = f"{MANIFESTS}/kube-controller-manager.yaml"
    pod = yaml.safe_load(node.exec("cat", path))
    pod["spec"]["containers"][0]["command"].append(f"--node-monitor-grace-period={NODE_MONITOR_GRACE}")
    put(node, "kube-controller-manager.yaml", yaml.safe_dump(pod, sort_keys=False))


@pytest.fixture(scope="module")
def pair(docker_client: docker.DockerClient) -> Iterator[Cluster]:
    with node_network(docker_client, prefix="kbs-kdiff") as network:
        made = start_control_plane(network, KBS)
        shorten_node_monitor_grace(made.control_plane)
        worker = network.start(KUBELET, "worker")
        worker.wait_ready()
        made.join_worker(worker)
        WATCHED.update({node: watch(made, "kd-slow", node) for node in NODES})
        for node in (made.control_plane, worker):  # kd-probed starts ready: a short readiness failure later
            node.exec("sh", "-c", "mkdir -p /tmp/kd-probe && touch /tmp/kd-probe/ready")
        for node in (made.control_plane, worker):
            put(node, "kd-slow.yaml", SLOW_INIT)
        for node in (made.control_plane, worker):
            for name, text in FIRST.items():
                put(node, f"{name}.yaml", text)
        yield made


def node_of(made: Cluster, name: str) -> Node:
    return made.control_plane if name == KBS else next(w for w in made.workers if w.name == name)


def mirror(made: Cluster, name: str, node: str) -> dict[str, Any] | None:
    found = made.kubectl("get", "pod", "-n", "default", f"{name}-{node}", "-o", "json", "--ignore-not-found")
    return dict(json.loads(found)) if found.strip() else None


def both(
    made: Cluster, name: str, ready: Callable[[dict[str, Any]], bool], timeout: float = 180
) -> dict[str, dict[str, Any]]:
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
        return wait_until(f"{name}'s mirror pods on {', '.join(NODES)}", check, timeout=timeout, interval=1)
    except AssertionError as exc:
        statuses = {node: (pod or {}).get("status") for node, pod in seen.items()}
        raise AssertionError(f"{exc}; last statuses: {json.dumps(statuses)}") from None


def differences(pods: dict[str, dict[str, Any]]) -> list[Difference]:
    return compare_pods(pods[KUBELET], KUBELET, pods[KBS], KBS)


def assert_no_unexplained(pods: dict[str, dict[str, Any]], *, but: tuple[str, ...] = ()) -> None:
    """No difference the table does not explain; `but`: field names this comparison leaves out (with why)."""
    left = [d for d in unexplained(differences(pods)) if not any(f".{name}" in d.path for name in but)]
    assert not left, "differences not in tests/support/kubelet_differences.py:\n" + "\n".join(map(str, left))


def container(pod: dict[str, Any]) -> dict[str, Any]:
    return dict(pod["status"].get("containerStatuses", [{}])[0])


def condition(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in pod["status"].get("conditions", []) if c["type"] == kind), {})


def running_and_ready(pod: dict[str, Any]) -> bool:
    return pod["status"].get("phase") == "Running" and condition(pod, "Ready").get("status") == "True"


DELETED: dict[str, dict[str, Any]] = {}  # node -> kd-deleted's mirror before `kubectl delete`


def test_kubectl_delete_of_a_mirror_pod_leaves_its_container_alone(pair: Cluster) -> None:
    """The deletion now, the comparison at the module's end: the kubelet makes the mirror again only at its next
    sync of the pod (its one-minute resync; kbs at once), so the wait overlaps the other tests."""
    DELETED.update(both(pair, "kd-deleted", running_and_ready))
    for node in NODES:
        pair.kubectl("delete", "pod", "-n", "default", f"kd-deleted-{node}", "--wait=true")


def test_a_running_pod_looks_the_same_on_both_nodes(pair: Cluster) -> None:
    assert_no_unexplained(both(pair, "kd-web", running_and_ready))


def _events(made: Cluster, name: str, node: str) -> set[tuple[str, ...]]:
    """(type, reason, component, field path, message) of the events about a mirror pod, its name and the static
    pod's config hash (its UID, which includes the node name) normalised."""
    pod = f"{name}-{node}"
    found = made.kubectl_json("get", "events", "-n", "default", f"--field-selector=involvedObject.name={pod}")
    hashes = {e["involvedObject"].get("uid", "") for e in found["items"]} - {""}  # type: ignore[attr-defined]

    def message(text: str) -> str:
        for uid in hashes:
            text = text.replace(uid, "<config-hash>")
        return text.replace(pod, f"{name}-<node>")

    return {
        (
            e["type"], e["reason"], (e.get("source") or {}).get("component", ""), e.get("reportingComponent", ""),
            e["involvedObject"].get("fieldPath", ""), message(e["message"]),
        )
        for e in found["items"]  # type: ignore[attr-defined]
    }  # fmt: skip


def test_the_running_pod_has_the_same_events_on_both_nodes(pair: Cluster) -> None:
    both(pair, "kd-web", running_and_ready)
    events = {node: _events(pair, "kd-web", node) for node in NODES}
    assert events[KBS] == events[KUBELET], events


def _versions(made: Cluster, node: str) -> list[dict[str, Any]]:
    """Every version of the kd-slow mirror the watch saw on `node`, in order."""
    text, decoder, at, out = made.control_plane.exec("cat", WATCHED[node]), json.JSONDecoder(), 0, []
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        if at < len(text):
            item, at = decoder.raw_decode(text, at)
            out.append(item["object"])
    return out


MILESTONES = ("created", "all waiting", "init running", "init done", "running")


def milestone(pod: dict[str, Any]) -> str:
    """Where kd-slow is on its way, read off its mirror: created (no status yet), every container waiting, the
    init container running, done with the app container not started, the app container running."""
    status = pod.get("status") or {}
    if not status.get("conditions"):
        return "created"
    every = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    states = {c["name"]: next(iter(c.get("state") or {"none": {}})) for c in every}
    if states.get("c") == "running":
        return "running"
    return {"waiting": "all waiting", "running": "init running"}.get(states.get("wait", ""), "init done")


def without_sandbox_condition(pod: dict[str, Any]) -> dict[str, Any]:
    conditions = [c for c in pod["status"]["conditions"] if c["type"] != "PodReadyToStartContainers"]
    return {**pod, "status": {**pod["status"], "conditions": conditions}}


def test_the_mirror_pod_appears_at_the_first_sync_and_goes_through_the_same_stages(pair: Cluster) -> None:
    """Both mirrors are created before any container starts, show the init container running and then the app
    container, the same fields at each stage. The short stages in between (every container waiting; the init
    container done, the app container not yet started) last as long as a container takes to start: under the
    kubelet they reach the API server or not by timing (its status manager drops a status set before the mirror
    exists; a status is overtaken by the next one). kbs always shows the first (the first sync publishes before
    it acts); where both show a stage, it is compared too."""
    both(pair, "kd-slow", running_and_ready)
    last: dict[str, dict[str, dict[str, Any]]] = {}
    order: dict[str, list[str]] = {}
    for node in NODES:
        for version in _versions(pair, node):
            step = milestone(version)
            if not order.setdefault(node, []) or order[node][-1] != step:
                order[node].append(step)
            last.setdefault(step, {})[node] = version
    for steps in order.values():
        assert steps == sorted(steps, key=MILESTONES.index), order  # never back
        assert {"created", "running"} <= set(steps), order
    # the mirror and its status before any container started, then the init container's own stage (which the
    # kubelet's next status may overtake before it reaches the API server)
    assert {"all waiting", "init running"} <= set(order[KBS]), order
    first = last["all waiting"][KBS]
    waiting = {c["name"]: c["state"]["waiting"]["reason"] for c in (
        *first["status"]["initContainerStatuses"], *first["status"]["containerStatuses"])}  # fmt: skip
    assert waiting == {"wait": "PodInitializing", "c": "PodInitializing"}, first["status"]
    for step, pods in last.items():
        if len(pods) == len(NODES) and step != "created":
            left = unexplained(differences({n: without_sandbox_condition(p) for n, p in pods.items()}))
            assert not left, f"{step}: " + "\n".join(map(str, left))


def crash_snapshots(made: Cluster, name: str) -> dict[str, dict[str, Any]]:
    """Each node's mirror after the same number of restarts (two at least), the container crashed again and in
    its back-off: both show it `terminated` until their next sync of the pod (the back-off's end), each caught
    on its own; the first restart count both were caught at."""
    seen: dict[str, dict[int, dict[str, Any]]] = {node: {} for node in NODES}

    def check() -> dict[str, dict[str, Any]] | None:
        for node in NODES:
            pod = mirror(made, name, node)
            status = container(pod) if pod else {}
            if pod and status.get("restartCount", 0) >= 2 and "terminated" in (status.get("state") or {}):
                seen[node].setdefault(status["restartCount"], pod)
        common = sorted(set(seen[KBS]) & set(seen[KUBELET]))
        return {node: seen[node][common[0]] for node in NODES} if common else None

    return wait_until(f"{name} crashed after the same restarts on both nodes", check, timeout=240, interval=1)


def test_a_crashed_container_looks_the_same_on_both_nodes_through_its_backoff(pair: Cluster) -> None:
    pods = crash_snapshots(pair, "kd-crash")
    for pod in pods.values():
        now, last = container(pod)["state"]["terminated"], container(pod)["lastState"]["terminated"]
        assert (now["reason"], now["exitCode"], last["reason"], last["exitCode"]) == ("Error", 3, "Error", 3), pod
        assert pod["status"]["phase"] == "Running", pod["status"]
    assert_no_unexplained(pods)
    events = {node: _events(pair, "kd-crash", node) for node in NODES}
    assert events[KBS] == events[KUBELET], events  # BackOff with the same words


def failing_readiness(pod: dict[str, Any]) -> bool:
    running = "running" in (container(pod).get("state") or {})
    return running and condition(pod, "Ready").get("status") == "False" and container(pod).get("started") is True


def test_a_pod_whose_readiness_probe_fails_looks_the_same_on_both_nodes(pair: Cluster) -> None:
    pods = both(pair, "kd-unready", failing_readiness)
    for pod in pods.values():
        assert condition(pod, "Ready").get("reason") == "ContainersNotReady", pod["status"]
    assert_no_unexplained(pods)


def test_a_corpus_of_static_pods_looks_the_same_on_both_nodes(pair: Cluster) -> None:
    left: list[str] = []
    for name in CORPUS:  # written with the others when the module began: settled by now, or soon
        try:
            pods = both(pair, name, settled, timeout=60)
        except AssertionError as exc:
            left.append(f"{name}: {exc}")
            continue
        left += [f"{name}: {d}" for d in unexplained(differences(pods))]
    assert not left, "differences not in tests/support/kubelet_differences.py:\n" + "\n".join(left)


def on_both(made: Cluster, command: str) -> None:
    for node in NODES:
        node_of(made, node).exec("sh", "-c", command)


def config_hash(pod: dict[str, Any]) -> str:
    return str(pod["metadata"]["annotations"]["kubernetes.io/config.hash"])


def gone(made: Cluster, name: str) -> None:
    wait_until(f"{name}'s mirrors gone", lambda: all(mirror(made, name, n) is None for n in NODES), timeout=120)


def test_an_edited_manifest_replaces_the_pod_the_same_way_on_both_nodes(pair: Cluster) -> None:
    before = both(pair, "kd-edit", running_and_ready)
    edited = PAUSED["kd-edit"].replace("labels: {app: kd-edit}", "labels: {app: kd-edit, edited: 'yes'}")
    for node in NODES:
        put(node_of(pair, node), "kd-edit.yaml", edited)
    after = both(pair, "kd-edit", lambda p: running_and_ready(p) and p["metadata"]["labels"].get("edited") == "yes")
    for node in NODES:
        assert config_hash(after[node]) != config_hash(before[node]), node  # a new UID
        assert container(after[node])["containerID"] != container(before[node])["containerID"], node
        assert container(after[node])["restartCount"] == 0, node
    assert_no_unexplained(after)
    events = {node: _events(pair, "kd-edit", node) for node in NODES}
    assert events[KBS] == events[KUBELET], events


# A pod put back (the same file: the same UID) counts its earlier life's container as a restart under the kubelet
# when its container garbage collector has not yet removed it (by timing: both outcomes were seen); kbs starts it
# afresh (docs/kubelet-compatibility.md). Its restart count and last state are not compared.
AGAIN = ("restartCount", "lastState")


def test_a_removed_manifest_and_the_same_one_added_again(pair: Cluster) -> None:
    before = both(pair, "kd-removed", running_and_ready)
    on_both(pair, f"mv {MANIFESTS}/kd-removed.yaml /tmp/kd-removed.yaml")
    gone(pair, "kd-removed")
    on_both(pair, f"mv /tmp/kd-removed.yaml {MANIFESTS}/kd-removed.yaml")
    again = both(pair, "kd-removed", running_and_ready)
    for node in NODES:
        assert config_hash(again[node]) == config_hash(before[node]), node  # the same file: the same UID
        assert again[node]["metadata"]["uid"] != before[node]["metadata"]["uid"], node  # a new mirror
        assert container(again[node])["containerID"] != container(before[node])["containerID"], node
    assert_no_unexplained(again, but=AGAIN)


def test_a_renamed_file_and_one_moved_out_and_back_in(pair: Cluster) -> None:
    before = both(pair, "kd-moved", running_and_ready)
    on_both(pair, f"mv {MANIFESTS}/kd-moved.yaml {MANIFESTS}/kd-moved-renamed.yaml")
    old = {config_hash(pod) for pod in before.values()}  # the file's path is part of a static pod's UID
    assert_no_unexplained(both(pair, "kd-moved", lambda p: running_and_ready(p) and config_hash(p) not in old))
    on_both(pair, f"mv {MANIFESTS}/kd-moved-renamed.yaml /tmp/kd-moved.yaml")
    gone(pair, "kd-moved")
    on_both(pair, f"mv /tmp/kd-moved.yaml {MANIFESTS}/kd-moved.yaml")
    assert_no_unexplained(both(pair, "kd-moved", running_and_ready), but=AGAIN)


def test_invalid_files_next_to_good_ones_change_nothing_else(pair: Cluster) -> None:
    before = both(pair, "kd-web", running_and_ready)
    for node in NODES:
        put(node_of(pair, node), "kd-bad-yaml.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [oops\n")
        put(node_of(pair, node), "kd-bad-pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: kd-bad-pod}\n")
        put(node_of(pair, node), "kd-after-bad.yaml", manifest("kd-after-bad", "/agnhost", "pause"))
    assert_no_unexplained(both(pair, "kd-after-bad", running_and_ready))
    assert all(mirror(pair, "kd-bad-pod", node) is None for node in NODES)
    after = both(pair, "kd-web", running_and_ready)
    for node in NODES:
        assert container(after[node])["containerID"] == container(before[node])["containerID"], node
    on_both(pair, f"rm -f {MANIFESTS}/kd-bad-yaml.yaml {MANIFESTS}/kd-bad-pod.yaml")


def test_readiness_and_liveness_changes_look_the_same_on_both_nodes(pair: Cluster) -> None:
    """A short readiness failure: the kubelet's event recorder drops an object's events beyond a burst of 25 (one
    more every five minutes), so minutes of failing probes would hide the later ones under the kubelet."""
    both(pair, "kd-probed", running_and_ready)
    on_both(pair, "rm /tmp/kd-probe/ready")
    assert_no_unexplained(both(pair, "kd-probed", failing_readiness))
    on_both(pair, "touch /tmp/kd-probe/ready")
    assert_no_unexplained(both(pair, "kd-probed", running_and_ready))
    on_both(pair, "touch /tmp/kd-probe/kill")  # the liveness probe fails once (it removes the file)
    again = both(pair, "kd-probed", lambda p: running_and_ready(p) and container(p)["restartCount"] == 1)
    for node in NODES:
        assert "terminated" in container(again[node])["lastState"], (node, again[node]["status"])
    assert_no_unexplained(again)
    # a probe that runs while its container is being killed: by timing, one more event under the kubelet
    # ("Readiness probe errored and resulted in unknown state: ... CONTAINER_EXITED state", or "Readiness probe
    # failed: cannot exec in a deleted state: unknown") and, more rarely, under kbs (a readiness exec that was
    # already under way: "OCI runtime exec failed: ... error executing setns process")
    racy = ("probe errored and resulted in unknown state", "cannot exec in a deleted state", "exec failed")
    events = {
        node: {e for e in _events(pair, "kd-probed", node) if not any(r in e[-1] for r in racy)} for node in NODES
    }
    assert events[KBS] == events[KUBELET], events


def test_a_deleted_mirror_pod_comes_back_with_its_restart_count_and_container(pair: Cluster) -> None:
    assert DELETED, "test_kubectl_delete_of_a_mirror_pod_leaves_its_container_alone runs first"
    uids = {pod["metadata"]["uid"] for pod in DELETED.values()}
    after = both(pair, "kd-deleted", lambda p: running_and_ready(p) and p["metadata"]["uid"] not in uids)
    for node in NODES:
        old, new = container(DELETED[node]), container(after[node])
        assert (new["containerID"], new["restartCount"]) == (old["containerID"], old["restartCount"]), node
    assert_no_unexplained(after)


# The last tests stop the API server, then each node's agent: everything before has its answers by then.
RECONCILER_PID = "/var/run/kbs/kbs-reconciler.pid"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"


def agent_pids(made: Cluster) -> dict[str, str]:
    """The agents' process IDs: kbs's reconciler (its pidfile) and the kubelet (the node runs one)."""
    return {
        KBS: made.control_plane.exec("cat", RECONCILER_PID).strip(),
        KUBELET: node_of(made, KUBELET).exec("pidof", "kubelet").strip(),
    }


def api_up(made: Cluster) -> bool:
    return made.control_plane.exec("kubectl", f"--kubeconfig={ADMIN_CONF}", "--request-timeout=2s", "get", "--raw",
                                   "/readyz", check=False).strip() == "ok"  # fmt: skip


def node_object(made: Cluster, node: str) -> dict[str, Any]:
    return made.kubectl_json("get", "node", node)


def node_ready(made: Cluster, node: str) -> str:
    conditions = node_object(made, node)["status"]["conditions"]
    return str(next(c["status"] for c in conditions if c["type"] == "Ready"))


def lease_renewed(made: Cluster, node: str) -> str:
    return made.kubectl("get", "lease", "-n", "kube-node-lease", node, "-o", "jsonpath={.spec.renewTime}").strip()


def assert_nodes_alike(made: Cluster) -> None:
    left = unexplained(compare_nodes(node_object(made, KUBELET), node_object(made, KBS)))
    assert not left, "node differences not in tests/support/kubelet_differences.py:\n" + "\n".join(map(str, left))


def untouched(made: Cluster, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
    """The same mirror (UID), container and restart count on each node, and the same events on both."""
    events = {node: _events(made, "kd-web", node) for node in NODES}
    assert events[KBS] == events[KUBELET], events
    for node in NODES:
        old, new = before[node], after[node]
        assert new["metadata"]["uid"] == old["metadata"]["uid"], node
        assert (container(new)["containerID"], container(new)["restartCount"]) == (
            container(old)["containerID"], container(old)["restartCount"]), node  # fmt: skip


def both_ready(made: Cluster, timeout: float = 90) -> None:
    seen: dict[str, str] = {}

    def check() -> bool:
        seen.update({node: node_ready(made, node) for node in NODES})
        return set(seen.values()) == {"True"}

    try:
        wait_until("both nodes Ready", check, timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; Ready: {seen}") from None


def test_healthy_nodes_show_the_same_conditions(pair: Cluster) -> None:
    both_ready(pair)
    assert_nodes_alike(pair)


def test_an_api_server_outage_leaves_pods_and_agents_alone_and_status_follows_after(pair: Cluster) -> None:
    """kube-apiserver killed (kbs's reconciler on the control-plane node starts it again: the outage lasts its
    start-up, some seconds). Meanwhile kd-probed turns unready: each agent posts that once the server is back.
    The mirrors, containers, restart counts and agents are the same ones after; each node renews its Lease again."""
    before, pids = both(pair, "kd-web", running_and_ready), agent_pids(pair)
    both(pair, "kd-probed", running_and_ready)
    pair.control_plane.exec(
        "sh", "-c", "docker kill $(docker ps -q --filter label=io.kubernetes.container.name=kube-apiserver)"
    )
    wait_until("the API server gone", lambda: not api_up(pair), timeout=30)
    on_both(pair, "rm /tmp/kd-probe/ready")
    wait_until("the API server back", lambda: api_up(pair), timeout=120)
    back = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    wait_until("both Leases renewed", lambda: all(lease_renewed(pair, n) > back for n in NODES), timeout=60)
    assert_no_unexplained(both(pair, "kd-probed", failing_readiness, timeout=60))
    on_both(pair, "touch /tmp/kd-probe/ready")
    both_ready(pair, timeout=60)
    after = both(pair, "kd-web", running_and_ready)
    untouched(pair, before, after)
    assert_no_unexplained(after)
    assert agent_pids(pair) == pids  # neither agent exited
    assert_nodes_alike(pair)


def stop_agents(made: Cluster) -> None:
    """The kubelet stopped as `systemctl stop kubelet` would (the node's supervisor stops it while its
    configuration is away); kbs's reconciler with SIGTERM (its pidfile), its command line kept to start it again."""
    node_of(made, KUBELET).exec("mv", KUBELET_CONFIG, f"{KUBELET_CONFIG}.off")
    made.control_plane.exec("sh", "-c", f"""pid=$(cat {RECONCILER_PID})
        tr '\\0' ' ' < /proc/$pid/cmdline > /tmp/kd-reconciler.cmd
        grep -z ^PYTHON /proc/$pid/environ | tr '\\0' ' ' > /tmp/kd-reconciler.env
        readlink /proc/$pid/cwd > /tmp/kd-reconciler.cwd
        readlink /proc/$pid/fd/1 > /tmp/kd-reconciler.log
        kill $pid
        while kill -0 $pid 2>/dev/null; do sleep 0.2; done""")  # fmt: skip
    wait_until("the kubelet stopped", lambda: node_of(made, KUBELET).exec("pidof", "kubelet", check=False) == "")


def start_agents(made: Cluster) -> None:
    node_of(made, KUBELET).exec("mv", f"{KUBELET_CONFIG}.off", KUBELET_CONFIG)
    made.control_plane.exec("sh", "-c", f"""cd "$(cat /tmp/kd-reconciler.cwd)"
        env $(cat /tmp/kd-reconciler.env) setsid $(cat /tmp/kd-reconciler.cmd) \\
            >> "$(cat /tmp/kd-reconciler.log)" 2>&1 < /dev/null &
        echo $! > {RECONCILER_PID}""")  # fmt: skip


def lifecycle_taints(made: Cluster, node: str) -> set[str]:
    """The node lifecycle controller's taints on a node, as `key:effect`."""
    taints = node_object(made, node)["spec"].get("taints") or []
    return {f"{t['key']}:{t['effect']}" for t in taints if t["key"].startswith("node.kubernetes.io/")}


def test_a_stopped_agent_leaves_its_node_unknown_and_its_return_makes_it_ready_again(pair: Cluster) -> None:
    """Both agents stopped: the node lifecycle controller marks both nodes Unknown, taints them unreachable and
    the mirrors not ready, the same way on both; the containers run on. Back, each agent makes its node Ready,
    the taints go and the mirrors (the same ones) are ready again."""
    before = both(pair, "kd-web", running_and_ready)
    stop_agents(pair)
    try:
        wait_until("both nodes Unknown", lambda: all(node_ready(pair, n) == "Unknown" for n in NODES), timeout=90)
        down = both(pair, "kd-web", lambda p: condition(p, "Ready").get("status") == "False", timeout=60)
        wait_until("the unreachable taints", lambda: all(
            "node.kubernetes.io/unreachable:NoSchedule" in lifecycle_taints(pair, n) for n in NODES))  # fmt: skip
        assert_nodes_alike(pair)
        assert_no_unexplained(down)
    finally:
        start_agents(pair)
    both_ready(pair)
    wait_until("the taints gone", lambda: not any(lifecycle_taints(pair, n) for n in NODES), timeout=60)
    after = both(pair, "kd-web", running_and_ready, timeout=90)
    untouched(pair, before, after)
    assert_no_unexplained(after)
    assert_nodes_alike(pair)
