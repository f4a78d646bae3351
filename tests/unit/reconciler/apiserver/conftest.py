"""A reconciler on the FakeRuntime with a Publisher on the FakeAPIServer: the API-server side, offline.

`cluster` starts both (fast timings) and stops them after the test; tests feed static pods with
`cluster.set(...)` (the reconciler's on_set, as a source would) and look at the fake API server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from bootstrap.reconciler import defaulting, model
from bootstrap.reconciler.apiserver import ApiServerSettings
from bootstrap.reconciler.apiserver.publisher import Publisher
from bootstrap.reconciler.manager import Reconciler
from bootstrap.reconciler.pods.backoff import Backoff
from bootstrap.reconciler.settings import Settings
from tests.support.fake_apiserver import FakeAPIServer
from tests.support.fake_runtime import FakeRuntime
from tests.support.wait import wait_until
from tests.unit.reconciler.conftest import no_sources

NODE = "node-1"
IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
PAUSE = "registry.k8s.io/pause:3.10.2"
T = TypeVar("T")


def wait(what: str, check: Callable[[], T | None], timeout: float = 5.0) -> T:
    """wait_until with the unit tests' short timeout and interval."""
    return wait_until(what, check, timeout=timeout, interval=0.02)


def static_pod(name: str = "web", *, extra: str = "", image: str = IMAGE, origin: str | None = None) -> model.StaticPod:
    text = f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: kube-system, labels: {{component: {name}}}}}
spec:
  containers:
  - name: c
    image: {image}
    args: [pause]
{extra}"""
    return defaulting.static_pod_from_document(
        yaml.safe_load(text), node_name=NODE, source="http", origin=origin or f"/m/{name}.yaml"
    )


@dataclass
class Cluster:
    runtime: FakeRuntime
    api: FakeAPIServer
    reconciler: Reconciler
    publisher: Publisher
    tmp: Path

    def set(self, *pods: model.StaticPod) -> None:
        self.reconciler.on_set("http", list(pods))

    def mirror(self, name: str = "web") -> dict[str, Any] | None:
        return self.api.mirror(f"{name}-{NODE}")

    def wait_mirror(self, check: Callable[[dict[str, Any]], bool], what: str, name: str = "web") -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            found = self.mirror(name)
            return found if found is not None and check(found) else None

        return wait(what, probe)

    def running(self, container: str = "c") -> list[str]:
        return [r.id for r in self.runtime.by_name(container, running=True)]

    def new_publisher(self) -> Publisher:
        publisher = Publisher(self.reconciler, publisher_settings(self.tmp), api=self.api)
        publisher.start()
        return publisher


def publisher_settings(tmp: Path) -> ApiServerSettings:
    return ApiServerSettings(kubeconfig=tmp / "kubelet.conf", read_api_port=None)


def make_cluster(tmp: Path, *, api: FakeAPIServer | None = None, start_publisher: bool = True) -> Cluster:
    runtime = FakeRuntime(images=(IMAGE, PAUSE))
    settings = Settings(
        node_name=NODE,
        manifest_dir=None,
        manifest_url="http://test.invalid/pods",  # fed by hand through on_set
        state_dir=tmp / "state",
        pause_image=PAUSE,
        node_ip="10.0.0.1",
        relist_period=0.2,
        housekeeping_period=0.1,
        gc_period=0.2,
        resync_period=5.0,
    )
    reconciler = Reconciler(settings, runtime=runtime, sources=no_sources)
    reconciler.crash_backoff = Backoff(initial=0.2, maximum=0.8, reset_after=30)
    fake_api = api or FakeAPIServer(NODE)
    publisher = Publisher(reconciler, publisher_settings(tmp), api=fake_api)
    reconciler.start()
    if start_publisher:
        publisher.start()
    return Cluster(runtime, fake_api, reconciler, publisher, tmp)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = make_cluster(tmp_path)
    yield c
    c.publisher.stop()
    c.reconciler.stop()
