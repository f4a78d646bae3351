"""The upload-certs phase and the control-plane join command, against the in-memory API server."""

from __future__ import annotations

import base64
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bootstrap.cli.main import cli
from bootstrap.config import Overrides, load_config
from bootstrap.errors import PKIError
from bootstrap.kube import copycerts
from bootstrap.kube import token as tokens
from bootstrap.kube.memory import MemoryAPI
from bootstrap.phases import bootstrap_token, preflight, show_join_command, upload_certs
from bootstrap.phases.context import InitData, InitOptions
from tests.support.reporter import Collect
from tests.unit.phases.conftest import CONFIG, write_ca

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
OTHER_KEY = "ff" * 32
FILES = ("ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key", "etcd/ca.crt", "etcd/ca.key")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kbs.yaml"
    path.write_text(CONFIG.format(root=tmp_path, mode="none"))
    return path


def _data(config: Path, reporter: Collect, api: MemoryAPI, **options: object) -> InitData:
    cfg = load_config(config, Overrides(control_plane_endpoint="cp.example:7443"))
    return InitData(cfg=cfg, out=reporter, options=InitOptions(**options), _api=api)  # type: ignore[arg-type]


def _tree(cert_dir: Path) -> dict[str, bytes]:
    write_ca(cert_dir)
    for name in FILES:
        (cert_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (cert_dir / name).write_bytes(f"-----BEGIN PRIVATE KEY-----\n{name}\n".encode())
    return {copycerts.data_key(p): (cert_dir / p).read_bytes() for p in ("ca.crt", *FILES)}


def _with_tree(data: InitData) -> InitData:
    _tree(data.cfg.cert_dir)
    return data


def test_without_upload_certs_the_phase_does_nothing(config: Path, reporter: Collect, api: MemoryAPI) -> None:
    outcome = upload_certs.run(_data(config, reporter, api))
    assert outcome.summary.startswith("skipped") and not api.actions


def test_upload_stores_kubeadms_secret_token_and_rbac(config: Path, reporter: Collect, api: MemoryAPI) -> None:
    data = _data(config, reporter, api, upload_certs=True, certificate_key=KEY)
    files = _tree(data.cfg.cert_dir)
    assert upload_certs.run(data).changed

    secret = api.get("v1", "Secret", "kubeadm-certs", "kube-system")
    assert secret is not None and secret["type"] == "Opaque"
    assert copycerts.decrypt_secret(secret, bytes.fromhex(KEY)) == files
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner["controller"] is True and owner["blockOwnerDeletion"] is True
    token_secret = api.get("v1", "Secret", owner["name"], "kube-system")
    assert token_secret is not None and token_secret["metadata"]["uid"] == owner["uid"]
    assert sorted(token_secret["data"]) == ["description", "expiration", "token-id", "token-secret"]
    token = tokens.from_secret(token_secret)
    assert token is not None and token.description == "Proxy for managing TTL for the kubeadm-certs secret"
    assert token.expiration is not None and token.usages == () and token.groups == ()
    assert timedelta(hours=1, minutes=59) < token.expiration - datetime.now(UTC) <= timedelta(hours=2)
    role = api.get("rbac.authorization.k8s.io/v1", "Role", "kubeadm:kubeadm-certs", "kube-system")
    assert role is not None and role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["kubeadm-certs"], "verbs": ["get"]}
    ]
    binding = api.get("rbac.authorization.k8s.io/v1", "RoleBinding", "kubeadm:kubeadm-certs", "kube-system")
    assert binding is not None
    assert binding["subjects"][0]["name"] == "system:bootstrappers:kubeadm:default-node-token"
    assert reporter.lines[-1] == KEY  # printed on purpose, like kubeadm's "Using certificate key:"


def test_a_rerun_with_the_same_key_changes_nothing_and_another_key_reuploads(
    config: Path, reporter: Collect, api: MemoryAPI
) -> None:
    data = _with_tree(_data(config, reporter, api, upload_certs=True, certificate_key=KEY))
    upload_certs.run(data)
    again = upload_certs.run(data)
    assert not again.changed and "unchanged" in again.summary

    other = _data(config, reporter, api, upload_certs=True, certificate_key=OTHER_KEY)
    first_owner = api.get("v1", "Secret", "kubeadm-certs", "kube-system")["metadata"]["ownerReferences"]  # type: ignore[index]
    assert upload_certs.run(other).changed
    secret = api.get("v1", "Secret", "kubeadm-certs", "kube-system")
    assert secret is not None and secret["metadata"]["ownerReferences"] != first_owner
    assert len(secret["metadata"]["ownerReferences"]) == 1
    with pytest.raises(copycerts.CertificateKeyError):
        copycerts.decrypt_secret(secret, bytes.fromhex(KEY))


