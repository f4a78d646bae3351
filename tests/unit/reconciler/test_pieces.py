"""Small parts with exact semantics: crash-loop backoff, status files, translation to Docker, probes, the CLI."""

from __future__ import annotations

import http.server
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bootstrap.cli.reconcile import parse_duration, ps, reconciler
from bootstrap.reconciler import model
from bootstrap.reconciler.flags import parse_headers
from bootstrap.reconciler.pods import grpc_health, prober, translate
from bootstrap.reconciler.pods.backoff import Backoff, format_duration
from bootstrap.reconciler.quantity import milli, whole
from bootstrap.reconciler.runtime import ExecResult
from bootstrap.reconciler.status import (
    ContainerState,
    ContainerStatus,
    PodCondition,
    PodStatus,
    read_status,
    read_statuses,
    remove_status,
    write_status,
)
from tests.support.fake_runtime import FakeRuntime

from .conftest import IMAGE, pod, simple


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_first_restart_immediate_then_doubling_to_300s_and_reset_after_10_minutes() -> None:
    clock = Clock()
    backoff = Backoff(clock=clock)
    waits = []
    for _ in range(8):
        finished = clock.now  # the container crashes right after starting
        waits.append(backoff.remaining("k", finished))
        clock.now += waits[-1]
        backoff.next("k", finished)
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300]
    clock.now += 601  # ran for more than 10 minutes
    assert backoff.remaining("k", clock.now) == 0
    backoff.next("k", clock.now)
    assert backoff.current("k") == 10
    assert format_duration(80) == "1m20s" and format_duration(300) == "5m0s" and format_duration(10) == "10s"


def test_quantities() -> None:
    assert milli("250m") == 250 and milli("1.5") == 1500 and milli(2) == 2000
    assert whole("128Mi") == 128 * 2**20 and whole("1G") == 10**9 and whole("1e3") == 1000
    with pytest.raises(ValueError):
        whole("lots")


def test_status_files_round_trip_and_read_statuses(tmp_path: Path) -> None:
    p = simple()
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    status = PodStatus(
        name=p.name,
        namespace=p.namespace,
        uid=p.uid,
        hash=p.uid,
        source="file",
        origin=p.origin,
        phase="Running",
        conditions=(PodCondition("Ready", "True", last_transition_time=started),),
        container_statuses=(
            ContainerStatus(
                name="c",
                state=ContainerState("running", started_at=started),
                last_state=ContainerState("terminated", reason="Error", exit_code=1, container_id="docker://x"),
                image=IMAGE,
                ready=True,
                started=True,
                restart_count=3,
                container_id="docker://abc",
            ),
        ),
        pod_ip="10.0.0.1",
        manifest=p.manifest,
    )
    write_status(tmp_path, status)
    back = read_status(tmp_path, "default", p.name)
    assert back is not None and back.ready and back.phase == "Running"
    c = back.container("c")
    assert c is not None and c.restart_count == 3 and c.started_at == started and c.last_state.exit_code == 1  # type: ignore[union-attr]
    assert back.pod_object()["status"]["containerStatuses"][0]["state"] == {
        "running": {"startedAt": "2026-01-02T03:04:05Z"}
    }
    assert back.pod_object()["metadata"]["uid"] == p.uid
    assert [s.name for s in read_statuses(tmp_path)] == [p.name]
    remove_status(tmp_path, "default", p.name, uid="someone-else")
    assert read_status(tmp_path, "default", p.name) is not None
    remove_status(tmp_path, "default", p.name, uid=p.uid)
    assert read_statuses(tmp_path) == [] and read_statuses(tmp_path / "missing") == []


def ctx(p: model.StaticPod, tmp_path: Path) -> translate.PodContext:
    return translate.PodContext(p, "inst", tmp_path / p.uid, node_ip="192.0.2.1", pod_ip="172.17.0.5")


