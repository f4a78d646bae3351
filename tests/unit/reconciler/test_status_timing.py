"""When a pod's status goes out, as the kubelet's does: at the pod's first sync before anything starts (so the mirror
pod appears then), and a waiting reason a sync finds only from the kubelet's next sync of the pod on (a crashed
container shows `terminated` through its back-off, `waiting` in CrashLoopBackOff only when a sync comes)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest

from bootstrap.reconciler.events import Event
from bootstrap.reconciler.manager import Reconciler
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.runtime import ContainerRecord
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import ContainerStatus, PodStatus
from tests.support.fake_runtime import FakeRuntime
from tests.support.wait import wait_until

from .conftest import IMAGE, no_sources, simple

SOURCE = "http"


class Statuses:
    """Every status the reconciler publishes, with the pod's containers the runtime had at that moment (the
    recorder calls its listeners on the worker's thread, in order)."""

    def __init__(self, fake: FakeRuntime) -> None:
        self.fake = fake
        self.seen: list[tuple[PodStatus, list[ContainerRecord]]] = []
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        del event

    def on_pod_status(self, status: PodStatus) -> None:
        containers = [r for r in self.fake.list(status.uid) if not r.is_sandbox]
        with self._lock:
            self.seen.append((status, containers))

    def on_pod_removed(self, status: PodStatus) -> None:
        del status

    def all(self) -> list[PodStatus]:
        with self._lock:
            return [s for s, _ in self.seen]

    def first(self) -> tuple[PodStatus, list[ContainerRecord]]:
        return wait_until("a first status", lambda: self.seen[0] if self.seen else None, timeout=5, interval=0.05)

    def when(self, check: Callable[[PodStatus], bool], what: str, timeout: float = 5) -> PodStatus:
        return wait_until(what, lambda: next((s for s in self.all() if check(s)), None), timeout=timeout, interval=0.05)


def listen(reconciler: Reconciler, fake: FakeRuntime) -> Statuses:
    statuses = Statuses(fake)
    reconciler.recorder.add_listener(statuses)
    return statuses


def c(status: PodStatus, name: str = "c") -> ContainerStatus:
    found = status.container(name)
    assert found is not None, status
    return found


def test_the_first_status_goes_out_before_any_container_starts(reconciler: Reconciler, fake: FakeRuntime) -> None:
    statuses = listen(reconciler, fake)
    reconciler.on_set(SOURCE, [simple()])
    first, containers = statuses.first()
    assert containers == []  # published before the sync created anything
    assert first.phase == "Pending" and first.start_time is not None
    assert (c(first).state.kind, c(first).state.reason) == ("waiting", "ContainerCreating")
    assert first.pod_ip is None or first.pod_ip == "10.0.0.1"
    condition = first.condition("Ready")
    assert condition is not None and (condition.status, condition.reason) == ("False", "ContainersNotReady")
    ready_to_start = first.condition("PodReadyToStartContainers")
    assert ready_to_start is not None and ready_to_start.status == "False"
    statuses.when(lambda s: c(s).running, "running")


