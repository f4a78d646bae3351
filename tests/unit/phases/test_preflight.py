"""Preflight: named checks, ignorable by name, that accept what kbs itself made."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.errors import PreflightError
from bootstrap.phases import ledger as ledgers
from bootstrap.phases import ports, preflight
from bootstrap.phases.context import InitData, InitOptions
from tests.support.reporter import Collect
from tests.unit.phases.conftest import make_cfg


def _only(*checks: preflight.CheckFn) -> tuple[preflight.CheckFn, ...]:
    return checks


def test_check_names_follow_kubeadm() -> None:
    assert (
        preflight.check_name_for(Path("/etc/kubernetes/manifests/etcd.yaml"), "FileAvailable-")
        == "FileAvailable--etc-kubernetes-manifests-etcd.yaml"
    )
    assert preflight.check_name_for(Path("/var/lib/etcd"), "DirAvailable-") == "DirAvailable--var-lib-etcd"


def test_a_foreign_manifest_fails_unless_adopted(data: InitData) -> None:
    data.cfg.manifests_dir.mkdir(parents=True)
    (data.cfg.manifests_dir / "kube-apiserver.yaml").write_text("not kbs's")
    errors, _ = preflight.evaluate(data, _only(preflight.manifests_available))
    assert [e.check for e in errors] == [
        f"FileAvailable-{str(data.cfg.manifests_dir).replace('/', '-')}-kube-apiserver.yaml"
    ]
    data.options.adopt = True
    assert preflight.evaluate(data, _only(preflight.manifests_available)) == ([], [])


def test_a_manifest_kbs_wrote_passes(data: InitData) -> None:
    path = data.cfg.manifests_dir / "etcd.yaml"
    ledgers.record(data.cfg.kbs.reconciler.state_dir, [path])
    path.parent.mkdir(parents=True)
    path.write_text("kbs's")
    assert preflight.evaluate(data, _only(preflight.manifests_available)) == ([], [])


def test_a_non_empty_etcd_dir_kbs_did_not_create_fails(data: InitData) -> None:
    (data.cfg.etcd_data_dir / "member").mkdir(parents=True)
    errors, _ = preflight.evaluate(data, _only(preflight.etcd_dir_available))
    assert errors and errors[0].check.startswith("DirAvailable-")


def test_ignored_errors_become_warnings(data: InitData) -> None:
    def failing(_: InitData) -> list[preflight.Problem]:
        return [preflight.Problem("NumCPU", "too few")]

    data.options.ignore_preflight_errors = frozenset({"numcpu"})
    errors, warnings = preflight.evaluate(data, _only(failing))
    assert not errors and warnings[0].check == "NumCPU"
    data.options.ignore_preflight_errors = frozenset({"all"})
    assert not preflight.evaluate(data, _only(failing))[0]


def test_a_port_held_by_our_own_component_is_fine_and_by_another_is_an_error(
    data: InitData, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = f"--client-ca-file={data.cfg.cert_dir}/ca.crt"
    owners = {
        6443: ports.Listener(6443, 10, "kube-apiserver", ("kube-apiserver", ours)),
        10259: ports.Listener(10259, 12, "kube-scheduler", ("kube-scheduler", "--kubeconfig=/other/scheduler.conf")),
        2379: ports.Listener(2379, 11, "nginx", ("nginx",)),
    }
    monkeypatch.setattr(ports, "listeners", lambda wanted: {p: owners[p] for p in wanted if p in owners})
    errors, _ = preflight.evaluate(data, _only(preflight.ports_free))
    assert [(e.check, e.message) for e in errors] == [
        ("Port-2379", "port 2379 is in use by nginx (pid 11)"),
        ("Port-10259", "port 10259 is in use by kube-scheduler (pid 12)"),  # another cluster's scheduler
    ]


def test_run_prints_kubeadm_style_lines_and_fails_with_the_names(
    data: InitData, reporter: Collect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "CHECKS", (lambda d: [preflight.Problem("Swap", "swap is on")],))
    with pytest.raises(PreflightError) as err:
        preflight.run(data)
    assert "[ERROR Swap]: swap is on" in reporter.lines
    assert err.value.hint and "--ignore-preflight-errors=Swap" in err.value.hint


def test_dry_run_reports_errors_as_warnings(cfg: object, reporter: Collect) -> None:
    data = InitData(cfg=cfg, out=reporter, options=InitOptions(dry_run=True))  # type: ignore[arg-type]
    errors, warnings = preflight.evaluate(data, _only(lambda d: [preflight.Problem("Mem", "low")]))
    assert not errors and warnings


@pytest.mark.parametrize(
    ("host", "remote"),
    [("", False), ("unix:///var/run/docker.sock", False), ("tcp://10.0.0.5:2376", True), ("ssh://me@box", True)],
)
def test_only_a_remote_engine_has_its_clock_compared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, remote: bool
) -> None:
    from bootstrap.phases import images

    monkeypatch.setenv("DOCKER_HOST", host)
    assert images.engine_is_remote(make_cfg(tmp_path, mode="bundled")) is remote


def test_an_etcd_dir_found_empty_holds_kbs_s_data_on_the_re_run(data: InitData) -> None:
    data.cfg.etcd_data_dir.mkdir(parents=True)  # what `kubeadm reset` leaves behind
    ledgers.record(data.cfg.kbs.reconciler.state_dir, [], data_dirs=[data.cfg.etcd_data_dir])
    (data.cfg.etcd_data_dir / "member").mkdir()  # etcd of the cluster kbs created
    assert preflight.evaluate(data, _only(preflight.etcd_dir_available)) == ([], [])
