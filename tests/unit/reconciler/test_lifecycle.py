"""Pod lifecycle against the FakeRuntime: start, restart with backoff, policies, replace, remove, adopt."""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path

import pytest

from bootstrap.reconciler.apiserver.settings import ApiServerSettings
from bootstrap.reconciler.manager import Reconciler
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.runtime import ExecResult
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import read_status
from tests.support.fake_runtime import FakeRuntime
from tests.support.wait import wait_until
from tests.unit.reconciler.conftest import no_sources

from .conftest import IMAGE, simple, status_when

SOURCE = "http"


def running(fake: FakeRuntime, container: str = "c") -> list[str]:
    return [r.name for r in fake.by_name(container, running=True)]


def test_pod_gets_a_pause_sandbox_and_its_containers_with_docker_era_names_and_labels(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    pod = simple()
    reconciler.on_set(SOURCE, [pod])
    wait_until("container running", lambda: running(fake), timeout=5, interval=0.1)
    sandbox = fake.by_name("POD")[0]
    app = fake.by_name("c")[0]
    assert sandbox.name == f"k8s_POD_web-node-1_default_{pod.uid}_0"
    assert app.name == f"k8s_c_web-node-1_default_{pod.uid}_0"
    assert app.labels["io.kubernetes.pod.name"] == "web-node-1"
    assert app.labels["io.kubernetes.container.name"] == "c"
    assert app.labels["io.kubernetes.sandbox.id"] == sandbox.id
    assert app.labels["annotation.io.kubernetes.container.restartCount"] == "0"
    assert sandbox.labels["annotation.kubernetes.io/config.hash"] == pod.uid
    assert sandbox.labels["io.kubernetes.docker.type"] == "podsandbox"
    spec = fake.specs[app.id]
    assert spec.network_mode == f"container:{sandbox.id}" and spec.ipc_mode == f"container:{sandbox.id}"
    assert spec.cmd == ("pause",) and spec.entrypoint is None


def test_crashed_container_restarts_at_once_then_after_the_backoff(reconciler: Reconciler, fake: FakeRuntime) -> None:
    pod = simple()
    reconciler.on_set(SOURCE, [pod])
    first = wait_until("first start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    fake.exit(first.id, 1)
    second = wait_until("immediate restart", lambda: fake.by_name("c", running=True), timeout=2, interval=0.1)[0]
    assert second.attempt == 1
    fake.exit(second.id, 1)
    status = status_when(  # terminated through the back-off, as under the kubelet (test_status_timing.py)
        reconciler.settings.state_dir,
        lambda s: s.container_statuses[0].restart_count == 1 and not s.container_statuses[0].running,
        "the second crash",
    )
    container = status.container_statuses[0]
    assert container.last_state is not None and container.last_state.exit_code == 1
    assert (container.state.kind, container.state.exit_code) == ("terminated", 1)
    began = time.monotonic()
    third = wait_until("restart after backoff", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    assert third.attempt == 2
    assert time.monotonic() - began >= 0.2  # waited for (most of) the 0.4 s backoff


def test_restart_policy_on_failure_leaves_a_successful_container_stopped(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    reconciler.on_set(SOURCE, [simple(spec="  restartPolicy: OnFailure\n")])
    first = wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    fake.exit(first.id, 0)
    status = status_when(reconciler.settings.state_dir, lambda s: s.phase == "Succeeded", "Succeeded")
    assert status.container_statuses[0].state.reason == "Completed"
    assert not fake.by_name("c", running=True)
    assert not fake.by_name("POD", running=True)  # the sandbox of a finished pod is stopped


def test_restart_policy_never_reports_failed(reconciler: Reconciler, fake: FakeRuntime) -> None:
    reconciler.on_set(SOURCE, [simple(spec="  restartPolicy: Never\n")])
    first = wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    fake.exit(first.id, 2)
    status = status_when(reconciler.settings.state_dir, lambda s: s.phase == "Failed", "Failed")
    assert status.container_statuses[0].exit_code == 2
    time.sleep(0.5)
    assert len(fake.by_name("c")) == 1


def test_changed_manifest_replaces_the_pod_after_the_old_one_stopped(reconciler: Reconciler, fake: FakeRuntime) -> None:
    old = simple()
    reconciler.on_set(SOURCE, [old])
    wait_until("old pod", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)
    new = simple(args="pause, --x")
    assert new.uid != old.uid
    reconciler.on_set(SOURCE, [new])
    wait_until(
        "new pod", lambda: [r for r in fake.by_name("c", running=True) if r.pod_uid == new.uid], timeout=5, interval=0.1
    )
    names = [name for action, name in fake.calls if action in ("stop", "start")]
    stopped_old = names.index(f"k8s_c_web-node-1_default_{old.uid}_0")
    started_new = names.index(f"k8s_c_web-node-1_default_{new.uid}_0")
    assert stopped_old < started_new
    assert all(r.pod_uid == new.uid for r in fake.by_name("c", running=True))


def test_removed_pod_is_stopped_and_only_its_last_dead_container_kept(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    pod = simple()
    reconciler.on_set(SOURCE, [pod])
    first = wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    fake.exit(first.id, 1)
    wait_until("restart", lambda: fake.by_name("c", running=True), timeout=3, interval=0.1)
    reconciler.on_set(SOURCE, [])
    wait_until(
        "pod stopped",
        lambda: not fake.by_name("c", running=True) and len(fake.by_name("c")) == 1,
        timeout=5,
        interval=0.1,
    )
    assert fake.by_name("c")[0].attempt == 1  # the newest instance stays for `kbs logs`
    assert not fake.by_name("POD")
    wait_until(
        "status removed",
        lambda: read_status(reconciler.settings.state_dir, "default", "web-node-1") is None,
        timeout=2,
        interval=0.1,
    )


def test_liveness_failure_kills_and_restarts_the_container(reconciler: Reconciler, fake: FakeRuntime) -> None:
    sick: set[str] = set()
    fake.exec_results = lambda cid, _cmd: ExecResult(1 if cid in sick else 0, b"unhealthy")
    probe = "    livenessProbe:\n      exec: {command: [/check]}\n      periodSeconds: 1\n      failureThreshold: 1\n"
    reconciler.on_set(SOURCE, [simple(extra=probe)])
    first = wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    sick.add(first.id)
    second = wait_until(
        "restart", lambda: [r for r in fake.by_name("c", running=True) if r.id != first.id], timeout=6, interval=0.1
    )[0]
    assert second.attempt == 1
    assert fake.containers[first.id].exit_code == fake.stop_exit_code
    events = [e for e in reconciler.recorder.recent() if e.reason in ("Unhealthy", "Killing")]
    assert any(e.reason == "Unhealthy" and "Liveness probe failed" in e.message for e in events)
    assert any(e.reason == "Killing" and "failed liveness probe, will be restarted" in e.message for e in events)


def test_readiness_is_reflected_in_status(reconciler: Reconciler, fake: FakeRuntime) -> None:
    ready = {"ok": False}
    fake.exec_results = lambda _id, _cmd: ExecResult(0 if ready["ok"] else 1)
    probe = "    readinessProbe:\n      exec: {command: [/ready]}\n      periodSeconds: 1\n"
    reconciler.on_set(SOURCE, [simple(extra=probe)])
    state = reconciler.settings.state_dir
    status_when(state, lambda s: s.phase == "Running", "running")
    assert not read_status(state, "default", "web-node-1").ready  # type: ignore[union-attr]
    ready["ok"] = True
    status_when(state, lambda s: s.ready, "ready")


def test_image_pull_errors_show_err_image_pull_then_image_pull_backoff(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    missing = "registry.invalid/none:1"
    fake.pull_errors[missing] = "dial tcp: lookup registry.invalid: no such host"
    pod = simple(extra="").manifest
    pod["spec"]["containers"][0]["image"] = missing
    import yaml

    from .conftest import pod as make

    reconciler.on_set(SOURCE, [make(yaml.safe_dump({**pod, "metadata": {"name": "web"}}))])
    state = reconciler.settings.state_dir
    reasons = set()

    def seen_both() -> bool:
        s = read_status(state, "default", "web-node-1")
        if s and s.container_statuses:
            reasons.add(s.container_statuses[0].reason)
        return {"ErrImagePull", "ImagePullBackOff"} <= reasons

    wait_until("ErrImagePull and ImagePullBackOff", seen_both, timeout=5, interval=0.1)


def test_never_pull_policy_with_missing_image(reconciler: Reconciler, fake: FakeRuntime) -> None:
    fake.images.discard(IMAGE)
    reconciler.on_set(SOURCE, [simple(extra="    imagePullPolicy: Never\n")])
    status = status_when(
        reconciler.settings.state_dir,
        lambda s: s.container_statuses[0].reason == "ErrImageNeverPull",
        "ErrImageNeverPull",
    )
    assert "not present with pull policy of Never" in (status.container_statuses[0].state.message or "")
    assert ("pull", IMAGE) not in fake.calls


def test_restarted_reconciler_adopts_running_containers(settings: Settings, fake: FakeRuntime) -> None:
    pod = simple()
    first = Reconciler(settings, runtime=fake, sources=no_sources)
    first.start()
    first.on_set(SOURCE, [pod])
    wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)
    first.stop()
    calls = len(fake.calls)
    second = Reconciler(settings, runtime=fake, sources=no_sources)
    second.start()
    try:
        second.on_set(SOURCE, [simple()])
        assert second.wait_synced(5)
        time.sleep(0.5)
        assert [a for a, _ in fake.calls[calls:] if a in ("create", "start", "stop", "remove")] == []
    finally:
        second.stop()


def test_orphans_are_removed_only_once_their_source_was_read(settings: Settings, fake: FakeRuntime) -> None:
    first = Reconciler(settings, runtime=fake, sources=no_sources)
    first.start()
    first.on_set(SOURCE, [simple()])
    wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)
    first.stop()
    second = Reconciler(settings, runtime=fake, sources=no_sources)
    second.crash_backoff = Backoff(initial=0.4)
    second.start()
    try:
        time.sleep(0.6)  # several relists: the source has not been read, the container must survive
        assert fake.by_name("c", running=True)
        second.on_set(SOURCE, [])
        wait_until("orphan stopped", lambda: not fake.by_name("c", running=True), timeout=5, interval=0.1)
    finally:
        second.stop()


def test_docker_outage_recreates_the_sandbox_and_restarts_containers(reconciler: Reconciler, fake: FakeRuntime) -> None:
    reconciler.on_set(SOURCE, [simple()])
    wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)
    for record in list(fake.containers.values()):
        fake.exit(record.id, 0)  # what an engine restart does to every container
    wait_until("new sandbox", lambda: fake.by_name("POD", running=True), timeout=5, interval=0.1)
    sandbox = fake.by_name("POD", running=True)[0]
    assert sandbox.attempt == 1
    app = wait_until("container back", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    assert app.attempt == 1 and app.sandbox_id == sandbox.id


def test_init_containers_run_to_completion_in_order_before_the_app_containers(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    p = simple(
        spec=f"""  initContainers:
  - {{name: init-a, image: {IMAGE}, args: [a]}}
  - {{name: init-b, image: {IMAGE}, args: [b]}}
"""
    )
    reconciler.on_set(SOURCE, [p])
    a = wait_until("init-a", lambda: fake.by_name("init-a", running=True), timeout=5, interval=0.1)[0]
    assert not fake.by_name("init-b") and not fake.by_name("c")
    fake.exit(a.id, 0)
    b = wait_until("init-b", lambda: fake.by_name("init-b", running=True), timeout=5, interval=0.1)[0]
    assert not fake.by_name("c")
    waiting = status_when(reconciler.settings.state_dir, lambda s: s.init_container_statuses[1].running, "init-b")
    assert waiting.container_statuses[0].reason == "PodInitializing" and waiting.phase == "Pending"
    fake.exit(b.id, 0)
    wait_until(
        "app container after the init containers", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1
    )
    status = status_when(reconciler.settings.state_dir, lambda s: s.phase == "Running", "running")
    assert status.condition("Initialized").status == "True"  # type: ignore[union-attr]
    assert [s.state.reason for s in status.init_container_statuses] == ["Completed", "Completed"]


def test_pre_stop_hook_runs_before_the_container_is_stopped(reconciler: Reconciler, fake: FakeRuntime) -> None:
    hook = "    lifecycle: {preStop: {exec: {command: [/drain]}}}\n"
    reconciler.on_set(SOURCE, [simple(extra=hook)])
    wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)
    reconciler.on_set(SOURCE, [])
    wait_until("stopped", lambda: not fake.by_name("c", running=True), timeout=5, interval=0.1)
    actions = [(a, n) for a, n in fake.calls if a in ("exec", "stop")]
    assert actions.index(("exec", "/drain")) < next(i for i, (a, n) in enumerate(actions) if a == "stop")


def test_fixed_uid_manifest_change_restarts_only_the_changed_container(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    def two(image_b: str) -> list[object]:
        from .conftest import pod

        return [
            pod(
                f"apiVersion: v1\nkind: Pod\nmetadata: {{name: web, uid: fixed}}\nspec:\n  containers:\n"
                f"  - {{name: a, image: {IMAGE}}}\n  - {{name: b, image: {image_b}}}\n"
            )
        ]

    fake.images.add("other:1")
    reconciler.on_set(SOURCE, two(IMAGE))  # type: ignore[arg-type]
    a = wait_until("a", lambda: fake.by_name("a", running=True), timeout=5, interval=0.1)[0]
    wait_until("b", lambda: fake.by_name("b", running=True), timeout=5, interval=0.1)
    reconciler.on_set(SOURCE, two("other:1"))  # type: ignore[arg-type]
    wait_until(
        "b replaced",
        lambda: [r for r in fake.by_name("b", running=True) if r.image == "other:1"],
        timeout=5,
        interval=0.1,
    )
    assert fake.by_name("a", running=True)[0].id == a.id  # untouched


def test_listeners_get_events_statuses_and_removals(reconciler: Reconciler, fake: FakeRuntime) -> None:
    from bootstrap.reconciler.events import Event
    from bootstrap.reconciler.status import PodStatus

    class Listener:
        def __init__(self) -> None:
            self.events: list[Event] = []
            self.statuses: list[PodStatus] = []
            self.removed: list[PodStatus] = []

        def on_event(self, event: Event) -> None:
            self.events.append(event)

        def on_pod_status(self, status: PodStatus) -> None:
            self.statuses.append(status)

        def on_pod_removed(self, status: PodStatus) -> None:
            self.removed.append(status)

    listener = Listener()
    reconciler.add_listener(listener)
    p = simple()
    reconciler.on_set(SOURCE, [p])
    wait_until("Running status", lambda: any(s.phase == "Running" for s in listener.statuses), timeout=5, interval=0.1)
    assert {"Created", "Started"} <= {e.reason for e in listener.events if e.pod.uid == p.uid}
    assert next(e for e in listener.events if e.reason == "Started").field_path == "spec.containers{c}"
    reconciler.on_set(SOURCE, [])
    wait_until("removal", lambda: listener.removed, timeout=5, interval=0.1)
    assert listener.removed[0].uid == p.uid and any(s.terminating for s in listener.statuses)


def test_docker_down_at_start_then_up_runs_the_pods(settings: Settings, fake: FakeRuntime) -> None:
    fake.available = False
    r = Reconciler(settings, runtime=fake, sources=no_sources)
    r.start()
    try:
        r.on_set(SOURCE, [simple()])
        time.sleep(0.5)
        assert r.healthy()  # the reconciler itself stays up
        fake.available = True
        wait_until("pod started once Docker answers", lambda: fake.by_name("c", running=True), timeout=10, interval=0.1)
    finally:
        r.stop()


def test_publisher_starts_once_kubelet_conf_exists_and_its_api_server_listens(
    settings: Settings, fake: FakeRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `kbs init` starts the reconciler before its certs and kubeconfig phases: pods run at once, publishing follows.
    kubeconfig = tmp_path / "kubelet.conf"
    apiserver = ApiServerSettings(kubeconfig=kubeconfig, read_api_port=None)
    made: list[ApiServerSettings] = []
    monkeypatch.setattr(Reconciler, "_make_publisher", lambda self, s: made.append(s))
    r = Reconciler(dataclasses.replace(settings, apiserver=apiserver), runtime=fake, sources=no_sources)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    r.start()
    try:
        r.on_set(SOURCE, [simple()])
        status_when(settings.state_dir, lambda s: s.phase == "Running", "running without an API server")
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
            f"clusters: [{{name: k, cluster: {{server: 'https://127.0.0.1:{listener.getsockname()[1]}'}}}}]\n"
        )
        time.sleep(0.3)
        assert made == []  # the file is there, but nothing listens at its server yet
        listener.listen()
        wait_until("publisher started", lambda: made == [apiserver], timeout=5, interval=0.1)
    finally:
        r.stop()
        listener.close()


def test_fallback_to_logs_on_error_shows_the_end_of_a_failed_containers_log(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    extra = "    terminationMessagePolicy: FallbackToLogsOnError\n"
    reconciler.on_set(SOURCE, [simple(spec="  restartPolicy: Never\n", extra=extra)])
    first = wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    fake.exit(first.id, 4)
    status = status_when(reconciler.settings.state_dir, lambda s: s.phase == "Failed", "Failed")
    assert status.container_statuses[0].state.message == f"log of {first.name}\n"


def test_fallback_to_logs_on_error_leaves_a_successful_container_without_a_message(
    reconciler: Reconciler, fake: FakeRuntime
) -> None:
    extra = "    terminationMessagePolicy: FallbackToLogsOnError\n"
    reconciler.on_set(SOURCE, [simple(spec="  restartPolicy: Never\n", extra=extra)])
    first = wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    fake.exit(first.id, 0)
    status = status_when(reconciler.settings.state_dir, lambda s: s.phase == "Succeeded", "Succeeded")
    assert status.container_statuses[0].state.message is None


def test_a_pod_added_again_after_its_removal_starts_afresh(reconciler: Reconciler, fake: FakeRuntime) -> None:
    pod = simple()
    reconciler.on_set(SOURCE, [pod])
    wait_until("start", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)
    reconciler.on_set(SOURCE, [])
    wait_until("stopped", lambda: not fake.by_name("c", running=True), timeout=5, interval=0.1)
    wait_until("status gone", lambda: read_status(reconciler.settings.state_dir, "default", "web-node-1") is None,
               timeout=5, interval=0.1)  # fmt: skip
    reconciler.on_set(SOURCE, [pod])
    again = wait_until("restart", lambda: fake.by_name("c", running=True), timeout=5, interval=0.1)[0]
    assert again.attempt == 0  # not a restart of the earlier life's container
    status = status_when(reconciler.settings.state_dir, lambda s: s.container_statuses[0].running, "running")
    assert status.container_statuses[0].restart_count == 0 and status.container_statuses[0].last_state is None
