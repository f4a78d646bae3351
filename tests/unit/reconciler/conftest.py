"""Fixtures for the reconciler's unit tests: a FakeRuntime, fast settings, pods built from YAML text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bootstrap.reconciler import defaulting, model
from bootstrap.reconciler.manager import Reconciler
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.sources import Source
from bootstrap.reconciler.status import PodStatus, read_status
from tests.support.fake_runtime import FakeRuntime
from tests.support.wait import wait_until

IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
PAUSE = "registry.k8s.io/pause:3.10.2"
NODE = "Node-1"


def no_sources(reconciler: Reconciler) -> list[Source]:
    """The `sources=` of a Reconciler whose tests call on_set themselves."""
    del reconciler
    return []


def pod(text: str, *, origin: str = "/etc/kubernetes/manifests/p.yaml", source: str = "file") -> model.StaticPod:
    return defaulting.pods_from_bytes(text.encode(), node_name=NODE, source=source, origin=origin)


def simple(name: str = "web", *, args: str = "pause", extra: str = "", spec: str = "") -> model.StaticPod:
    return pod(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
{spec}  containers:
  - name: c
    image: {IMAGE}
    args: [{args}]
{extra}""",
        origin=f"/m/{name}.yaml",
    )


@pytest.fixture
def fake() -> FakeRuntime:
    return FakeRuntime(images=(IMAGE, PAUSE))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        node_name=NODE,
        manifest_dir=None,
        manifest_url="http://test.invalid/pods",  # a source the tests feed by hand through on_set
        state_dir=tmp_path / "state",
        pause_image=PAUSE,
        node_ip="10.0.0.1",
        relist_period=0.2,
        housekeeping_period=0.1,
        gc_period=0.2,
        resync_period=5.0,
    )


@pytest.fixture
def reconciler(settings: Settings, fake: FakeRuntime) -> Iterator[Reconciler]:
    r = Reconciler(settings, runtime=fake, sources=no_sources)
    r.crash_backoff = Backoff(initial=0.4, maximum=1.6, reset_after=30)
    r.image_backoff = Backoff(initial=0.4, maximum=1.6, reset_after=30)
    r.start()
    yield r
    r.stop()


def status_when(state_dir: Path, check: Callable[[PodStatus], bool], what: str, name: str = "web-node-1") -> PodStatus:
    """The pod's status file once `check` holds for it (5 s at most)."""

    def probe() -> PodStatus | None:
        status = read_status(state_dir, "default", name)
        return status if status is not None and check(status) else None

    return wait_until(what, probe, timeout=5, interval=0.1)
