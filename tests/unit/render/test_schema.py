"""kbs's trimmed Pod schemas are current, and its small validator agrees with kubernetes-validate."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from bootstrap import versions
from bootstrap.render import schema
from bootstrap.render.schemagen import schema_file, trimmed_pod_schema
from tests.unit.render.conftest import GOLDEN

MINORS = [row.minor for row in versions.supported()]


@pytest.mark.parametrize("minor", MINORS)
def test_shipped_schema_is_what_schemagen_makes_from_kubernetes_validate(minor: int) -> None:
    assert json.loads(schema_file(minor).read_text()) == trimmed_pod_schema(minor), (
        "run: .venv/bin/python -m bootstrap.render.schemagen"
    )


def _variants() -> list[tuple[str, dict[str, Any]]]:
    base: dict[str, Any] = yaml.safe_load((GOLDEN / "v1.37.2" / "kube-apiserver.yaml").read_text())
    out = [("kubeadm", base)]
    edits: dict[str, Callable[[dict[str, Any]], Any]] = {
        "unknown field": lambda p: p["spec"].update(bogus=1),
        "wrong type": lambda p: p["spec"].update(hostNetwork="yes"),
        "bad int": lambda p: p["spec"]["containers"][0]["ports"][0].update(containerPort="x"),
        "int-or-string port": lambda p: p["spec"]["containers"][0]["livenessProbe"]["httpGet"].update(port=6443),
        "missing required": lambda p: p["spec"]["containers"][0].pop("name"),
        "bad nested": lambda p: p["spec"]["volumes"][0]["hostPath"].update(path=7),
    }
    for label, edit in edits.items():
        pod = copy.deepcopy(base)
        edit(pod)
        out.append((label, pod))
    return out


@pytest.mark.parametrize(("label", "pod"), _variants(), ids=[label for label, _ in _variants()])
def test_kbs_validator_agrees_with_kubernetes_validate(label: str, pod: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(pod, "1.37", strict=True)
        reference_ok = True
    except kubernetes_validate.ValidationError:
        reference_ok = False
    assert (schema.errors(pod, 37) == []) is reference_ok, label
