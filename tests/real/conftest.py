"""Fixtures for the real tests: the test bed's binaries, images and Docker engine.

The test bed is found only through `tests/testbed/testbed.sh bin-dir` and `testbed.sh images`. A missing
piece fails the test loudly (it never skips): run `make testbed` first.
"""

from __future__ import annotations

import fcntl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.support.reconciler import Bed

TESTBED = Path(__file__).resolve().parents[1] / "testbed" / "testbed.sh"


@dataclass(frozen=True)
class TestBed:
    __test__ = False  # a fixture value, not a test class
    bin_dir: Path
    images: dict[str, str]  # short name ("kube-apiserver", "etcd", "pause", "agnhost") -> reference

    def bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    def kubeadm(self, version: str) -> str:
        return str(Path(_testbed("bin-dir", version)) / "kubeadm")


def _testbed(*args: str) -> str:
    result = subprocess.run([str(TESTBED), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"testbed.sh {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real)


@pytest.fixture(scope="session")
def testbed() -> TestBed:
    bin_dir = Path(_testbed("bin-dir"))
    missing = [n for n in ("kube-apiserver", "kubectl", "kubeadm", "etcd") if not (bin_dir / n).is_file()]
    if missing:
        pytest.fail(f"test bed incomplete: {', '.join(missing)} missing in {bin_dir}; run `make testbed`")
    refs = _testbed("images").splitlines()
    images: dict[str, str] = {}
    for ref in refs:  # the default version's come first; the previous minor's (upgrade tests) do not replace them
        images.setdefault(ref.rsplit("/", 1)[-1].split(":")[0], ref)
    client = docker.from_env()
    try:
        for ref in refs:
            client.images.get(ref)
    except docker.errors.ImageNotFound as exc:
        pytest.fail(f"test bed image missing: {exc}; run `make testbed`")
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine answers ({exc}); run `make testbed`")
    finally:
        client.close()
    return TestBed(bin_dir=bin_dir, images=images)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


CONTROL_PLANE_LOCK = Path("/tmp/kbs-control-plane.lock")


@pytest.fixture(scope="module")
def control_plane_lock() -> Iterator[None]:
    """Exclusive use of the host's control-plane ports (6443, 2379-2381, 10250, 10257, 10259) for one test module.

    A control plane runs on the host network, so two cannot run at once on this machine: every test module that
    brings one up (kbs init, the lab script, a hand-started control plane) holds this lock while it runs.
    """
    with CONTROL_PLANE_LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def bed(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Bed]:
    """A manifest dir, a state dir and a unique node name (prefixed with the module's BED_PREFIX); every container
    it made is removed afterwards."""
    made = Bed(tmp_path, prefix=getattr(request.module, "BED_PREFIX", "kbs-test"))
    try:
        yield made
    finally:
        made.close()
