"""bootstrap.upgrade.hurry: the old API server's container is killed once it stopped listening, and only then."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.phases import images
from bootstrap.reconciler.runtime import naming
from bootstrap.upgrade import hurry
from tests.unit.upgrade.test_apply import _cfg


class FakeContainer:
    def __init__(self, name: str) -> None:
        self.labels = {naming.CONTAINER_NAME: name}
        self.killed = False

    def kill(self) -> None:
        self.killed = True


class FakeClient:
    def __init__(self, containers: list[FakeContainer]) -> None:
        self.containers = self
        self.running = containers
        self.filters: list[Any] = []

    def list(self, filters: dict[str, Any], ignore_removed: bool) -> list[FakeContainer]:
        self.filters.append(filters)
        return [c for c in self.running if not c.killed]


def _client(monkeypatch: pytest.MonkeyPatch, client: FakeClient) -> None:
    @contextlib.contextmanager
    def fake(_cfg: Any) -> Iterator[FakeClient]:
        yield client

    monkeypatch.setattr(images, "docker_client", fake)
    monkeypatch.setattr(hurry, "INTERVAL", 0.0)


def test_the_old_container_is_killed_once_its_port_is_closed_and_not_its_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, sandbox = FakeContainer("kube-apiserver"), FakeContainer(naming.SANDBOX_CONTAINER)
    client = FakeClient([app, sandbox])
    _client(monkeypatch, client)
    answers = iter([True, True, False])
    said: list[str] = []
    assert hurry.hurry_old_apiserver(_cfg(tmp_path), "olduid", 5, said.append, is_listening=lambda h, p: next(answers))
    assert app.killed and not sandbox.killed
    assert f"{naming.POD_UID}=olduid" in client.filters[0]["label"]
    assert said and "stopped listening" in said[0]


def test_nothing_is_killed_while_it_listens_or_once_it_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = FakeContainer("kube-apiserver")
    _client(monkeypatch, FakeClient([app]))
    assert not hurry.hurry_old_apiserver(_cfg(tmp_path), "olduid", 0.05, print, is_listening=lambda h, p: True)
    assert not app.killed
    _client(monkeypatch, FakeClient([]))
    assert not hurry.hurry_old_apiserver(_cfg(tmp_path), "olduid", 5, print, is_listening=lambda h, p: False)
    assert not hurry.hurry_old_apiserver(_cfg(tmp_path), "", 5, print, is_listening=lambda h, p: False)
