"""Config tests run without touching the machine: the default-route address and hostname are pinned."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bootstrap.config import host

WriteConfig = Callable[[str], Path]


@pytest.fixture(autouse=True)
def _pinned_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "default_route_address", lambda *a, **k: ("192.0.2.10", None))
    monkeypatch.setattr(host, "hostname", lambda: "node-a")


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "kubeadm.yaml"
        path.write_text(text)
        return path

    return write
