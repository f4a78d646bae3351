"""Shared by the tests/real/test_init_*.py modules: a sandboxed `kbs init` on the host network (no tests here).

Every path kbs uses (Kubernetes dir, PKI, manifests, etcd data, reconciler state/run/log) lies under one temp
directory named in a kbs config document. The control plane binds the standard host ports (6443, 2379-2381,
10257, 10259), so only one can run on the machine: modules take conftest's `control_plane_lock`, and
`exclusive_ports` then waits until no one else's control plane holds those ports, failing loudly if that never
happens. The reconciler's own ports are moved off 10250/10248 to stay clear of other reconcilers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest

from bootstrap.phases import ports
from tests.real.conftest import TestBed

REPO = Path(__file__).resolve().parents[2]
NODE = "kbs-e2e"
CONTROL_PLANE_PORTS = (6443, 2379, 2380, 2381, 10257, 10259)
PORT_WAIT = 900.0
INIT_TIMEOUT = 600.0
T = TypeVar("T")

CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  name: {node}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
certificatesDir: {root}/etc/kubernetes/pki
{cluster_extra}etcd:
  local:
    dataDir: {root}/var/lib/etcd
---
apiVersion: kbs.dev/v1alpha1
kind: KbsConfiguration
kubernetesDir: {root}/etc/kubernetes
staticPodPath: {root}/etc/kubernetes/manifests
reconciler:
  mode: bundled
  port: {port}
  healthzPort: {healthz}
  stateDir: {root}/var/lib/kbs
  runDir: {root}/run/kbs
  logDir: {root}/var/log/kbs
"""


@dataclass
class Sandbox:
    root: Path
    config: Path
    testbed: TestBed

    @property
    def manifests(self) -> Path:
        return self.root / "etc/kubernetes/manifests"

    @property
    def admin(self) -> Path:
        return self.root / "etc/kubernetes/admin.conf"

    def kbs(self, *args: str, timeout: float = INIT_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PATH": f"{self.testbed.bin_dir}:{os.environ.get('PATH', '')}"}
        result = subprocess.run(
            [sys.executable, "-m", "bootstrap", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            env=env,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"kbs {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.testbed.bin("kubectl"), "--kubeconfig", str(self.admin), *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def kubeadm(self, *args: str) -> str:
        """`kubeadm <args> --kubeconfig admin.conf` with the test bed's kubeadm; its stdout."""
        command = [self.testbed.bin("kubeadm"), *args, "--kubeconfig", str(self.admin)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            pytest.fail(f"kubeadm {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def status(self) -> dict[str, Any]:
        result = self.kbs("status", "-o", "json", check=False)
        body: dict[str, Any] = json.loads(result.stdout)
        return body

    def containers(self, pod: str | None = None, running_only: bool = True) -> list[Any]:
        client = docker.from_env()
        try:
            label = "io.kubernetes.pod.name" + (f"={pod}" if pod else "")
            found = client.containers.list(all=not running_only, filters={"label": label})
            mine = [c for c in found if str(c.labels.get("io.kubernetes.pod.name", "")).endswith(f"-{NODE}")]
            return [c for c in mine if c.labels.get("io.kubernetes.container.name") != "POD"]
        finally:
            client.close()


def _ports_busy(extra: tuple[int, ...]) -> list[str]:
    busy = []
    for port in (*CONTROL_PLANE_PORTS, *extra):
        owner = ports.listener(port)
        if owner is not None:
            busy.append(f"{port} ({owner.describe()})")
    return busy


@contextlib.contextmanager
def exclusive_ports(extra: tuple[int, ...] = ()) -> Iterator[None]:
    """Wait until no one else's control plane holds the host's control-plane ports (fail loudly if it never ends).

    Use it inside conftest's `control_plane_lock` (the lock every module that starts a control plane takes): the
    lock orders the test modules, this covers control planes started by hand or by something not taking the lock.
    """
    deadline = time.monotonic() + PORT_WAIT
    while busy := _ports_busy(extra):
        if time.monotonic() > deadline:
            pytest.fail(f"another control plane holds the ports for {PORT_WAIT:.0f}s: {', '.join(busy)}")
        time.sleep(5)
    yield


@contextlib.contextmanager
def sandbox(testbed: TestBed, endpoint: str | None = None) -> Iterator[Sandbox]:
    """A temp root with the kbs config document in it; reset and removed at the end, whatever happened.

    `endpoint`: the ClusterConfiguration's controlPlaneEndpoint (none by default).
    """
    root = Path(tempfile.mkdtemp(prefix="kbs-e2e-init-"))
    config = root / "kbs.yaml"
    extra = f"controlPlaneEndpoint: {endpoint!r}\n" if endpoint else ""
    config.write_text(CONFIG.format(root=root, node=NODE, port=20250, healthz=20248, cluster_extra=extra))
    box = Sandbox(root, config, testbed)
    try:
        yield box
    finally:
        box.kbs("reset", "--force", check=False, timeout=300)
        client = docker.from_env()
        try:  # belt and braces: nothing of this sandbox may outlive the module
            for container in client.containers.list(all=True, filters={"label": "io.kubernetes.pod.name"}):
                if str(container.labels.get("io.kubernetes.pod.name", "")).endswith(f"-{NODE}"):
                    container.remove(force=True)
        finally:
            client.close()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def initialised(testbed: TestBed) -> Iterator[Sandbox]:
    """A sandboxed control plane brought up by `kbs init`, with the host's control-plane ports to itself."""
    with exclusive_ports(), sandbox(testbed) as box:
        box.kbs("init")
        yield box
