"""Test-bed nodes: containers from the test bed's node images that behave like the VMs of a kubeadm lab.

A worker node runs containerd and (once `kubeadm join` has configured it) a real kubelet; a control-plane node
runs its own Docker engine for kbs. Nodes live on a Docker network that the test makes, and everything is
removed on exit: containers, their anonymous volumes and the network.

How a node container is run depends on the machine. Where `docker run --privileged` works (most laptops and
VMs), nodes are privileged. On machines whose root lacks a capability Docker's privileged mode asks for (this
one lacks CAP_SYS_RESOURCE, so every privileged container fails with "unable to apply caps: operation not
permitted"), they get every capability but that one, unconfined seccomp/AppArmor, writable /proc and /sys
paths, and every device (the recipe of shared/reference/node-ha-upgrade.md, section 0).
"""

from __future__ import annotations

import functools
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import docker
import docker.errors
from docker.models.containers import Container

REPO = Path(__file__).resolve().parents[2]
TESTBED = REPO / "tests" / "testbed" / "testbed.sh"
LABEL = "io.kbs.test-node"  # every container and network made here carries it, for clean-up
CGROUP_PARENT = "kbs-node"  # nodes keep their runtime's cgroups under /sys/fs/cgroup/<hierarchy>/kbs-node/<node>

Role = Literal["worker", "control-plane"]


def ask_testbed(*args: str) -> str:
    return subprocess.run([str(TESTBED), *args], capture_output=True, text=True, check=True).stdout.strip()


@functools.cache
def node_images() -> dict[Role, str]:
    """The node images' references (the last two lines of `testbed.sh images`: worker, control-plane)."""
    worker, control_plane = ask_testbed("images").splitlines()[-2:]
    return {"worker": worker, "control-plane": control_plane}


@functools.cache
def privileged_works() -> bool:
    """Whether `docker run --privileged` can start a container on this machine's engine."""
    client = docker.from_env()
    container = client.containers.create(node_images()["worker"], ["true"], entrypoint=[], privileged=True)
    try:
        container.start()  # this is what fails where the engine cannot grant every capability
    except docker.errors.APIError:
        return False
    finally:
        container.remove(force=True)  # a container that failed to start stays behind as "Created" otherwise
        client.close()
    return True


def run_options(role: Role, mounts: Sequence[tuple[str, str]] = ()) -> list[str]:
    """`docker run` options for a node of this role on this machine.

    The docker CLI, not docker-py: `--security-opt systempaths=unconfined` is a client-side option (it clears the
    masked and read-only paths) that the Engine API has no single field for in docker-py.
    """
    state_dir = "/var/lib/containerd" if role == "worker" else "/var/lib/docker"
    options = [
        "--init",  # docker-init reaps what the node's supervisor leaves behind
        # Overlay filesystems cannot stack on the container's own overlay root: the runtime's state is a tmpfs.
        "--tmpfs=/run:exec",
        f"--tmpfs={state_dir}:exec",
        "--tmpfs=/tmp:exec",
        "--volume=/sys/fs/cgroup:/sys/fs/cgroup:rw",
        f"--volume={ask_testbed('node-images', role)}:/testbed/images/{role}:ro",
        "--device=/dev/kmsg",
    ]
    if role == "control-plane":
        options.append(f"--volume={REPO}:/kbs:ro")  # the node image's `kbs` runs this checkout
    if Path("/lib/modules").is_dir():
        options.append("--volume=/lib/modules:/lib/modules:ro")
    options += [f"--volume={source}:{target}:ro" for source, target in mounts]
    if privileged_works():
        return [*options, "--privileged"]
    return [
        *options,
        "--cap-add=ALL",
        "--cap-drop=SYS_RESOURCE",
        "--security-opt=seccomp=unconfined",
        "--security-opt=apparmor=unconfined",
        "--security-opt=systempaths=unconfined",
        "--device-cgroup-rule=a *:* rwm",
    ]


