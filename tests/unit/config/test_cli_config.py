"""`kbs config print-defaults`: the full effective configuration, which kbs (and kubeadm) read back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from bootstrap import versions
from bootstrap.cli.main import cli
from bootstrap.config import load_config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_print_defaults_fills_machine_and_version_defaults() -> None:
    code, out, _ = run("config", "print-defaults")
    assert code == 0
    init, cluster, kbs = yaml.safe_load_all(out)
    assert init["localAPIEndpoint"] == {"advertiseAddress": "192.0.2.10", "bindPort": 6443}
    assert init["nodeRegistration"]["name"] == "node-a"
    assert cluster["kubernetesVersion"] == versions.default().version
    assert cluster["networking"] == {"dnsDomain": "cluster.local", "serviceSubnet": "10.96.0.0/12"}
    assert cluster["etcd"]["local"]["dataDir"] == "/var/lib/etcd"
    assert kbs["kind"] == "KbsConfiguration" and kbs["staticPodPath"] == "/etc/kubernetes/manifests"
    assert kbs["reconciler"]["mode"] == "bundled"


def test_print_defaults_output_loads_back_to_the_same_configuration(tmp_path: Path) -> None:
    _, out, _ = run("config", "print-defaults", "--node-name", "cp-9", "--pod-network-cidr", "10.244.0.0/16")
    path = tmp_path / "printed.yaml"
    path.write_text(out)
    assert load_config(path).documents() == list(yaml.safe_load_all(out))


def test_print_defaults_as_json() -> None:
    code, out, _ = run("config", "print-defaults", "-o", "json")
    assert code == 0
    assert [d["kind"] for d in json.loads(out)] == ["InitConfiguration", "ClusterConfiguration", "KbsConfiguration"]


def test_ignored_documents_are_noted_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n---\n"
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
    )
    code, _, err = run("config", "print-defaults", "--config", str(path))
    assert code == 0
    assert "note: " in err and "ignoring KubeletConfiguration" in err
