"""Fixtures for the reconciler's unit tests: a FakeRuntime, fast settings, pods built from YAML text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bootstrap.reconciler import defaulting, model
from bootstrap.reconciler.manager import Reconciler
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.runtime.fake import FakeRuntime
from bootstrap.reconciler.settings import Settings

IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
PAUSE = "registry.k8s.io/pause:3.10.2"
NODE = "Node-1"


def pod(text: str, *, origin: str = "/etc/kubernetes/manifests/p.yaml", source: str = "file") -> model.StaticPod:
    return defaulting.static_pod_from_document(yaml.safe_load(text), node_name=NODE, source=source, origin=origin)


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
    r = Reconciler(settings, runtime=fake)
    r.crash_backoff = Backoff(initial=0.4, maximum=1.6, reset_after=30)
    r.image_backoff = Backoff(initial=0.4, maximum=1.6, reset_after=30)
    r._make_sources = lambda: []  # type: ignore[method-assign]  # tests call on_set themselves
    r.start()
    yield r
    r.stop()