def test_translation_of_a_host_network_pod_with_host_paths(tmp_path: Path) -> None:
    data, sock = tmp_path / "data", tmp_path / "missing.sock"
    p = simple(
        extra="    volumeMounts: [{name: d, mountPath: /d, readOnly: true}]\n",
        spec=f"  hostNetwork: true\n  volumes: [{{name: d, hostPath: {{path: {data}, type: DirectoryOrCreate}}}}]\n",
    )
    spec = translate.container_spec(ctx(p, tmp_path), p.spec.containers[0], "sandbox-id", 2, init=False)
    assert data.is_dir()
    assert spec.network_mode == "host" and spec.uts_mode == "host" and spec.ipc_mode == "container:sandbox-id"
    assert spec.name.endswith("_2") and spec.labels["annotation.io.kubernetes.container.restartCount"] == "2"
    assert any(m.source == str(data) and m.target == "/d" and m.read_only for m in spec.mounts)
    sandbox = translate.sandbox_spec(ctx(p, tmp_path), "pause:1", 0)
    assert sandbox.network_mode == "host" and sandbox.hostname is None
    bad = simple(
        extra="    volumeMounts: [{name: s, mountPath: /s}]\n",
        spec=f"  volumes: [{{name: s, hostPath: {{path: {sock}, type: Socket}}}}]\n",
    )
    with pytest.raises(translate.VolumeError, match=r"hostPath type check failed: .* is not a socket"):
        translate.container_spec(ctx(bad, tmp_path), bad.spec.containers[0], "sb", 0, init=False)


def test_translation_of_env_resources_and_security(tmp_path: Path) -> None:
    p = simple(
        args="'$(GREETING) $$(LITERAL)'",
        extra="""    env:
    - {name: NAME, value: world}
    - {name: GREETING, value: "hello $(NAME)"}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    resources: {requests: {cpu: 250m}, limits: {cpu: 500m, memory: 64Mi}}
    securityContext: {runAsUser: 10, runAsGroup: 20, readOnlyRootFilesystem: true, capabilities: {add: [NET_ADMIN]}}
""",
    )
    spec = translate.container_spec(ctx(p, tmp_path), p.spec.containers[0], "sb", 0, init=False)
    env = dict(e.split("=", 1) for e in spec.env)
    assert env["GREETING"] == "hello world" and env["POD"] == "web-node-1" and env["IP"] == "172.17.0.5"
    assert spec.cmd == ("hello world $(LITERAL)",)
    assert (spec.cpu_shares, spec.cpu_quota, spec.cpu_period, spec.memory) == (256, 50000, 100000, 64 * 2**20)
    assert spec.user == "10:20" and spec.read_only_rootfs and spec.cap_add == ("NET_ADMIN",)
    assert spec.network_mode == "container:sb" and "seccomp=unconfined" in spec.security_opt
    assert translate.qos_class(p.spec) == "Burstable" and translate.qos_class(simple().spec) == "BestEffort"


