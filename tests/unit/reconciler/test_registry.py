"""PodRegistry: one pod per full name, diffs of complete sets, orphans - with stub workers, no threads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from bootstrap.reconciler import model
from bootstrap.reconciler.registry import PodRegistry, Worker
from bootstrap.reconciler.runtime import ContainerRecord, naming
from bootstrap.reconciler.status import PodStatus
from tests.unit.reconciler.conftest import IMAGE, simple
from tests.unit.reconciler.conftest import pod as parse


@dataclass
class StubWorker:
    pod: model.StaticPod
    uid: str = ""
    full_name: str = ""
    synced: threading.Event = field(default_factory=threading.Event)
    terminating: bool = False
    started: bool = False
    last_status: PodStatus | None = None
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.uid, self.full_name = self.pod.uid, self.pod.full_name

    def start(self) -> None:
        self.calls.append("start")

    def wake(self) -> None:
        self.calls.append("wake")

    def update(self, pod: model.StaticPod) -> None:
        self.pod = pod
        self.calls.append("update")

    def terminate(self) -> None:
        self.terminating = True
        self.calls.append("terminate")

    def shutdown(self) -> None:
        self.calls.append("shutdown")

    def join(self, timeout: float | None = None) -> None:
        del timeout


def registry() -> tuple[PodRegistry, dict[str, StubWorker]]:
    made: dict[str, StubWorker] = {}

    def make(pod: model.StaticPod) -> Worker:
        made[pod.uid] = StubWorker(pod)
        return made[pod.uid]

    return PodRegistry({"file"}, make), made


def no_duplicates(pod: model.StaticPod, source: str, holder: str) -> None:
    raise AssertionError(f"unexpected duplicate {pod.full_name} from {source} (held by {holder})")


def test_a_new_pod_gets_a_started_worker_and_may_start() -> None:
    reg, made = registry()
    pod = simple()
    reg.set_source("file", [pod], no_duplicates)
    assert made[pod.uid].calls == ["start"]
    assert reg.may_start(made[pod.uid]) and reg.sources_ready


def test_a_replacement_waits_until_the_old_pod_is_done_then_is_woken() -> None:
    reg, made = registry()
    old, new = simple(), simple(args="netexec")
    reg.set_source("file", [old], no_duplicates)
    reg.set_source("file", [new], no_duplicates)
    assert made[old.uid].calls == ["start", "terminate"]
    assert not reg.may_start(made[new.uid])
    dropped: list[PodStatus] = []
    following = reg.worker_done(made[old.uid], dropped.append)
    assert following == [made[new.uid]] and reg.may_start(made[new.uid])
    assert dropped == []  # the new pod owns the name's status since it was added


def test_same_uid_with_new_content_is_updated_in_place() -> None:
    reg, made = registry()
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, uid: fixed}\nspec:\n  containers: [{name: c, image: %s}]\n"
    pod, changed = parse(text % IMAGE), parse(text % "other:1")
    assert pod.uid == changed.uid
    reg.set_source("file", [pod], no_duplicates)
    reg.set_source("file", [changed], no_duplicates)
    assert made[pod.uid].calls == ["start", "update"]


def test_a_name_already_provided_by_another_source_is_refused() -> None:
    reg, made = registry()
    pod = simple()
    reg.set_source("file", [pod], no_duplicates)
    refused: list[tuple[str, str]] = []
    reg.set_source("http", [simple()], lambda p, source, holder: refused.append((source, holder)))
    assert refused == [("http", "file")] and len(made) == 1


def test_a_pod_wanted_again_while_terminating_restarts_once_done() -> None:
    reg, made = registry()
    pod = simple()
    reg.set_source("file", [pod], no_duplicates)
    reg.set_source("file", [], no_duplicates)
    first = made[pod.uid]
    reg.set_source("file", [pod], no_duplicates)
    assert made[pod.uid] is first  # not two workers for one UID
    reg.worker_done(first, lambda status: None)
    assert made[pod.uid] is not first and made[pod.uid].calls == ["start"]


def running_record(pod: model.StaticPod) -> ContainerRecord:
    labels = {naming.POD_UID: "old-uid", naming.POD_NAME: pod.name, naming.POD_NAMESPACE: pod.namespace}
    return ContainerRecord("x", "k8s_c", labels, "running", "img")


def test_an_older_generation_found_at_start_holds_the_name_until_judged_and_stopped() -> None:
    reg, made = registry()
    pod = simple()
    record = running_record(pod)
    reg.note_running([record])
    reg.set_source("file", [pod], no_duplicates)
    assert not reg.may_start(made[pod.uid])
    terminators: list[StubWorker] = []

    def terminator(records: list[ContainerRecord]) -> Worker:
        terminators.append(StubWorker(pod, terminating=True, started=True))
        terminators[-1].uid = records[0].pod_uid
        return terminators[-1]

    starters, waiting = reg.judge_orphans({"old-uid": [record]}, terminator)
    assert starters == terminators and waiting == [made[pod.uid]]
    assert not reg.may_start(made[pod.uid])  # the terminator is first in the name's queue
    reg.worker_done(terminators[0], lambda status: None)
    assert reg.may_start(made[pod.uid])


def test_orphans_are_not_judged_before_every_source_was_read() -> None:
    reg, _ = registry()
    pod = simple()
    assert reg.judge_orphans({"old-uid": [running_record(pod)]}, lambda records: StubWorker(pod)) == ([], [])


def test_a_closed_registry_takes_no_more_sets() -> None:
    reg, made = registry()
    reg.close()
    reg.set_source("file", [simple()], no_duplicates)
    assert not made and not reg.sources_ready