def test_without_a_key_one_is_generated_and_printed(config: Path, reporter: Collect, api: MemoryAPI) -> None:
    data = _data(config, reporter, api, upload_certs=True)
    _tree(data.cfg.cert_dir)
    upload_certs.run(data)
    key = data.scratch["certificate_key"]
    assert reporter.lines[-1] == key and len(key) == 64
    secret = api.get("v1", "Secret", "kubeadm-certs", "kube-system")
    assert secret is not None and copycerts.decrypt_secret(secret, bytes.fromhex(key))


def test_skip_certificate_key_print_keeps_the_key_out_of_the_output(
    config: Path, reporter: Collect, api: MemoryAPI
) -> None:
    data = _data(config, reporter, api, upload_certs=True, certificate_key=KEY, skip_certificate_key_print=True)
    _tree(data.cfg.cert_dir)
    upload_certs.run(data)
    assert KEY not in reporter.text


def test_missing_shared_files_are_refused_before_anything_is_written(
    config: Path, reporter: Collect, api: MemoryAPI
) -> None:
    data = _with_tree(_data(config, reporter, api, upload_certs=True, certificate_key=KEY))
    (data.cfg.cert_dir / "sa.key").unlink()
    with pytest.raises(PKIError, match=r"sa\.key missing"):
        upload_certs.run(data)
    assert not api.actions


def test_join_command_for_control_planes_carries_the_key_and_kubeadms_warning(
    config: Path, reporter: Collect, api: MemoryAPI
) -> None:
    data = _with_tree(_data(config, reporter, api, upload_certs=True, certificate_key=KEY))
    bootstrap_token.run(data)
    upload_certs.run(data)
    show_join_command.run(data)
    token = data.scratch["token"].value
    text = reporter.text
    assert f"kubeadm join cp.example:7443 --token {token}" in text
    assert f"--control-plane --certificate-key {KEY}" in text
    assert "the certificate-key gives access to cluster sensitive data, keep it secret!" in text
    assert '"kbs init phase upload-certs --upload-certs" to reload certs afterward.' in text
    cm = api.get("v1", "ConfigMap", "cluster-info", "kube-public")
    assert cm is not None and "server: https://cp.example:7443" in cm["data"]["kubeconfig"]


def test_with_an_endpoint_but_no_upload_the_join_command_says_to_copy_the_cas(
    config: Path, reporter: Collect, api: MemoryAPI
) -> None:
    data = _data(config, reporter, api)
    write_ca(data.cfg.cert_dir)
    bootstrap_token.run(data)
    show_join_command.run(data)
    assert "copying the certificate authorities" in reporter.text
    assert "--control-plane\n" in reporter.text + "\n" and "--certificate-key" not in reporter.text


def test_without_an_endpoint_only_the_worker_command_is_shown(data: InitData, reporter: Collect) -> None:
    write_ca(data.cfg.cert_dir)
    bootstrap_token.run(data)
    show_join_command.run(data)
    assert "--control-plane" not in reporter.text


def test_dry_run_with_upload_certs_never_shows_the_key(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "CHECKS", ())
    args = ["init", "--config", str(config), "--dry-run", "--control-plane-endpoint", "cp.example:7443"]
    result = CliRunner().invoke(cli, [*args, "--upload-certs", "--certificate-key", KEY])
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    assert "would create Secret kube-system/kubeadm-certs" in result.output
    assert "--control-plane --certificate-key <certificate-key>" in result.output
    temp = Path(result.output.split("writing everything under ")[1].split()[0])
    shutil.rmtree(temp)


def test_a_bad_certificate_key_flag_is_a_usage_error(config: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "--config", str(config), "--upload-certs", "--certificate-key", "xyz"])
    assert result.exit_code == 2
    assert "--certificate-key" in result.output and "64 hexadecimal characters" in result.output


def test_certs_certificate_key_prints_a_fresh_key() -> None:
    result = CliRunner().invoke(cli, ["certs", "certificate-key"])
    assert result.exit_code == 0
    assert bytes.fromhex(result.output.strip()) and len(result.output.strip()) == 64


def test_the_phase_runs_alone_with_its_flags(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    help_text = CliRunner().invoke(cli, ["init", "phase", "upload-certs", "--help"]).output
    assert "--upload-certs" in help_text and "--certificate-key" in help_text
    assert "--upload-certs" not in CliRunner().invoke(cli, ["init", "phase", "certs", "--help"]).output


def test_secret_data_values_are_base64_of_nonce_ciphertext_tag(config: Path, reporter: Collect, api: MemoryAPI) -> None:
    data = _data(config, reporter, api, upload_certs=True, certificate_key=KEY)
    files = _tree(data.cfg.cert_dir)
    upload_certs.run(data)
    secret = api.get("v1", "Secret", "kubeadm-certs", "kube-system")
    assert secret is not None
    blob = base64.b64decode(secret["data"]["sa.key"])
    assert len(blob) == 12 + len(files["sa.key"]) + 16