@pytest.fixture
def http_server() -> tuple[int, list[str]]:
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.path} {self.headers.get('User-Agent')}")
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/ok")
                self.end_headers()
                return
            self.send_response(200 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(server.server_address[1]), seen


def test_http_tcp_and_exec_probes(http_server: tuple[int, list[str]]) -> None:
    port, seen = http_server
    c = model.Container(name="c", image=IMAGE, ports=(model.Port(port, name="http"),))
    target = prober.Target(c, "cid", "127.0.0.1")
    fake = FakeRuntime()
    assert prober.run(model.HTTPGetAction(port="http", path="/ok"), target, fake, 1) == (True, "")
    assert prober.run(model.HTTPGetAction(port=port, path="/redirect"), target, fake, 1)[0]
    ok, message = prober.run(model.HTTPGetAction(port=port, path="/bad"), target, fake, 1)
    assert not ok and message == "HTTP probe failed with statuscode: 500"
    assert seen[0].startswith("/ok kube-probe/1.")
    assert prober.run(model.TCPSocketAction(port=port), target, fake, 1) == (True, "")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert not prober.run(model.TCPSocketAction(port=closed), target, fake, 1)[0]
    assert not prober.run(model.HTTPGetAction(port="nope"), target, fake, 1)[0]
    fake.exec_results = lambda _id, cmd: ExecResult(0 if cmd == ("ok",) else 3, b"bad")
    assert prober.run(model.ExecAction(("ok",)), target, fake, 1) == (True, "")
    assert prober.run(model.ExecAction(("no",)), target, fake, 1) == (False, "bad")


def test_grpc_health_wire_helpers() -> None:
    assert grpc_health._hpack_int(10, 7) == b"\x0a" and grpc_health._hpack_int(200, 7) == b"\x7f\x49"
    assert grpc_health._health_status(b"\x08\x01") == 1 and grpc_health._health_status(b"") == 0
    healthy, message = grpc_health.check("127.0.0.1", 1, "", 0.5)
    assert not healthy and "failed to connect" in message


def test_cli_helpers_and_unit_printing() -> None:
    assert parse_duration("20s") == 20 and parse_duration("1m30s") == 90 and parse_duration("500ms") == 0.5
    assert parse_headers(("a:hello,b:again", "a:more")) == (("a", "hello"), ("b", "again"), ("a", "more"))
    result = CliRunner().invoke(reconciler, ["install", "--print", "--node-name", "cp1", "--manifest-dir", "/srv/m"])
    assert result.exit_code == 0, result.output
    assert "reconcile --manifest-dir /srv/m --node-name cp1" in result.output and "Restart=always" in result.output
    bad = CliRunner().invoke(reconciler, ["install", "--print", "--file-check-frequency", "soon"])
    assert bad.exit_code == 2


def test_ps_lists_containers_with_readiness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import bootstrap.cli.reconcile as cli

    fake = FakeRuntime(images=(IMAGE,))
    p = pod(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: web}}\nspec:\n  containers: [{{name: c, image: {IMAGE}}}]\n")
    spec = translate.container_spec(ctx(p, tmp_path), p.spec.containers[0], "sb", 0, init=False)
    fake.start(fake.create(spec))
    monkeypatch.setattr(cli, "_runtime", lambda _host: fake)
    result = CliRunner().invoke(ps, ["--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == [
        "CONTAINER", "POD", "NAMESPACE", "NAME", "STATE", "READY", "RESTARTS", "AGE", "IMAGE"
    ]  # fmt: skip
    assert "web-node-1" in result.output and "Running" in result.output
    as_json = CliRunner().invoke(ps, ["-o", "json", "--state-dir", str(tmp_path)])
    assert '"pod": "web-node-1"' in as_json.output


def test_systemd_install_refuses_without_systemd_and_writes_the_unit_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from bootstrap.errors import KbsError
    from bootstrap.reconciler import systemd

    unit = tmp_path / "kbs-reconciler.service"
    with pytest.raises(KbsError, match="systemd is not running this machine"):
        systemd.install(["--node-name", "cp1"], path=unit, run_dir=tmp_path / "no-systemd")
    run_dir = tmp_path / "run-systemd"
    run_dir.mkdir()
    calls: list[list[str]] = []

    def run(args: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr("shutil.which", lambda _name: "/bin/systemctl")
    monkeypatch.setattr("subprocess.run", run)
    systemd.install(["--node-name", "cp1"], path=unit, run_dir=run_dir)
    assert "reconcile --node-name cp1" in unit.read_text() and "KillMode=process" in unit.read_text()
    assert calls == [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "kbs-reconciler.service"]]


def test_healthz_answers_ok_while_the_loop_runs_and_500_when_it_does_not() -> None:
    import urllib.error
    import urllib.request

    from bootstrap.reconciler.daemon import HealthServer

    ok = [True]
    server = HealthServer(lambda: ok[0], "127.0.0.1", 0)
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2) as answer:
            assert answer.read() == b"ok"
        ok[0] = False
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2)
        assert failed.value.code == 500
    finally:
        server.stop()


def test_reconcile_takes_defaults_from_a_config_file_and_flags_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bootstrap.cli.reconcile import reconcile
    from bootstrap.reconciler import manager

    seen: list[object] = []

    class Stub:
        def __init__(self, settings: object) -> None:
            seen.append(settings)

        def run_forever(self) -> None:
            return

    monkeypatch.setattr(manager, "Reconciler", Stub)
    config = tmp_path / "kbs.yaml"
    config.write_text(
        "apiVersion: kbs.dev/v1alpha1\nkind: KbsConfiguration\n"
        f"staticPodPath: {tmp_path}/m\nreconciler:\n  healthzPort: 18249\n  fileCheckFrequency: 5s\n"
    )
    result = CliRunner().invoke(reconcile, ["--config", str(config), "--node-name", "cp9", "--healthz-port", "0"])
    assert result.exit_code == 0, result.output
    settings = seen[0]
    assert settings.manifest_dir == tmp_path / "m" and settings.file_check_frequency == 5  # type: ignore[attr-defined]
    assert settings.node_name == "cp9" and settings.healthz_port is None  # type: ignore[attr-defined]
