"""compute_pod_actions, table by table: the decisions of a pod sync from records alone (no threads, no runtime)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bootstrap.reconciler import model
from bootstrap.reconciler.pods.actions import PodActions, compute_pod_actions, should_restart
from bootstrap.reconciler.pods.backoff import BackoffState
from bootstrap.reconciler.runtime import ContainerRecord, naming
from tests.unit.reconciler.conftest import IMAGE, pod, simple

NOW = 1_000_000.0
SANDBOX = "sb1"


def at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC)


def sandbox(state: str = "running", *, attempt: int = 0, cid: str = SANDBOX) -> ContainerRecord:
    labels = {naming.DOCKER_TYPE: naming.TYPE_SANDBOX, naming.CONTAINER_NAME: "POD", naming.ATTEMPT: str(attempt)}
    return ContainerRecord(cid, f"k8s_POD_p_{attempt}", labels, state, "pause", created_at=at(100))


def ctr(
    name: str = "c",
    state: str = "running",
    *,
    restarts: int = 0,
    exit_code: int | None = None,
    finished: float | None = None,
    in_sandbox: str = SANDBOX,
    image: str = IMAGE,
    cid: str | None = None,
    error: str = "",
) -> ContainerRecord:
    labels = {
        naming.DOCKER_TYPE: naming.TYPE_CONTAINER,
        naming.CONTAINER_NAME: name,
        naming.SANDBOX_ID: in_sandbox,
        naming.ANNOTATION + naming.RESTART_COUNT: str(restarts),
        naming.ANNOTATION + naming.CONTAINER_HASH: naming.container_hash(model.Container(name=name, image=image)),
    }
    return ContainerRecord(
        cid or f"{name}-{restarts}",
        f"k8s_{name}_p_{restarts}",
        labels,
        state,
        image,
        exit_code=exit_code,
        created_at=at(50),
        finished_at=None if finished is None else at(finished),
        error=error,
    )


ALWAYS = simple()
NEVER = simple(spec="  restartPolicy: Never\n")
ON_FAILURE = simple(spec="  restartPolicy: OnFailure\n")
INIT = pod(
    f"""
apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  initContainers:
  - {{name: i1, image: {IMAGE}}}
  - {{name: i2, image: {IMAGE}}}
  containers:
  - {{name: c, image: {IMAGE}}}
