"""Keeping the reconciler running (detached mode) and waiting for health, without Docker or a cluster."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import msgspec
import pytest

from bootstrap.config.effective import KbsConfig
from bootstrap.errors import WaitTimeoutError
from bootstrap.phases import dryrun, health, supervise, wait_control_plane
from bootstrap.phases.context import InitData, InitOptions
from tests.support.reporter import Collect
from tests.unit.phases.conftest import make_cfg

FAKE_RECONCILER = [sys.executable, "-c", "import time; time.sleep(60)", "kbs", "reconcile"]


def test_detached_reconciler_is_started_once_found_running_and_stopped(
    cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervise, "command", lambda cfg: FAKE_RECONCILER)
    monkeypatch.setattr(supervise, "systemd_runs_machine", lambda: False)
    assert not supervise.state(cfg).running
    pid = supervise.start_detached(cfg)
    try:
        state = supervise.state(cfg)
        assert state.running and state.pid == pid
        assert supervise.pidfile(cfg).read_text().strip() == str(pid)
        assert supervise.logfile(cfg).exists()
    finally:
        stopped = supervise.stop(cfg)
    assert stopped == f"stopped the reconciler (pid {pid})"
    assert not supervise.state(cfg).running


def test_a_stale_pidfile_reads_as_not_running(cfg: KbsConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervise, "systemd_runs_machine", lambda: False)
    supervise.pidfile(cfg).parent.mkdir(parents=True)
    supervise.pidfile(cfg).write_text("1\n")  # pid 1 is not a kbs reconciler
    state = supervise.state(cfg)
    assert not state.running and "stale" in state.detail


def _probe(component: str, healthy: bool) -> health.Probe:
    return health.Probe(component, f"https://x/{component}", healthy, "ok" if healthy else "connection refused")


def test_wait_returns_when_all_components_are_healthy(data: InitData) -> None:
    answers = {"etcd": iter([False, True]), "kube-apiserver": iter([False, False, True])}
    names = [e.component for e in health.endpoints(data.cfg)]

    def probe(endpoint: health.Endpoint) -> health.Probe:
        return _probe(endpoint.component, next(answers.get(endpoint.component, iter([True]))))

    state = wait_control_plane.poll(data, 10, probe=probe, interval=0.001)
    assert state.all_healthy() and set(state.healthy_after) == set(names)


def test_a_hanging_endpoint_delays_only_its_own_verdict(data: InitData) -> None:
    release = threading.Event()

    def probe(endpoint: health.Endpoint) -> health.Probe:
        if endpoint.component == "kube-apiserver":
            release.wait(5)
        return _probe(endpoint.component, True)

    seen: list[set[str]] = []

    def on_round(state: wait_control_plane.WaitState) -> None:
        seen.append(set(state.healthy_after))
        if "etcd" in state.healthy_after:
            release.set()  # the others were judged while the API server's probe still hung

    state = wait_control_plane.poll(data, 10, probe=probe, on_round=on_round, interval=0.001)
    assert state.all_healthy()
    assert any("etcd" in s and "kube-apiserver" not in s for s in seen)


def test_wait_gives_up_after_the_timeout(data: InitData) -> None:
    state = wait_control_plane.poll(data, 0.05, probe=lambda e: _probe(e.component, False), interval=0.001)
    assert not state.all_healthy() and state.healthy_after == {}


def test_wait_times_out_with_a_diagnosis_naming_the_unhealthy_component(
    tmp_path: Path, reporter: Collect, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_cfg(tmp_path, mode="kubelet")
    data = InitData(cfg=cfg, out=reporter, options=InitOptions(wait_timeout=None))
    monkeypatch.setattr(health, "probe_all", lambda cfg: [_probe("etcd", True), _probe("kube-scheduler", False)])
    monkeypatch.setattr(wait_control_plane, "poll", lambda d, t, **k: _timed_out(d))
    with pytest.raises(WaitTimeoutError) as err:
        wait_control_plane.run(data)
    assert "kube-scheduler" in err.value.message
    assert any("kube-scheduler: not healthy" in line and "connection refused" in line for line in reporter.lines)


def _timed_out(data: InitData) -> wait_control_plane.WaitState:
    state = wait_control_plane.WaitState(start=0.0)
    for probe in health.probe_all(data.cfg):
        state.last[probe.component] = probe
    return state


def test_dry_run_redirects_every_node_path_under_one_directory(cfg: KbsConfig, tmp_path: Path) -> None:
    root = tmp_path / "dry"
    moved = dryrun.redirect(cfg, root)
    for path in (
        moved.cert_dir,
        moved.kubernetes_dir,
        moved.manifests_dir,
        moved.etcd_data_dir,
        moved.kbs.reconciler.state_dir,
        moved.kbs.reconciler.run_dir,
        moved.kbs.reconciler.log_dir,
    ):
        assert root in path.parents, path
    assert moved.node_name == cfg.node_name and moved.advertise_address == cfg.advertise_address


def test_the_reconcilers_config_file_reloads_as_the_same_configuration_without_secrets(tmp_path: Path) -> None:
    from bootstrap.config import load_config
    from bootstrap.config.kubeadm import BootstrapToken

    cfg = make_cfg(tmp_path, mode="bundled")
    cfg = cfg.__class__(
        init=msgspec.structs.replace(cfg.init, bootstrap_tokens=[BootstrapToken(token="abcdef.0123456789abcdef")]),
        cluster=cfg.cluster,
        kbs=cfg.kbs,
        version=cfg.version,
    )
    text = supervise.config_text(cfg)
    assert "0123456789abcdef" not in text
    written = tmp_path / "reconciler.yaml"
    written.write_text(text)
    again = load_config(written)
    assert (again.node_name, again.manifests_dir, again.advertise_address) == (
        cfg.node_name,
        cfg.manifests_dir,
        cfg.advertise_address,
    )
    assert again.kbs.reconciler.state_dir == cfg.kbs.reconciler.state_dir
    assert supervise.command(cfg)[-2:] == ["--config", str(supervise.config_file(cfg))]
