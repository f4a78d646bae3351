"""MemoryAPI and ensure(): the convergence primitive reports created / updated / unchanged."""

from __future__ import annotations

import pytest

from bootstrap.errors import APIServerError
from bootstrap.kube import Change, MemoryAPI, contains


def _cm(value: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "ns"}, "data": {"k": value}}


def test_ensure_creates_then_reports_unchanged_then_updates() -> None:
    api = MemoryAPI()
    assert api.ensure(_cm("1")) is Change.CREATED
    assert api.ensure(_cm("1")) is Change.UNCHANGED
    assert api.ensure(_cm("2")) is Change.UPDATED
    assert [a.verb for a in api.actions] == ["create", "update"]


def test_fields_set_by_others_do_not_count_as_a_difference() -> None:
    api = MemoryAPI([{**_cm("1"), "data": {"k": "1", "jws-kubeconfig-other": "sig"}}])
    assert api.ensure(_cm("1")) is Change.UNCHANGED


def test_contains_compares_lists_item_by_item() -> None:
    assert contains({"a": [{"x": 1, "y": 2}]}, {"a": [{"x": 1}]})
    assert not contains({"a": [{"x": 1}, {"x": 2}]}, {"a": [{"x": 1}]})
    assert not contains({"a": 1}, {"b": None})


def test_secret_values_are_redacted_in_printable_actions() -> None:
    api = MemoryAPI()
    api.ensure(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "data": {"k": "c2VjcmV0"}}
    )
    assert api.actions[0].printable()["data"] == {"k": "<redacted>"}
    assert api.get("v1", "Secret", "s", "n")["data"] == {"k": "c2VjcmV0"}  # type: ignore[index]


def test_merge_patch_of_a_missing_object_is_a_404() -> None:
    with pytest.raises(APIServerError) as err:
        MemoryAPI().merge_patch("v1", "Node", "n", {"metadata": {"labels": {"a": "b"}}})
    assert err.value.status == 404
