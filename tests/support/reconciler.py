"""Helpers to drive a reconciler from tests (unit tests with FakeRuntime, real tests with Docker).

    with running(settings) as r:      # Reconciler started in background threads, stopped on exit
        wait_until("...", lambda: ..., timeout=30)   # tests.support.wait
    remove_instance_containers(...)   # delete every container of one reconciler instance (test cleanup)

Real tests give each reconciler a unique node name; the `io.kbs.reconciler=<node>` label then scopes listing,
adoption and cleanup to that test's containers, so tests can share one Docker engine with others.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import PodStatus, read_status
from tests.support.wait import wait_until

if TYPE_CHECKING:
    from bootstrap.reconciler.manager import Reconciler
    from bootstrap.reconciler.runtime import ContainerRecord, Runtime

T = TypeVar("T")


@contextlib.contextmanager
def running(settings: Settings, runtime: Runtime | None = None) -> Iterator[Reconciler]:
    from bootstrap.reconciler.manager import Reconciler

    reconciler = Reconciler(settings, runtime=runtime)
    reconciler.start()
    try:
        yield reconciler
    finally:
        reconciler.stop()


def remove_instance_containers(instance: str, docker_host: str | None = None) -> int:
    """Force-remove every container labelled io.kbs.reconciler=<instance>; returns how many."""
    import docker
    import docker.utils

    from bootstrap.constants import RECONCILER_LABEL

    kwargs = {"base_url": docker_host} if docker_host else docker.utils.kwargs_from_env()
    client = docker.APIClient(version="1.41", **kwargs)
    try:
        found = client.containers(all=True, filters={"label": f"{RECONCILER_LABEL}={instance}"})
        for container in found:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client.remove_container(container["Id"], force=True, v=True)
        return len(found)
    finally:
        client.close()


class Bed:
    """A manifest dir, a state dir and a unique node name for one test; `start()` runs a reconciler on them.

    Every container it creates carries `io.kbs.reconciler=<node>`; `close()` stops the reconciler and removes
    exactly those containers (also after a failure), so tests can share an engine with others.
    """

    def __init__(self, root: Path, *, prefix: str = "kbs-test", **overrides: Any) -> None:
        self.node = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.manifests = root / "manifests"
        self.state = root / "state"
        self.manifests.mkdir(parents=True, exist_ok=True)
        self.overrides = overrides
        self.reconciler: Reconciler | None = None

    def settings(self, **extra: Any) -> Settings:
        values: dict[str, Any] = {
            "node_name": self.node,
            "manifest_dir": self.manifests,
            "state_dir": self.state,
            "node_ip": "127.0.0.1",
            "file_check_frequency": 2.0,
        }
        values.update(self.overrides)
        values.update(extra)
        return Settings(**values)

    def start(self, **extra: Any) -> Reconciler:
        from bootstrap.reconciler.manager import Reconciler

        self.reconciler = Reconciler(self.settings(**extra))
        self.reconciler.start()
        return self.reconciler

    def stop(self) -> None:
        if self.reconciler is not None:
            self.reconciler.stop()
            self.reconciler = None

    def close(self) -> None:
        self.stop()
        remove_instance_containers(self.node)

    def write(self, filename: str, text: str) -> Path:
        path = self.manifests / filename
        tmp = self.manifests / f".{filename}.tmp"
        tmp.write_text(text)
        tmp.rename(path)  # atomic, like an operator's `mv` or kbs's own writer
        return path

    def pod_name(self, name: str) -> str:
        return f"{name}-{self.node}"

    def status(self, name: str, namespace: str = "default") -> PodStatus | None:
        return read_status(self.state, namespace, self.pod_name(name))

    def containers(self, name: str | None = None) -> list[ContainerRecord]:
        """This bed's containers (all states), optionally of one pod, oldest first."""
        from bootstrap.reconciler.runtime.docker import DockerRuntime

        runtime = DockerRuntime(self.node)
        try:
            found = runtime.list()
        finally:
            runtime.close()
        if name is not None:
            found = [r for r in found if r.pod_name == self.pod_name(name)]
        return sorted(found, key=lambda r: (r.created_at or datetime.min.replace(tzinfo=UTC), r.id))

    def running(self, name: str, container: str) -> list[ContainerRecord]:
        return [r for r in self.containers(name) if r.container_name == container and r.running]

    def status_when(
        self,
        name: str,
        check: Callable[[PodStatus], bool],
        what: str,
        *,
        namespace: str = "default",
        timeout: float = 60,
    ) -> PodStatus:
        """The pod's status once `check` holds for it; AssertionError after `timeout`."""

        def probe() -> PodStatus | None:
            status = self.status(name, namespace)
            return status if status is not None and check(status) else None

        return wait_until(what, probe, timeout=timeout, interval=0.1)