def test_a_pod_with_init_containers_starts_pending_with_every_container_initializing(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    statuses = listen(reconciler, fake)
    init = f"  initContainers:\n  - {{name: init, image: {IMAGE}, args: [pause]}}\n"
    reconciler.on_set(SOURCE, [simple(spec=init)])
    first, containers = statuses.first()
    assert containers == []
    assert (c(first, "init").state.kind, c(first, "init").state.reason) == ("waiting", "PodInitializing")
    assert (c(first).state.kind, c(first).state.reason) == ("waiting", "PodInitializing")
    initialized = first.condition("Initialized")
    assert initialized is not None and (initialized.status, initialized.reason) == ("False", "ContainersNotInitialized")
    later = statuses.when(lambda s: c(s, "init").running, "the init container running")
    assert (c(later).state.kind, c(later).state.reason) == ("waiting", "PodInitializing")


def crash_twice(reconciler: Reconciler, fake: FakeRuntime) -> None:
    """Start the pod, crash its container (restarted at once), crash it again: it is now in back-off."""
    reconciler.on_set(SOURCE, [simple()])
    first = wait_until("first start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.05)[0]
    fake.exit(first.id, 1)
    second = wait_until("immediate restart", lambda: fake.by_name("c", running=True), timeout=2, interval=0.05)[0]
    fake.exit(second.id, 1)


def syncs_of(fake: FakeRuntime, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many syncs the pod workers have begun: each lists its pod's containers (the relist lists them all)."""
    count = [0]
    real = fake.list

    def counting(pod_uid: str | None = None) -> list[ContainerRecord]:
        count[0] += pod_uid is not None
        return real(pod_uid)

    monkeypatch.setattr(fake, "list", counting)
    return lambda: count[0]


def test_a_crashed_container_shows_terminated_through_its_backoff_whatever_wakes_the_worker(
    reconciler: Reconciler, fake: FakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconciler.crash_backoff = Backoff(initial=60, maximum=60, reset_after=600)
    statuses = listen(reconciler, fake)
    syncs = syncs_of(fake, monkeypatch)
    crash_twice(reconciler, fake)
    crashed = statuses.when(lambda s: c(s).restart_count == 1 and not c(s).running, "the second crash")
    assert (crashed.phase, c(crashed).state.kind, c(crashed).state.reason) == ("Running", "terminated", "Error")
    last = c(crashed).last_state
    assert last is not None and (last.kind, last.exit_code) == ("terminated", 1)  # the first crash
    worker = reconciler.registry.worker(crashed.uid)
    assert worker is not None
    for _ in range(3):  # Docker events, relists, probes: wake-ups for no new change, which are no kubelet sync
        before = syncs()
        worker.wake()
        wait_until("another sync", lambda b=before: syncs() > b, timeout=5, interval=0.02)  # type: ignore[misc]
    shown = [s for s in statuses.all() if c(s).restart_count == 1 and not c(s).running]
    assert [c(s).state.kind for s in shown] == ["terminated"] * len(shown)
    assert [e.reason for e in reconciler.recorder.recent()].count("BackOff") == 1


def test_the_sync_at_the_backoffs_end_shows_crash_loop_back_off_before_it_restarts_the_container(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    statuses = listen(reconciler, fake)
    crash_twice(reconciler, fake)
    crashed = statuses.when(lambda s: c(s).restart_count == 1 and not c(s).running, "the second crash")
    assert c(crashed).state.kind == "terminated"
    backing_off = statuses.when(lambda s: c(s).reason == "CrashLoopBackOff", "CrashLoopBackOff at the back-off's end")
    assert c(backing_off).restart_count == 1 and (c(backing_off).state.message or "").startswith("back-off ")
    last = c(backing_off).last_state
    assert last is not None and (last.kind, last.reason) == ("terminated", "Error")
    after = statuses.when(lambda s: c(s).running and c(s).restart_count == 2, "the restart after the back-off")
    order = statuses.all()
    assert order.index(crashed) < order.index(backing_off) < order.index(after)


def test_a_backoff_longer_than_the_resync_shows_crash_loop_back_off_from_the_resync_on(
    settings: Settings, fake: FakeRuntime
) -> None:
    reconciler = Reconciler(dataclasses.replace(settings, resync_period=0.5), runtime=fake, sources=no_sources)
    reconciler.crash_backoff = Backoff(initial=60, maximum=60, reset_after=600)
    statuses = listen(reconciler, fake)
    reconciler.start()
    try:
        crash_twice(reconciler, fake)
        crashed = statuses.when(lambda s: c(s).restart_count == 1 and not c(s).running, "the second crash")
        assert c(crashed).state.kind == "terminated"
        backing_off = statuses.when(lambda s: c(s).reason == "CrashLoopBackOff", "CrashLoopBackOff at the resync")
        assert "back-off 1m0s" in (c(backing_off).state.message or "")
        assert not fake.by_name("c", running=True)  # still backing off
    finally:
        reconciler.stop()
