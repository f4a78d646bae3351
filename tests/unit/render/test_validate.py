"""Every rendered Pod passes the static-pod rules and the schema of its Kubernetes minor before it is written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap.config import load_config
from bootstrap.errors import RenderError
from bootstrap.render import schema, validate
from tests.unit.render.conftest import GOLDEN, Render, WriteConfig


def _golden(component: str = "kube-apiserver") -> dict[str, Any]:
    pod: dict[str, Any] = yaml.safe_load((GOLDEN / "v1.37.2" / f"{component}.yaml").read_text())
    return pod


def test_kubeadm_manifests_pass_every_check() -> None:
    for path in (GOLDEN / "v1.37.2").glob("*.yaml"):
        validate.validate_pod(yaml.safe_load(path.read_text()), path.stem, 37)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["spec"].update(serviceAccountName="default"), "cannot use a ServiceAccount"),
        (lambda p: p["spec"].update(imagePullSecrets=[{"name": "regcred"}]), "imagePullSecrets"),
        (lambda p: p["spec"]["volumes"].append({"name": "s", "secret": {"secretName": "x"}}), "reference a Secret"),
        (lambda p: p["spec"]["volumes"].append({"name": "c", "configMap": {"name": "x"}}), "reference a ConfigMap"),
        (
            lambda p: p["spec"]["volumes"].append(
                {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
            ),
            "service account token",
        ),
        (
            lambda p: p["spec"]["containers"][0].update(
                env=[{"name": "P", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
            ),
            "valueFrom.secretKeyRef",
        ),
        (lambda p: p["spec"]["containers"][0].update(envFrom=[{"configMapRef": {"name": "x"}}]), "envFrom"),
        (lambda p: p["metadata"].update(name="etcd"), "metadata.name is 'etcd'"),
    ],
)
def test_static_pod_rules_refuse_api_references(change: Any, message: str) -> None:
    pod = copy.deepcopy(_golden())
    change(pod)
    with pytest.raises(RenderError, match=message):
        validate.validate_pod(pod, "kube-apiserver", 37)


def test_schema_errors_name_the_field() -> None:
    pod = copy.deepcopy(_golden())
    pod["spec"]["containers"][0]["ports"][0]["containerPort"] = "6443"
    pod["spec"]["hostNetwrk"] = True
    problems = schema.errors(pod, 37)
    assert "spec.containers[0].ports[0].containerPort: expected integer, got string" in problems
    assert "spec.hostNetwrk: unknown field" in problems


def test_duplicate_list_map_keys_are_refused() -> None:
    pod = copy.deepcopy(_golden())
    pod["spec"]["containers"][0]["ports"].append({"containerPort": 6443, "name": "again"})
    assert any("duplicate entry for containerPort=6443, protocol=TCP" in p for p in schema.errors(pod, 37))


def test_a_secret_env_from_config_is_refused_before_anything_is_written(
    render: Render, write_config: WriteConfig, tmp_path: Path
) -> None:
    path = write_config(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
        "scheduler:\n  extraEnvs:\n  - name: TOKEN\n    valueFrom:\n      secretKeyRef: {name: s, key: k}\n"
    )
    with pytest.raises(RenderError, match=r"kube-scheduler.yaml is not a valid static Pod.*secretKeyRef"):
        render(load_config(path))


def test_a_field_ref_env_is_allowed(render: Render, write_config: WriteConfig) -> None:
    path = write_config(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
        "scheduler:\n  extraEnvs:\n  - name: NODE\n    valueFrom:\n      fieldRef: {fieldPath: spec.nodeName}\n"
    )
    scheduler = yaml.safe_load(render(load_config(path))["kube-scheduler"])
    assert scheduler["spec"]["containers"][0]["env"] == [
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    ]


def test_a_template_override_is_validated_the_same_way(render: Render, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    source = (GOLDEN.parents[3] / "templates" / "manifests" / "kube-scheduler.yaml.j2").read_text()
    (templates / "kube-scheduler.yaml.j2").write_text(source.replace("status: {}", "status: {}\nbogus: 1"))
    with pytest.raises(RenderError, match="bogus: unknown field"):
        render(components=["kube-scheduler"], templates_dir=templates)