@dataclass
class Node:
    name: str
    role: Role
    container: Container
    address: str

    @property
    def id(self) -> str:
        return str(self.container.id)

    def exec(self, *argv: str, check: bool = True, stdin: bytes | None = None, timeout: float = 120) -> str:
        """Runs a command in the node (like `docker exec -i`), returning its standard output."""
        result = subprocess.run(
            ["docker", "exec", "-i", self.id, *argv],
            input=stdin,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.name}: {' '.join(argv)} exited {result.returncode}: {result.stderr.decode(errors='replace')}"
            )
        return result.stdout.decode(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.container.reload()
            if self.container.status != "running":
                logs = self.container.logs(tail=40).decode(errors="replace")
                raise AssertionError(f"node {self.name} stopped ({self.container.status}):\n{logs}")
            if self._ready():
                return
            time.sleep(0.2)
        raise AssertionError(f"node {self.name} not ready after {timeout}s: {self.exec('ls', '/var/log')}")

    def _ready(self) -> bool:
        result = subprocess.run(
            ["docker", "exec", self.id, "test", "-f", "/run/kbs-node/ready"], capture_output=True, check=False
        )
        return result.returncode == 0


@dataclass
class NodeNetwork:
    """A Docker network of the test's own, and the nodes started on it."""

    client: docker.DockerClient
    name: str
    nodes: list[Node] = field(default_factory=list)

    def start(
        self,
        name: str,
        role: Role,
        *,
        mounts: Sequence[tuple[str, str]] = (),
        entrypoint: str | None = None,
        image: str | None = None,
    ) -> Node:
        """`entrypoint`: another node supervisor than the image's (a control plane may run the checkout's
        tests/testbed/image/node/kbs-node, mounted under /kbs, to use a change before the image is rebuilt).
        `image`: another image than the role's, run the role's way (tests/support/kubelet_node.py)."""
        argv = [
            "docker", "run", "--detach", f"--name={self.name}-{name}", f"--hostname={name}", f"--network={self.name}",
            f"--label={LABEL}={self.name}", f"--env=KBS_NODE_CGROUP=/{CGROUP_PARENT}/{self.name}-{name}",
            *run_options(role, mounts), *([f"--entrypoint={entrypoint}"] if entrypoint else []),
            image or node_images()[role],
            *([role] if entrypoint else []),
        ]  # fmt: skip
        started = subprocess.run(argv, capture_output=True, text=True, check=False)
        if started.returncode != 0:
            raise AssertionError(f"starting node {name} failed: {started.stderr.strip()}")
        container = self.client.containers.get(started.stdout.strip())
        address = container.attrs["NetworkSettings"]["Networks"][self.name]["IPAddress"]
        node = Node(name=name, role=role, container=container, address=address)
        self.nodes.append(node)
        return node


@contextmanager
def node_network(client: docker.DockerClient, prefix: str = "kbs-test") -> Iterator[NodeNetwork]:
    """A fresh Docker network; on exit every node on it is removed with its volumes, then the network."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    network = client.networks.create(name, driver="bridge", labels={LABEL: name})
    nodes = NodeNetwork(client=client, name=name)
    try:
        yield nodes
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{LABEL}={name}"}):
            container.remove(force=True, v=True)
        network.remove()
        remove_cgroups(name)


def node_cgroups(network: str) -> list[Path]:
    """The cgroup directories of the network's nodes, every hierarchy, deepest first."""
    found = [p for p in Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}/{network}-*/**") if p.is_dir()]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_cgroups(network: str, timeout: float = 30) -> None:
    """Removes the (by now empty) cgroups the network's nodes made; a cgroup whose last process is still exiting
    refuses rmdir for a moment, hence the retries."""
    deadline = time.monotonic() + timeout
    while (left := node_cgroups(network)) and time.monotonic() < deadline:
        for path in left:
            with suppress(OSError):
                path.rmdir()
        time.sleep(0.1)