"""
)
KEY = f"{ALWAYS.uid}_c_{naming.container_hash(ALWAYS.spec.containers[0])}"


@dataclass(frozen=True)
class Case:
    pod: model.StaticPod
    records: list[ContainerRecord]
    kill_pod: bool = False
    create_sandbox: bool = False
    attempt: int = 0
    start: tuple[tuple[str, int], ...] = ()  # (container, restart count)
    kill: tuple[str, ...] = ()  # the reasons
    backing_off: tuple[str, ...] = ()
    stop_sandbox: bool = False
    init_done: bool = True


def summary(actions: PodActions) -> Case:
    return Case(
        pod=ALWAYS,
        records=[],
        kill_pod=actions.kill_pod,
        create_sandbox=actions.create_sandbox,
        attempt=actions.sandbox_attempt,
        start=tuple((s.container.name, s.restart_count) for s in actions.containers_to_start),
        kill=tuple(k.reason for k in actions.containers_to_kill),
        backing_off=tuple(b.container for b in actions.backing_off),
        stop_sandbox=actions.stop_sandbox,
        init_done=actions.init_done,
    )


SANDBOX_CASES = {
    "new pod: first sandbox": Case(ALWAYS, [], create_sandbox=True, init_done=False),
    "dead sandbox: kill the rest, next attempt": Case(
        ALWAYS,
        [sandbox("exited", attempt=2), ctr(state="exited", exit_code=1, finished=5)],
        kill_pod=True,
        create_sandbox=True,
        attempt=3,
        init_done=False,
    ),
    "two running sandboxes: replace both": Case(
        ALWAYS,
        [sandbox(attempt=0, cid="a"), sandbox(attempt=1, cid="b")],
        kill_pod=True,
        create_sandbox=True,
        attempt=2,
        init_done=False,
    ),
    "finished under Never: kill, no new sandbox": Case(
        NEVER, [sandbox("exited"), ctr(state="exited", exit_code=0, finished=5)], kill_pod=True, init_done=False
    ),
    "completed under OnFailure: kill, no new sandbox": Case(
        ON_FAILURE, [sandbox("exited"), ctr(state="exited", exit_code=0, finished=5)], kill_pod=True, init_done=False
    ),
    "failed under OnFailure: a new sandbox": Case(
        ON_FAILURE,
        [sandbox("exited"), ctr(state="exited", exit_code=2, finished=5)],
        kill_pod=True,
        create_sandbox=True,
        attempt=1,
        init_done=False,
    ),
    "containers but no sandbox record: new sandbox, nothing to kill": Case(
        ALWAYS, [ctr(state="exited", exit_code=1, finished=5)], create_sandbox=True, init_done=False
    ),
}

CONTAINER_CASES = {
    "running as wanted: nothing": Case(ALWAYS, [sandbox(), ctr()]),
    "never created: start, restart count 0": Case(ALWAYS, [sandbox()], start=(("c", 0),)),
    "exited, no backoff yet: restart at once": Case(
        ALWAYS, [sandbox(), ctr(state="exited", exit_code=1, finished=1)], start=(("c", 1),)
    ),
    "exited under Never: stays, sandbox stops": Case(
        NEVER, [sandbox(), ctr(state="exited", exit_code=1, finished=1)], stop_sandbox=True
    ),
    "completed under OnFailure: stays, sandbox stops": Case(
        ON_FAILURE, [sandbox(), ctr(state="exited", exit_code=0, finished=1)], stop_sandbox=True
    ),
    "failed under OnFailure: restarts": Case(
        ON_FAILURE, [sandbox(), ctr(state="exited", exit_code=3, finished=1)], start=(("c", 1),)
    ),
    "created, never started (interrupted): start": Case(ALWAYS, [sandbox(), ctr(state="created")], start=(("c", 1),)),
    "created with an error under Never: stays": Case(
        NEVER, [sandbox(), ctr(state="created", exit_code=128, error="no such file")], stop_sandbox=True
    ),
    "in an old sandbox: killed": Case(
        ALWAYS, [sandbox(), ctr(in_sandbox="old")], kill=("Container c is in an old pod sandbox, will be restarted",)
    ),
    "image changed: killed": Case(
        ALWAYS, [sandbox(), ctr(image="other:1")], kill=("Container c definition changed, will be restarted",)
    ),
    "image changed under Never: killed, no restart promised": Case(
        NEVER, [sandbox(), ctr(image="other:1")], kill=("Container c definition changed",)
    ),
    "restart count follows the newest record": Case(
        ALWAYS,
        [sandbox(), ctr(state="exited", exit_code=1, finished=900, restarts=3), ctr(state="exited", restarts=4)],
        start=(("c", 5),),
    ),
}


@pytest.mark.parametrize(
    "case", [*SANDBOX_CASES.values(), *CONTAINER_CASES.values()], ids=[*SANDBOX_CASES, *CONTAINER_CASES]
)
def test_compute_pod_actions(case: Case) -> None:
    actions = compute_pod_actions(case.pod, case.records, BackoffState(), NOW)
    assert summary(actions) == Case(ALWAYS, [], **{k: v for k, v in vars(case).items() if k not in ("pod", "records")})


def test_failed_liveness_probe_kills_with_the_probes_grace_period() -> None:
    live = simple(extra="    livenessProbe: {exec: {command: [x]}, terminationGracePeriodSeconds: 3}\n")
    actions = compute_pod_actions(
        live, [sandbox(), ctr(cid="x1")], BackoffState(), NOW, probe_failures={"x1": "liveness"}
    )
    (victim,) = actions.containers_to_kill
    assert (victim.reason, victim.grace) == ("Container c failed liveness probe, will be restarted", 3)
    assert not actions.containers_to_start and not actions.stop_sandbox


def test_killed_container_is_not_started_in_the_same_step() -> None:
    """A killed container is decided again once it has stopped (its exit code and the backoff decide)."""
    actions = compute_pod_actions(ALWAYS, [sandbox(), ctr(image="x:1")], BackoffState(), NOW)
    assert actions.again and not actions.containers_to_start


BACKOFF_CASES = [
    # (backoff seconds, seconds since finished, seconds since last restart, seconds left or None if it starts)
    (10.0, 1.0, 30.0, 9.0),
    (10.0, 12.0, 30.0, None),
    (40.0, 5.0, 300.0, 35.0),
    (300.0, 299.0, 500.0, 1.0),
    (300.0, 1.0, 700.0, None),  # ran more than 10 minutes since the last restart: backoff starts over
]


@pytest.mark.parametrize(("backoff", "since_finished", "since_restart", "left"), BACKOFF_CASES)
def test_crash_loop_backoff(backoff: float, since_finished: float, since_restart: float, left: float | None) -> None:
    state = BackoffState({KEY: (backoff, NOW - since_restart)})
    records = [sandbox(), ctr(state="exited", exit_code=1, finished=since_finished, restarts=2)]
    actions = compute_pod_actions(ALWAYS, records, state, NOW)
    if left is None:
        (todo,) = actions.containers_to_start
        assert (todo.restart_count, todo.backoff_key, todo.finished_at) == (3, KEY, NOW - since_finished)
        assert not actions.backing_off
        return
    (waiting,) = actions.backing_off
    assert waiting.seconds_left == pytest.approx(left)
    assert actions.wake_in == pytest.approx(left + 0.05)
    assert not actions.containers_to_start and not actions.stop_sandbox


def test_backoff_message_is_the_kubelets() -> None:
    state = BackoffState({KEY: (80.0, NOW - 60)})
    records = [sandbox(), ctr(state="exited", exit_code=1, finished=1)]
    (waiting,) = compute_pod_actions(ALWAYS, records, state, NOW).backing_off
    who = f"web-node-1_default({ALWAYS.uid})"
    assert waiting.message == f"back-off 1m20s restarting failed container=c pod={who}"
    assert waiting.event == f"Back-off restarting failed container c in pod {who}"


INIT_CASES = {
    "first init container first": ([sandbox()], (("i1", 0),), False),
    "running init container: wait": ([sandbox(), ctr("i1")], (), False),
    "then the second": ([sandbox(), ctr("i1", "exited", exit_code=0, finished=1)], (("i2", 0),), False),
    "failed init container restarts": ([sandbox(), ctr("i1", "exited", exit_code=1, finished=1)], (("i1", 1),), False),
    "init done in another sandbox does not count": (
        [sandbox(), ctr("i1", "exited", exit_code=0, finished=1, in_sandbox="old")],
        (("i1", 1),),
        False,
    ),
    "all done: the app container": (
        [sandbox(), ctr("i1", "exited", exit_code=0, finished=9), ctr("i2", "exited", exit_code=0, finished=1)],
        (("c", 0),),
        True,
    ),
}


@pytest.mark.parametrize(("records", "start", "init_done"), INIT_CASES.values(), ids=list(INIT_CASES))
def test_init_containers_run_one_at_a_time(
    records: list[ContainerRecord], start: tuple[tuple[str, int], ...], init_done: bool
) -> None:
    actions = compute_pod_actions(INIT, records, BackoffState(), NOW)
    assert tuple((s.container.name, s.restart_count) for s in actions.containers_to_start) == start
    assert all(s.init != init_done for s in actions.containers_to_start)
    assert actions.init_done is init_done and not actions.stop_sandbox


def test_failed_init_container_under_never_fails_the_pod_without_actions() -> None:
    text = f"""
apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  restartPolicy: Never
  initContainers: [{{name: i1, image: {IMAGE}}}]
  containers: [{{name: c, image: {IMAGE}}}]
"""
    actions = compute_pod_actions(
        pod(text), [sandbox(), ctr("i1", "exited", exit_code=1, finished=1)], BackoffState(), NOW
    )
    assert actions == PodActions(sandbox=actions.sandbox)


@pytest.mark.parametrize(
    ("state", "exit_code", "policy", "expected"),
    [
        ("running", None, "Always", False),
        ("exited", 0, "Always", True),
        ("exited", 0, "OnFailure", False),
        ("exited", 1, "OnFailure", True),
        ("exited", 1, "Never", False),
        ("dead", 1, "Always", True),
        ("created", None, "Never", True),
        ("created", 127, "OnFailure", True),
        ("created", 127, "Never", False),
    ],
)
def test_should_restart_is_the_kubelets_rule(state: str, exit_code: int | None, policy: str, expected: bool) -> None:
    assert should_restart(ctr(state=state, exit_code=exit_code), policy) is expected


def test_never_created_container_always_starts() -> None:
    assert should_restart(None, "Never")
