"""A Vagrant lab of the project's Vagrantfile on the Docker provider, made apart from any `make lab` of the checkout.

Its settings file (KBS_LAB_SETTINGS) gives it its own name (so its containers and network are its own), a /24 that
no Docker network or route of this machine uses, its own out_dir under lab/out (git ignores it), and its Vagrant
state lives in a temporary directory. Used by tests/real/test_lab_docker.py and bench/lab_bench.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

REPO = Path(__file__).resolve().parents[2]
CGROUPS = Path("/sys/fs/cgroup")
NODE_CGROUP_PARENT = "kbs-node"  # lab/docker.rb: each node container and its runtimes under kbs-node/<container>


@dataclass
class Lab:
    name: str
    masters: int
    workers: int
    env: dict[str, str]
    out: Path  # the host side of the lab's out_dir: admin.conf, join commands
    kubectl_bin: str

    @property
    def master_names(self) -> list[str]:
        return [f"master-{i}" for i in range(1, self.masters + 1)]

    @property
    def worker_names(self) -> list[str]:
        return [f"worker-{i}" for i in range(1, self.workers + 1)]

    def container(self, machine: str) -> str:
        return f"{self.name}-{machine}"

    def vagrant(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        argv = ["vagrant", *args]
        return subprocess.run(
            argv, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )

    def kubectl(self, *args: str) -> str:
        result = subprocess.run(
            [self.kubectl_bin, f"--kubeconfig={self.out / 'admin.conf'}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
        return result.stdout

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def ready_nodes(self) -> list[str] | None:
        """The names of the Ready nodes once every machine's node is Ready, else None."""
        items = self.kubectl_json("get", "nodes")["items"]
        ready = [
            n["metadata"]["name"]
            for n in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
        ]
        return sorted(ready) if len(ready) == self.masters + self.workers else None

    def node_memory(self, machine: str) -> dict[str, int]:
        """The machine's memory from its cgroup (the container, its runtime and pods): rss, cache, shmem (tmpfs)."""
        path = CGROUPS / "memory" / NODE_CGROUP_PARENT / self.container(machine) / "memory.stat"
        stat = {key: int(value) for key, value in (line.split() for line in path.read_text().splitlines())}
        return {"rss": stat["total_rss"], "cache": stat["total_cache"], "shmem": stat.get("total_shmem", 0)}


def make_lab(
    client: docker.DockerClient, base: Path, kubectl: str, *, masters: int, workers: int, prefix: str = "kbs-lab-test"
) -> Lab:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    out_dir = f"lab/out/{name}"
    settings = base / "settings.yaml"
    settings.write_text(
        f"name: {name}\nmasters: {masters}\nworkers: {workers}\n"
        f'network_prefix: "{free_prefix(client)}"\nout_dir: {out_dir}\njoin_wait_seconds: 600\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAGRANT_", "KBS_LAB_"))}
    env.update(
        VAGRANT_CWD=str(REPO),
        VAGRANT_HOME=str(base / "home"),
        VAGRANT_DOTFILE_PATH=str(base / "dot"),
        KBS_LAB_SETTINGS=str(settings),
        VAGRANT_NO_COLOR="1",
    )
    return Lab(name=name, masters=masters, workers=workers, env=env, out=REPO / out_dir, kubectl_bin=kubectl)


def free_prefix(client: docker.DockerClient) -> str:
    """A 192.168.X prefix whose /24 no Docker network and no route of this machine overlaps."""
    taken: list[ipaddress.IPv4Network] = []
    for network in client.networks.list():
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
            subnet = config.get("Subnet", "")
            if subnet and ":" not in subnet:
                taken.append(ipaddress.IPv4Network(subnet, strict=False))
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=False).stdout
    for line in routes.splitlines():
        words = line.split()
        if words and "/" in words[0]:
            taken.append(ipaddress.IPv4Network(words[0], strict=False))
    for third in range(200, 250):
        candidate = ipaddress.IPv4Network(f"192.168.{third}.0/24")
        if not any(candidate.overlaps(t) for t in taken):
            return f"192.168.{third}"
    raise AssertionError("no free 192.168.200-249.0/24 for the lab network")


def leftovers(client: docker.DockerClient, lab: Lab) -> list[str]:
    """What of the lab is still on the host: containers, its network, volumes, cgroups, published files, mounts."""
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters={"name": lab.name})]
    found += [f"network {n.name}" for n in client.networks.list(names=[lab.name]) if n.name == lab.name]
    found += [f"volume {v.name}" for v in client.volumes.list(filters={"label": f"io.kbs.lab={lab.name}"})]
    found += [f"cgroup {p}" for p in CGROUPS.glob(f"*/{NODE_CGROUP_PARENT}/{lab.name}-*")]
    found += [f"file {p}" for p in lab.out.glob("*")]
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    found += [f"mount {line.split()[4]}" for line in mounts if lab.name in line]
    return found


def sweep(client: docker.DockerClient, lab: Lab) -> None:
    """What a failed `vagrant destroy` may have left: this lab's containers, network and cgroups (by its name)."""
    for container in client.containers.list(all=True, filters={"name": lab.name}):
        container.remove(force=True, v=True)
    for network in client.networks.list(names=[lab.name]):
        if network.name == lab.name:
            network.remove()
    for path in sorted(CGROUPS.glob(f"*/{NODE_CGROUP_PARENT}/{lab.name}-*/**"), key=lambda p: -len(p.parts)):
        if path.is_dir():
            path.rmdir()
