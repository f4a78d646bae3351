"""`kbs certs generate | check-expiration | renew` through click, with --config and the shared flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bootstrap.cli.main import cli
from bootstrap.config import host
from tests.unit.pki.conftest import snapshot

CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.20
nodeRegistration:
  name: cp-1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
encryptionAlgorithm: ECDSA-P256
controlPlaneEndpoint: lb.example:443
"""


@pytest.fixture(autouse=True)
def _pinned_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "default_route_address", lambda *a, **k: ("192.0.2.10", None))
    monkeypatch.setattr(host, "hostname", lambda: "node-a")


@pytest.fixture
def dirs(tmp_path: Path) -> list[str]:
    return ["--cert-dir", str(tmp_path / "k8s" / "pki"), "--kubernetes-dir", str(tmp_path / "k8s")]


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "kubeadm.yaml"
    path.write_text(CONFIG)
    return str(path)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_generate_uses_the_config_file_and_converges(tmp_path: Path, dirs: list[str], config: str) -> None:
    code, out, _ = run("certs", "generate", "--config", config, *dirs)
    assert code == 0, out
    assert "[certs] created ca: " in out
    assert "[kubeconfig] created admin.conf: " in out and "server https://lb.example:443" in out
    assert out.splitlines()[-1] == "16 created, 0 kept"
    doc = yaml.safe_load((tmp_path / "k8s" / "kubelet.conf").read_text())
    assert doc["users"][0]["name"] == "system:node:cp-1"
    before = snapshot(tmp_path / "k8s")
    code, out, _ = run("certs", "generate", "--config", config, *dirs)
    assert (code, out.splitlines()[-1]) == (0, "0 created, 16 kept")
    assert snapshot(tmp_path / "k8s") == before


def test_generate_one_name_and_flags_override_the_file(tmp_path: Path, dirs: list[str], config: str) -> None:
    code, out, _ = run(
        "certs", "generate", "etcd/server", "--config", config, "--node-name", "cp-2", "--advertise-address", "fd00::5",
        "--service-cidr", "fd00:10:96::/112", *dirs,
    )  # fmt: skip
    assert code == 0, out
    assert "signed for DNS names [cp-2 localhost] and IPs [fd00::5 127.0.0.1 ::1]" in out
    assert sorted(p.name for p in (tmp_path / "k8s" / "pki" / "etcd").iterdir()) == [
        "ca.crt", "ca.key", "server.crt", "server.key",
    ]  # fmt: skip


def test_unknown_name_is_a_usage_error(dirs: list[str]) -> None:
    code, _, err = run("certs", "generate", "apiservr", *dirs)
    assert code == 2
    assert "unknown certificate 'apiservr'" in err


def test_bad_san_flag_is_one_line_naming_the_flag(dirs: list[str]) -> None:
    code, out, err = run("certs", "generate", "--apiserver-cert-extra-sans", "ok.example,bad name", *dirs)
    assert code in (1, 2)
    assert "bad name" in err
    assert "Traceback" not in err + out


def test_bad_algorithm_in_the_file_is_exit_1_one_line(tmp_path: Path, dirs: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.replace("ECDSA-P256", "ECDSA-P521"))
    code, _, err = run("certs", "generate", "--config", str(path), *dirs)
    assert code == 1
    assert err.startswith("error: ") and "encryptionAlgorithm" in err
    assert not (tmp_path / "k8s").exists()


def test_cert_dir_that_is_a_file_is_exit_1(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = run("certs", "generate", "--cert-dir", str(tmp_path / "file"), "--kubernetes-dir", str(tmp_path))
    assert code == 1
    assert err.splitlines()[0] == f"error: {tmp_path / 'file'} is not a directory"


def test_problems_with_existing_files_are_exit_1_with_a_hint(tmp_path: Path, dirs: list[str], config: str) -> None:
    run("certs", "generate", "--config", config, *dirs)
    code, _, err = run("certs", "generate", "--config", config, "--apiserver-cert-extra-sans", "new.example", *dirs)
    assert code == 1
    lines = err.splitlines()
    assert lines[0] == (
        f"error: {tmp_path / 'k8s/pki/apiserver.crt'} lacks SANs the configuration asks for: new.example"
    )
    assert lines[1].startswith("hint: remove ")


def test_check_expiration_text_json_and_yaml(dirs: list[str], config: str) -> None:
    run("certs", "generate", "--config", config, *dirs)
    code, out, _ = run("certs", "check-expiration", "--config", config, *dirs)
    assert code == 0
    assert out.splitlines()[0].split() == ["CERTIFICATE", "EXPIRES", "RESIDUAL", "TIME", "CERTIFICATE", "AUTHORITY",
                                           "EXTERNALLY", "MANAGED"]  # fmt: skip
    assert any(
        line.startswith("apiserver ") and line.endswith("   ca                      no") for line in out.splitlines()
    )
    code, out, _ = run("certs", "check-expiration", "--config", config, "-o", "json", *dirs)
    doc = json.loads(out)
    assert len(doc["certificates"]) == 11 and not any(c["missing"] for c in doc["certificates"])
    code, out, _ = run("certs", "check-expiration", "--config", config, "--output", "yaml", *dirs)
    assert yaml.safe_load(out) == doc
    code, _, _ = run("certs", "check-expiration", "-o", "xml", *dirs)
    assert code == 2


def test_renew_all_names_the_pods_to_restart(dirs: list[str], config: str) -> None:
    run("certs", "generate", "--config", config, *dirs)
    code, out, _ = run("certs", "renew", "all", "--config", config, *dirs)
    assert code == 0
    assert "[renew] certificate for serving the Kubernetes API renewed" in out
    assert out.splitlines()[-1] == (
        "Done renewing certificates. You must restart the etcd, kube-apiserver, kube-controller-manager and "
        "kube-scheduler, so that they can use the new certificates."
    )


def test_renew_a_ca_is_refused(dirs: list[str], config: str) -> None:
    run("certs", "generate", "--config", config, *dirs)
    code, _, err = run("certs", "renew", "ca", "--config", config, *dirs)
    assert code == 1
    assert err.splitlines()[0] == "error: ca is a CA; kbs never renews CAs"


def test_every_subcommand_has_examples_in_its_help() -> None:
    for sub in ("generate", "check-expiration", "renew"):
        code, out, _ = run("certs", sub, "--help")
        assert code == 0 and "Examples:" in out and "--config" in out and "--cert-dir" in out
