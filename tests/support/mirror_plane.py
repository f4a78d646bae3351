"""Shared by tests/real/test_mirror_*.py and bench/mirror_bench.py: a control plane run by an in-process reconciler
that publishes to its API server (no tests here).

`control_plane(testbed, ...)` makes a sandbox under one temp dir (kbs config document naming every path), runs
`kbs certs generate` and `kbs render` into it, adds extra static pods, starts the reconciler in this process with
an ApiServerSettings (kubelet.conf identity, read API on an uncommon port, serving certificate issued from the
sandbox CA), waits for the API server and grants the API server's kubelet client `system:kubelet-api-admin` the
way kubeadm does (ClusterRoleBinding kubeadm:apiserver-kubelet-client). At the end the reconciler stops and
every container of its instance label is removed, then the sandbox. The caller holds conftest's
control_plane_lock; this waits until nobody else's control plane holds the ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from bootstrap import constants
from bootstrap.config.host import default_route_address
from bootstrap.reconciler.apiserver import ApiServerSettings
from bootstrap.reconciler.manager import Reconciler
from bootstrap.reconciler.settings import Settings
from tests.real.conftest import TestBed
from tests.support.control_plane import CONFIG, REPO, exclusive_ports
from tests.support.wait import wait_until


def output_with(what: str, produce: Callable[[], str], *needles: str, timeout: float = 120.0) -> str:
    """Poll a command's output until it contains every needle; return it."""

    def check() -> str | None:
        out = produce()
        return out if all(n in out for n in needles) else None

    return wait_until(what, check, timeout=timeout)


@dataclass
class Plane:
    root: Path
    node: str
    instance: str
    port: int
    testbed: TestBed
    reconciler: Reconciler

    @property
    def kubernetes_dir(self) -> Path:
        return self.root / "etc/kubernetes"

    @property
    def manifests(self) -> Path:
        return self.kubernetes_dir / "manifests"

    def kubectl(self, *args: str, check: bool = True, timeout: float = 60, conf: str = "admin.conf") -> str:
        command = [self.testbed.bin("kubectl"), "--kubeconfig", str(self.kubernetes_dir / conf), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout if result.returncode == 0 else result.stdout + result.stderr

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def pod(self, name: str, namespace: str = "kube-system") -> Any:
        """The mirror pod of static pod `name` (the node suffix is added), or None."""
        out = self.kubectl("get", "pod", "-n", namespace, f"{name}-{self.node}", "-o", "json", check=False)
        return json.loads(out) if out.lstrip().startswith("{") else None

    def containers(self, pod: str, container: str | None = None, *, running: bool = True) -> list[Any]:
        """Docker containers of static pod `pod` (app containers only, newest first)."""
        client = docker.from_env()
        try:
            labels = [f"{constants.RECONCILER_LABEL}={self.instance}", f"io.kubernetes.pod.name={pod}-{self.node}"]
            filters: dict[str, str | list[str] | bool] = {"label": labels}
            found = client.containers.list(all=not running, filters=filters)
            apps = [c for c in found if c.labels.get("io.kubernetes.container.name") != "POD"]
            if container is not None:
                apps = [c for c in apps if c.labels.get("io.kubernetes.container.name") == container]
            return sorted(apps, key=lambda c: c.attrs["Created"], reverse=True)
        finally:
            client.close()

    def write_manifest(self, name: str, text: str) -> Path:
        path = self.manifests / f"{name}.yaml"
        tmp = self.manifests / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(path)
        return path


def _kbs(config: Path, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kbs {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def remove_instance_containers(instance: str) -> None:
    client = docker.from_env()
    try:
        for container in client.containers.list(
            all=True, filters={"label": f"{constants.RECONCILER_LABEL}={instance}"}
        ):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
    finally:
        client.close()


@contextlib.contextmanager
def control_plane(
    testbed: TestBed,
    *,
    node: str,
    port: int,
    extra: dict[str, str] | None = None,
    grant_logs: bool = True,
    cluster_extra: str = "",
) -> Iterator[Plane]:
    """`cluster_extra`: YAML lines added to the ClusterConfiguration (e.g. the API server's extraArgs)."""
    # The caller holds conftest's control_plane_lock; exclusive_ports also waits out a control plane started by hand.
    with (
        exclusive_ports((port,)),
        _control_plane(
            testbed, node=node, port=port, extra=extra, grant_logs=grant_logs, cluster_extra=cluster_extra
        ) as plane,
    ):
        yield plane


@contextlib.contextmanager
def _control_plane(
    testbed: TestBed, *, node: str, port: int, extra: dict[str, str] | None, grant_logs: bool, cluster_extra: str
) -> Iterator[Plane]:
    root = Path(tempfile.mkdtemp(prefix=f"kbs-{node}-"))
    instance = f"{node}-{os.getpid()}"
    reconciler: Reconciler | None = None
    try:
        config = root / "kbs.yaml"
        config.write_text(
            CONFIG.format(root=root, node=node, port=port, healthz=port - 2, cluster_extra=cluster_extra)
        )  # not used in process
        _kbs(config, "certs", "generate")
        _kbs(config, "render")
        k8s = root / "etc/kubernetes"
        for name, text in (extra or {}).items():
            (k8s / "manifests" / f"{name}.yaml").write_text(text)
        apiserver = ApiServerSettings.kubeadm_layout(
            kubernetes_dir=k8s,
            cert_dir=k8s / "pki",
            node_name=node,
            advertise_address=default_route_address()[0],
            port=port,
            state_dir=root / "var/lib/kbs",
        )
        settings = Settings(
            node_name=node,
            manifest_dir=k8s / "manifests",
            state_dir=root / "var/lib/kbs/reconciler",
            pause_image=testbed.images["pause"],
            instance=instance,
            apiserver=apiserver,
        )
        reconciler = Reconciler(settings)
        reconciler.start()
        plane = Plane(root, node, instance, port, testbed, reconciler)
        wait_until("the API server's /readyz", lambda: plane.kubectl("get", "--raw", "/readyz") == "ok", timeout=240)
        plane.kubectl(  # what `kbs init` does so that admin.conf works (bootstrap.kube.admin)
            "create",
            "clusterrolebinding",
            "kubeadm:cluster-admins",
            "--clusterrole=cluster-admin",
            "--group=kubeadm:cluster-admins",
            conf="super-admin.conf",
        )
        if grant_logs:  # what kubeadm's init does for the API server's kubelet client (kbs init: issue 7)
            plane.kubectl(
                "create",
                "clusterrolebinding",
                "kubeadm:apiserver-kubelet-client",
                "--clusterrole=system:kubelet-api-admin",
                "--user=kube-apiserver-kubelet-client",
                conf="super-admin.conf",
            )
        yield plane
    finally:
        if reconciler is not None:
            reconciler.stop()
        remove_instance_containers(instance)
        shutil.rmtree(root, ignore_errors=True)
