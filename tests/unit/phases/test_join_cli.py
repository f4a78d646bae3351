"""`kbs join`'s command line: kubeadm's phase names, the worker refusal, and flags checked before any network."""

from __future__ import annotations

from click.testing import CliRunner

from bootstrap.cli.main import cli

ARGS = ["10.0.0.9:6443", "--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash", "sha256:" + "0" * 64]


def test_the_phases_carry_kubeadms_join_phase_names() -> None:
    shown = CliRunner().invoke(cli, ["join", "phase", "--help"]).output
    for name in ("preflight", "control-plane-prepare", "kubelet-start", "etcd-join", "wait-control-plane"):
        assert name in shown
    sub = CliRunner().invoke(cli, ["join", "phase", "control-plane-prepare", "--help"]).output
    assert all(n in sub for n in ("all", "download-certs", "certs", "kubeconfig", "control-plane"))


def test_a_worker_join_is_refused_with_the_way_to_do_it() -> None:
    result = CliRunner().invoke(cli, ["join", *ARGS])
    assert result.exit_code == 2 and "kubeadm join" in result.output


def test_an_unknown_phase_to_skip_and_a_bad_key_fail_before_discovery() -> None:
    skip = CliRunner().invoke(cli, ["join", *ARGS, "--control-plane", "--skip-phases", "kubelet-finalize"])
    assert skip.exit_code != 0 and "unknown phase kubelet-finalize" in skip.output
    key = CliRunner().invoke(cli, ["join", *ARGS, "--control-plane", "--certificate-key", "xyz"])
    assert key.exit_code == 1 and "--certificate-key" in key.output
