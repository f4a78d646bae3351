"""The init, status, reset and images commands through click's CliRunner (no Docker, no cluster)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bootstrap.cli.main import cli
from bootstrap.phases import images, preflight
from tests.unit.phases.conftest import CONFIG


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kbs.yaml"
    path.write_text(CONFIG.format(root=tmp_path, mode="none"))
    return path


def test_init_help_lists_the_phases_in_order() -> None:
    result = CliRunner().invoke(cli, ["init", "--help"])
    assert result.exit_code == 0
    listed = result.output.split("Phases:")[1]
    assert listed.index("preflight") < listed.index("wait-control-plane") < listed.index("show-join-command")
    phases = CliRunner().invoke(cli, ["init", "phase", "--help"]).output
    assert phases.index("certs") < phases.index("kubeconfig") < phases.index("bootstrap-token")


def test_unknown_skip_phase_is_rejected(config: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "--config", str(config), "--skip-phases", "nope"])
    assert result.exit_code == 1 and "unknown phase nope" in result.output


def test_dry_run_writes_only_under_its_temp_dir_and_lists_objects(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "CHECKS", ())
    result = CliRunner().invoke(cli, ["init", "--config", str(config), "--dry-run", "--reconciler", "bundled"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "etc").exists() and not (tmp_path / "var").exists()
    assert "[dryrun] manifest" in result.output and "kind: Pod" in result.output
    assert "create Secret kube-system/bootstrap-token-" in result.output
    assert "<redacted>" in result.output and "--token <token>" in result.output
    assert "--advertise-address=10.0.0.5" in result.output
    temp = Path(result.output.split("writing everything under ")[1].split()[0])
    try:
        assert (temp / str(tmp_path).lstrip("/") / "etc/kubernetes/pki/ca.key").exists()
    finally:
        shutil.rmtree(temp)


def test_reconciler_none_stops_after_the_manifests(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "CHECKS", ())
    result = CliRunner().invoke(cli, ["init", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "nothing on this node will run the manifests" in result.output
    assert "[wait-control-plane] --reconciler none" in result.output
    assert "not run: upload-config, upload-certs, mark-control-plane" in result.output
    assert (tmp_path / "etc/kubernetes/manifests/kube-apiserver.yaml").exists()
    again = CliRunner().invoke(cli, ["init", "--config", str(config)])
    assert "nothing changed" in again.output


def test_status_exits_1_and_reports_json_when_nothing_runs(config: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--config", str(config), "-o", "json"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["healthy"] is False and body["components"][0]["name"] == "etcd"


def test_reset_force_after_init_removes_what_init_wrote(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "CHECKS", ())
    CliRunner().invoke(cli, ["init", "--config", str(config)])
    result = CliRunner().invoke(cli, ["reset", "--force", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "removed " + str(tmp_path / "etc/kubernetes/pki/ca.key") in result.output
    assert not (tmp_path / "etc").exists() and not (tmp_path / "var/lib/kbs").exists()
    assert (tmp_path / "kbs.yaml").exists()


def test_reset_asks_for_confirmation(config: Path) -> None:
    result = CliRunner().invoke(cli, ["reset", "--config", str(config)], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output


def test_images_list_prints_exact_references_for_the_version_and_repository() -> None:
    result = CliRunner().invoke(
        cli, ["images", "list", "--kubernetes-version", "v1.36.3", "--image-repository", "r.example/k8s"]
    )
    assert result.output.splitlines() == [
        "r.example/k8s/kube-apiserver:v1.36.3",
        "r.example/k8s/kube-controller-manager:v1.36.3",
        "r.example/k8s/kube-scheduler:v1.36.3",
        "r.example/k8s/kube-proxy:v1.36.3",
        "r.example/k8s/coredns:v1.14.2",
        "r.example/k8s/pause:3.10.2",
        "r.example/k8s/etcd:3.6.8-0",
    ]
    assert images  # the module the command uses


def test_addon_sub_phases_are_commands_and_run_alone_in_a_dry_run(config: Path) -> None:
    listed = CliRunner().invoke(cli, ["init", "--help"]).output.split("Phases:")[1]
    assert listed.index("bootstrap-token") < listed.index("addon/coredns") < listed.index("show-join-command")
    sub = CliRunner().invoke(cli, ["init", "phase", "addon", "--help"]).output
    assert "coredns" in sub and "kube-proxy" in sub and "all" in sub
    result = CliRunner().invoke(cli, ["init", "phase", "addon", "kube-proxy", "--dry-run", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "would create DaemonSet kube-system/kube-proxy" in result.output
    assert "Deployment kube-system/coredns" not in result.output
    skipped = CliRunner().invoke(cli, ["init", "--config", str(config), "--skip-phases", "addon/nope"])
    assert skipped.exit_code == 1 and "unknown phase addon/nope" in skipped.output


def test_token_generate_prints_a_token_and_bad_arguments_fail_before_any_api_call(config: Path) -> None:
    generated = CliRunner().invoke(cli, ["token", "generate"])
    assert generated.exit_code == 0 and len(generated.output.strip()) == 23
    for args, message in (
        (["token", "create", "bad"], "is not of the form"),
        (["token", "create", "--ttl", "-5m"], "must not be negative"),
        (["token", "create", "--ttl", "soon"], "not a duration"),
        (["token", "create", "--usages", "signing,x"], "usage x"),
        (["token", "delete", "UPPER"], "neither a bootstrap token id"),
    ):
        result = CliRunner().invoke(cli, [*args, "--config", str(config)])
        assert result.exit_code in (1, 2) and message in result.output, (args, result.output)
