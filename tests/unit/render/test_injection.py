"""No configuration value can change what a manifest means: it lands as exactly one scalar, or kbs refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bootstrap.config import load_config
from bootstrap.errors import ConfigError, RenderError
from bootstrap.render import engine
from bootstrap.render.quoting import quote_string, yaml_scalar
from tests.unit.render.conftest import Render, WriteConfig

NASTY = [
    "plain",
    "a: b",
    "value # not a comment",
    "- leading dash",
    "-",
    "\"double\" and 'single' quotes",
    "two\nlines",
    "tab\there",
    "trailing\n",
    "{flow: map}",
    "[flow, list]",
    "&anchor *alias !tag %directive @at `tick`",
    "---",
    "...",
    "true",
    "null",
    "~",
    "0x1F",
    "1:20",
    "=",
    "<<",
    "",
    " leading and trailing spaces ",
    "back\\slash",
    "unicode: é ✓ 😀 \u2028 \u0085 \ufeff",
    "line\r\nendings",
    "--other-flag=smuggled\n    - --another",
]


@pytest.mark.parametrize("value", NASTY)
def test_quoted_scalars_read_back_as_the_same_string(value: str) -> None:
    assert yaml.safe_load(f"key: {quote_string(value)}\n") == {"key": value}
    assert yaml.safe_load(f"- {quote_string(value)}\n- next\n") == [value, "next"]


def test_only_strings_integers_and_booleans_can_be_printed() -> None:
    assert (yaml_scalar(True), yaml_scalar(10)) == ("true", "10")
    for value in (None, 1.5, ["a"], {"a": 1}):
        with pytest.raises(RenderError, match="only strings, integers and booleans"):
            yaml_scalar(value)


@pytest.mark.parametrize("value", [v for v in NASTY if v and not any(c in v for c in "\r\x85\u2028\ufeff")])
def test_nasty_values_in_config_land_verbatim_in_the_command(
    render: Render, write_config: WriteConfig, value: str
) -> None:
    doc = {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "clusterName": value.strip() or "x",
        "apiServer": {
            "extraArgs": [{"name": "v", "value": value}],
            "extraEnvs": [{"name": "NASTY", "value": value}],
        },
    }
    manifests = render(load_config(write_config(yaml.safe_dump(doc))))
    apiserver = yaml.safe_load(manifests["kube-apiserver"])
    container = apiserver["spec"]["containers"][0]
    assert container["command"][-1] == f"--v={value}"
    assert container["env"] == [{"name": "NASTY", "value": value}]
    assert len(yaml.safe_load_all(manifests["kube-apiserver"]).__next__()["spec"]["containers"]) == 1
    kcm = yaml.safe_load(manifests["kube-controller-manager"])
    assert f"--cluster-name={value.strip() or 'x'}" in kcm["spec"]["containers"][0]["command"]


def test_control_characters_in_config_values_are_refused(write_config: WriteConfig) -> None:
    text = (
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
        'apiServer:\n  extraArgs:\n  - {name: v, value: "a\\x00b"}\n'
    )
    with pytest.raises(ConfigError, match=r"apiServer.extraArgs\[0\].value: contains a control character"):
        load_config(write_config(text))


def test_a_flag_name_cannot_smuggle_another_flag(write_config: WriteConfig) -> None:
    text = (
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
        'apiServer:\n  extraArgs:\n  - {name: "x=1 --insecure", value: "y"}\n'
    )
    with pytest.raises(ConfigError, match=r"apiServer.extraArgs\[0\].name"):
        load_config(write_config(text))


def _override(tmp_path: Path, body: str) -> Path:
    directory = tmp_path / "templates"
    directory.mkdir(exist_ok=True)
    (directory / "kube-scheduler.yaml.j2").write_text(body)
    return directory


def test_a_template_printing_a_value_inside_text_is_refused(render: Render, tmp_path: Path) -> None:
    templates = _override(
        tmp_path,
        (engine.default_templates_dir() / "kube-scheduler.yaml.j2")
        .read_text()
        .replace("name: kube-scheduler\n", "name: kube-{{ c.node_name }}\n"),
    )
    with pytest.raises(RenderError, match="prints a value inside other text"):
        render(components=["kube-scheduler"], templates_dir=templates)


def test_templates_cannot_bypass_quoting_with_safe(render: Render, tmp_path: Path) -> None:
    templates = _override(tmp_path, "{{ c.node_name | safe }}\n")
    with pytest.raises(RenderError, match="safe"):
        render(components=["kube-scheduler"], templates_dir=templates)


def test_a_template_with_an_undefined_name_is_refused(render: Render, tmp_path: Path) -> None:
    templates = _override(tmp_path, "apiVersion: {{ c.no_such_thing }}\n")
    with pytest.raises(RenderError, match="no_such_thing"):
        render(components=["kube-scheduler"], templates_dir=templates)


def test_structure_check_catches_a_value_that_becomes_structure() -> None:
    # A finalize that forgot to quote stands in for a broken quoting filter: the structure check must notice.
    skeleton = {"spec": {"name": "kbsvalue00000x"}}
    parsed = {"spec": {"name": "a", "extra": "b"}}
    expected = engine._substitute(skeleton, {"kbsvalue00000x": "a\nextra: b"}, "t")
    assert parsed != expected
    assert "extra" in engine._first_difference(expected, parsed)
