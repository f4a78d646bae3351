"""The join side's download-certs step with discovery swapped for an in-memory cluster, and its command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bootstrap.cli.main import cli
from bootstrap.kube import copycerts, discovery
from bootstrap.kube.memory import MemoryAPI
from bootstrap.phases import download_certs
from tests.support.reporter import Collect

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
TOKEN = "abcdef.0123456789abcdef"
KEY_PEM = b"-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n"
CERT_PEM = b"-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----\n"


def _cluster(cluster_configuration: dict[str, Any], files: dict[str, bytes]) -> MemoryAPI:
    data = copycerts.secret_data(files, bytes.fromhex(KEY))
    return MemoryAPI(
        [
            copycerts.secret_object(data, {"name": "bootstrap-token-xyzxyz"}),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
                "data": {"ClusterConfiguration": yaml.safe_dump(cluster_configuration)},
            },
        ]
    )


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> list[MemoryAPI]:
    """Discovery answers with a fixed ClusterInfo; the bootstrap client is the MemoryAPI the test puts here."""
    apis: list[MemoryAPI] = []
    info = discovery.ClusterInfo(server="https://10.0.0.9:6443", ca_pem=b"", kubeconfig="")
    monkeypatch.setattr(discovery, "discover", lambda *args, **kwargs: info)
    monkeypatch.setattr(discovery, "bootstrap_api", lambda *args, **kwargs: apis[0])
    return apis


def _request(**overrides: Any) -> download_certs.DownloadRequest:
    fields: dict[str, Any] = {
        "endpoint": "10.0.0.9:6443", "token": TOKEN, "ca_hashes": ["sha256:" + "0" * 64], "certificate_key": KEY,
    }  # fmt: skip
    return download_certs.DownloadRequest(**{**fields, **overrides})


def test_external_etcd_files_go_where_the_cluster_configuration_says(cluster: list[MemoryAPI], tmp_path: Path) -> None:
    external = {"endpoints": ["https://e:2379"], "caFile": str(tmp_path / "ext/ca.pem"), "certFile": "", "keyFile": ""}
    files = dict.fromkeys(copycerts.SHARED, CERT_PEM) | {"external-etcd-ca.crt": CERT_PEM}
    files |= {"external-etcd.crt": b"", "external-etcd.key": b"", "ca.key": KEY_PEM}
    cluster.append(_cluster({"certificatesDir": str(tmp_path / "pki"), "etcd": {"external": external}}, files))
    reporter = Collect()
    outcome = download_certs.download_certs(_request(), reporter)
    assert outcome.changed and outcome.summary == "7 written, 0 unchanged"
    assert (tmp_path / "ext/ca.pem").read_bytes() == CERT_PEM
    assert (tmp_path / "pki/ca.key").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "pki/etcd").exists()
    assert KEY not in reporter.text and TOKEN not in reporter.text
    assert download_certs.download_certs(_request(), reporter).summary == "0 written, 7 unchanged"


def test_dry_run_lists_the_files_and_writes_nothing(cluster: list[MemoryAPI], tmp_path: Path) -> None:
    files = {copycerts.data_key(n): CERT_PEM for n in (*copycerts.SHARED, *copycerts.LOCAL_ETCD)}
    cluster.append(_cluster({}, files))
    reporter = Collect()
    download_certs.download_certs(_request(cert_dir=tmp_path / "pki", dry_run=True), reporter)
    assert f"[dryrun] would write {tmp_path}/pki/etcd/ca.key" in reporter.text
    assert not (tmp_path / "pki").exists()


def test_repr_of_a_request_hides_the_token_and_the_key() -> None:
    shown = repr(_request())
    assert KEY not in shown and TOKEN not in shown


def test_the_command_refuses_a_worker_join_and_a_bad_key() -> None:
    args = ["join", "phase", "control-plane-prepare", "download-certs", "10.0.0.9:6443", "--token", TOKEN]
    args += ["--discovery-token-ca-cert-hash", "sha256:" + "0" * 64]
    skipped = CliRunner().invoke(cli, [*args, "--certificate-key", KEY])
    assert skipped.exit_code == 2 and "kbs joins control-plane nodes only" in skipped.output
    assert "kubeadm join" in skipped.output
    bad = CliRunner().invoke(cli, [*args, "--certificate-key", "12ab", "--control-plane"])
    assert bad.exit_code == 1 and "--certificate-key: a certificate key is 64 hexadecimal characters" in bad.output
