"""Render tests: a pinned host (address, hostname, CA directories) and no proxy environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bootstrap.config import KbsConfig, Overrides, host, load_config
from bootstrap.render import render_manifests

# The CA directories of the machine the golden files were made on (kubeadm mounts those that exist).
GOLDEN_HOST_CA_DIRS = ("etc/ca-certificates", "usr/local/share/ca-certificates", "usr/share/ca-certificates")
GOLDEN = Path(__file__).with_name("golden")

Render = Callable[..., dict[str, str]]
WriteConfig = Callable[[str], Path]


@pytest.fixture(autouse=True)
def _pinned_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "default_route_address", lambda *a, **k: ("10.0.0.10", None))
    monkeypatch.setattr(host, "hostname", lambda: "node-a")


@pytest.fixture
def host_root(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    for directory in GOLDEN_HOST_CA_DIRS:
        (root / directory).mkdir(parents=True)
    return root


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "kubeadm.yaml"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def render(host_root: Path) -> Render:
    """render(cfg_or_overrides, **kwargs) with the pinned host and an empty environment."""

    def run(cfg: KbsConfig | Overrides | None = None, **kwargs: object) -> dict[str, str]:
        if not isinstance(cfg, KbsConfig):
            cfg = load_config(None, cfg)
        kwargs.setdefault("environ", {})
        kwargs.setdefault("host_root", host_root)
        return render_manifests(cfg, **kwargs)  # type: ignore[arg-type]

    return run
