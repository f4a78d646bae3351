"""`kbs render` as an operator uses it: dry-run review, writing, one component, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bootstrap.cli.main import cli
from tests.unit.render.conftest import GOLDEN, WriteConfig

_NO_PROXY_ENV = {k: "" for k in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env=_NO_PROXY_ENV).invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_prints_every_manifest_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "manifests"
    code, out, _ = run("render", "--dry-run", "--static-pod-path", str(target))
    assert code == 0
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(out)] == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ]
    assert not target.exists()


def test_dry_run_diffs_against_manifests_already_on_the_node(tmp_path: Path) -> None:
    assert run("render", "--static-pod-path", str(tmp_path))[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, _, err = run("render", "--dry-run", "--static-pod-path", str(tmp_path), "--pod-network-cidr", "10.8.0.0/16")
    assert code == 0
    assert "+    - --cluster-cidr=10.8.0.0/16" in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_render_writes_into_the_static_pod_path_and_reports_changes(tmp_path: Path) -> None:
    code, out, _ = run("render", "--static-pod-path", str(tmp_path))
    assert code == 0 and out.count("created") == 4
    code, out, _ = run("render", "--static-pod-path", str(tmp_path))
    assert out.count("unchanged") == 4


def test_output_dir_and_component_limit_what_is_written(tmp_path: Path) -> None:
    code, out, _ = run(
        "render", "--output-dir", str(tmp_path / "out"), "--component", "kube-scheduler", "--static-pod-path", "/nope"
    )
    assert code == 0, out
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["kube-scheduler.yaml"]


def test_templates_dir_overrides_one_template(tmp_path: Path) -> None:
    templates = tmp_path / "t"
    templates.mkdir()
    source = (GOLDEN.parents[3] / "templates" / "manifests" / "kube-scheduler.yaml.j2").read_text()
    (templates / "kube-scheduler.yaml.j2").write_text(source.replace("cpu: 100m", "cpu: 150m"))
    code, out, _ = run("render", "--dry-run", "--templates-dir", str(templates))
    assert code == 0
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out)}
    assert docs["kube-scheduler"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "150m"
    assert docs["kube-apiserver"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "250m"


@pytest.mark.parametrize(
    ("text", "flags", "message"),
    [
        ("a: [", (), "malformed YAML"),
        ("apiVersion: v1\nkind: ConfigMap\n", (), "no InitConfiguration"),
        ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetwork: {}\n", (), "did you mean"),
        (None, ("--service-cidr", "10.96.0.0/33"), "--service-cidr: '10.96.0.0/33' is not a valid CIDR"),
        (None, ("--advertise-address", "10.0.0.300"), "--advertise-address: '10.0.0.300' is not an IP address"),
        (None, ("--kubernetes-version", "v1.20.0"), "supported: v1.37.2, v1.36.3, v1.35.4"),
    ],
)
def test_bad_input_is_one_line_exit_1_and_nothing_written(
    write_config: WriteConfig, tmp_path: Path, text: str | None, flags: tuple[str, ...], message: str
) -> None:
    target = tmp_path / "manifests"
    args = ["render", "--static-pod-path", str(target), *flags]
    if text is not None:
        args += ["--config", str(write_config(text))]
    code, out, err = run(*args)
    assert code == 1
    assert err.startswith("error: ") and message in err.splitlines()[0]
    assert out == ""
    assert not target.exists()


def test_an_unwritable_static_pod_path_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run("render", "--static-pod-path", str(blocker / "manifests"))
    assert code == 1 and "is not a directory" in err
