"""Helpers to drive a reconciler from tests (unit tests with FakeRuntime, real tests with Docker).

    with running(settings) as r:      # Reconciler started in background threads, stopped on exit
        wait_for(lambda: ..., 30)     # poll a condition, AssertionError with a description on timeout
    remove_instance_containers(...)   # delete every container of one reconciler instance (test cleanup)

Real tests give each reconciler a unique node name; the `io.kbs.reconciler=<node>` label then scopes listing,
adoption and cleanup to that test's containers, so tests can share one Docker engine with others.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from bootstrap.reconciler.settings import Settings

if TYPE_CHECKING:
    from bootstrap.reconciler.manager import Reconciler
    from bootstrap.reconciler.runtime import Runtime

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


def wait_for(condition: Callable[[], T], timeout: float, what: str = "condition", interval: float = 0.1) -> T:
    """Poll `condition` until it returns something truthy; that value, or AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        try:
            last = condition()
        except Exception:  # noqa: BLE001 - transient errors while polling count as "not yet"
            last = None
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


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
