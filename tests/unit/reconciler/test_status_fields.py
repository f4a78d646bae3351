"""Fields of a pod's status that the kubelet differential test (tests/real/test_kubelet_differential.py) found and
kbs now reports as the kubelet v1.37 does: conditions of finished pods, the sandbox condition's reason, init
containers' readiness, volume mounts, resources, the pod IP of a finished pod, and the mirror's status patch."""

from __future__ import annotations

from typing import Any

from bootstrap.reconciler.apiserver import mirror
from bootstrap.reconciler.events import PodRef, Recorder
from bootstrap.reconciler.pods.phase import build_status, pod_requests, sandbox_not_ready
from bootstrap.reconciler.pods.probes import PodProbes
from bootstrap.reconciler.runtime import ContainerRecord
from bootstrap.reconciler.status import PodStatus
from tests.support.fake_runtime import FakeRuntime

from .conftest import IMAGE, simple
from .test_actions import ctr, sandbox


def status(pod_spec: str = "", extra: str = "", records: tuple[ContainerRecord, ...] = (), **kw: Any) -> PodStatus:
    pod = simple(spec=pod_spec, extra=extra)
    probes = PodProbes(FakeRuntime(), Recorder(), PodRef(pod.name, pod.namespace, pod.uid), lambda: None)
    running = next((r for r in records if r.is_sandbox and r.running), None)
    return build_status(
        pod,
        list(records),
        probes,
        {},
        sandbox=running,
        node_ip="10.0.0.1",
        start_time=None,
        previous=kw.get("previous"),
        terminating=False,
        qos_class="BestEffort",
    )


def condition(s: PodStatus, kind: str) -> tuple[str, str | None, str | None]:
    found = s.condition(kind)
    assert found is not None
    return found.status, found.reason, found.message


def test_the_sandbox_condition_says_why_a_sandbox_is_needed_in_the_kubelets_words() -> None:
    assert sandbox_not_ready([]) == "no pod sandbox exists"
    assert sandbox_not_ready([sandbox("exited")]) == "pod sandbox is not ready"
    assert sandbox_not_ready([sandbox(), sandbox(cid="sb2")]).startswith("multiple pod sandboxes")
    assert sandbox_not_ready([sandbox()]) == ""
    first = status()
    assert condition(first, "PodReadyToStartContainers") == ("False", "PodSandboxNotReady", "no pod sandbox exists")


def test_a_failed_pod_says_pod_failed_and_a_succeeded_one_pod_completed() -> None:
    failed = status("  restartPolicy: Never\n", records=(sandbox("exited"), ctr(state="exited", exit_code=1)))
    assert failed.phase == "Failed"
    assert condition(failed, "Ready")[:2] == ("False", "PodFailed")
    assert condition(failed, "ContainersReady")[:2] == ("False", "PodFailed")
    done = status("  restartPolicy: Never\n", records=(sandbox("exited"), ctr(state="exited", exit_code=0)))
    assert done.phase == "Succeeded"
    assert condition(done, "Ready")[:2] == ("False", "PodCompleted")
    assert condition(done, "Initialized") == ("True", "PodCompleted", None)


def test_a_finished_pod_keeps_the_ip_its_sandbox_had() -> None:
    running = status(records=(sandbox(), ctr()))
    assert running.pod_ip is None  # the fake sandbox record has no IP
    before = PodStatus("web", "default", "u", "u", "http", "/m", "Running", pod_ip="172.17.0.9")
    after = status("  restartPolicy: Never\n", records=(sandbox("exited"), ctr(state="exited", exit_code=1)),
                   previous=before)  # fmt: skip
    assert after.pod_ip == "172.17.0.9"


def test_container_statuses_list_mounts_and_resources_and_the_pod_its_requests() -> None:
    extra = """\
    resources: {requests: {cpu: 10m}, limits: {memory: 64Mi}}
    volumeMounts: [{name: a, mountPath: /a, readOnly: true}, {name: b, mountPath: /b}]
"""
    spec = "  volumes: [{name: a, emptyDir: {}}, {name: b, emptyDir: {}}]\n"
    s = status(spec, extra, records=(sandbox(), ctr()))
    c = s.container_statuses[0].to_api()
    assert c["volumeMounts"] == [
        {"name": "a", "mountPath": "/a", "readOnly": True, "recursiveReadOnly": "Disabled"},
        {"name": "b", "mountPath": "/b"},
    ]
    assert c["resources"] == {"limits": {"memory": "64Mi"}, "requests": {"cpu": "10m", "memory": "64Mi"}}
    assert c["allocatedResources"] == {"cpu": "10m", "memory": "64Mi"}
    assert s.api_status()["allocatedResources"] == {"cpu": "10m", "memory": "64Mi"}
    waiting = status(spec, extra).container_statuses[0].to_api()
    assert "resources" not in waiting and "volumeMounts" in waiting  # no container yet: nothing applied


def test_the_pods_requests_add_up_like_the_kubelets() -> None:
    pod = simple(
        extra="    resources: {requests: {cpu: 100m, memory: 32Mi}}\n"
        f"  - {{name: d, image: {IMAGE}, resources: {{requests: {{cpu: 150m, memory: 32Mi}}}}}}\n",
        spec=f"  initContainers:\n  - {{name: i, image: {IMAGE}, resources: {{requests: {{memory: 1Gi}}}}}}\n",
    )
    assert pod_requests(pod) == {"cpu": "250m", "memory": "1Gi"}
    assert pod_requests(simple()) == {}


def test_a_completed_init_container_is_ready_a_running_one_is_not() -> None:
    spec = f"  initContainers:\n  - {{name: i, image: {IMAGE}}}\n"
    running = status(spec, records=(sandbox(), ctr("i")))
    assert running.container("i") is not None and running.container("i").ready is False  # type: ignore[union-attr]
    done = status(spec, records=(sandbox(), ctr("i", state="exited", exit_code=0), ctr()))
    assert done.container("i") is not None and done.container("i").ready is True  # type: ignore[union-attr]


def test_the_status_patch_deletes_a_conditions_reason_that_no_longer_applies() -> None:
    ready = status(records=(sandbox(), ctr()))
    conditions = {c["type"]: c for c in mirror.status_patch(ready, "uid")["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["reason"] is None and conditions["Ready"]["message"] is None


def test_in_a_pod_with_init_containers_a_container_not_yet_created_waits_in_pod_initializing() -> None:
    spec = f"  initContainers:\n  - {{name: i, image: {IMAGE}}}\n"
    done = status(spec, records=(sandbox(), ctr("i", state="exited", exit_code=0)))
    assert (done.container_statuses[0].state.kind, done.container_statuses[0].reason) == ("waiting", "PodInitializing")
    assert condition(done, "Initialized")[0] == "True"
