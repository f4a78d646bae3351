"""Control-plane-shaped pods on the real engine: etcd like kubeadm writes it, a gRPC probe, resources, security."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import docker

from bootstrap.reconciler.status import PodStatus
from tests.real.conftest import TestBed
from tests.support.reconciler import Bed
from tests.support.wait import wait_until

BED_PREFIX = "kbs-cp"  # the node name of this module's beds (the `bed` fixture, tests/real/conftest.py)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def ready(bed: Bed, name: str, namespace: str = "default", timeout: float = 90) -> PodStatus:
    def probe() -> PodStatus | None:
        status = bed.status(name, namespace)
        return status if status is not None and status.ready else None

    return wait_until(f"{name} ready", probe, timeout=timeout, interval=0.1)


def test_etcd_static_pod_shaped_like_kubeadms_becomes_ready_and_serves(
    bed: Bed, testbed: TestBed, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    client, peer, metrics = free_ports(3)
    data = tmp_path / "var-lib-etcd"
    probe = f"httpGet: {{host: 127.0.0.1, port: {metrics}, path: /readyz, scheme: HTTP}}"
    bed.write(
        "etcd.yaml",
        f"""apiVersion: v1
kind: Pod
metadata:
  labels: {{component: etcd, tier: control-plane}}
  name: etcd
  namespace: kube-system
spec:
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext: {{seccompProfile: {{type: RuntimeDefault}}}}
  containers:
  - name: etcd
    image: {testbed.images["etcd"]}
    imagePullPolicy: IfNotPresent
    command:
    - etcd
    - --name=node
    - --data-dir=/var/lib/etcd
    - --listen-client-urls=http://127.0.0.1:{client}
    - --advertise-client-urls=http://127.0.0.1:{client}
    - --listen-peer-urls=http://127.0.0.1:{peer}
    - --initial-advertise-peer-urls=http://127.0.0.1:{peer}
    - --initial-cluster=node=http://127.0.0.1:{peer}
    - --listen-metrics-urls=http://127.0.0.1:{metrics}
    resources:
      requests: {{cpu: 100m, memory: 100Mi}}
    livenessProbe:
      failureThreshold: 8
      httpGet: {{host: 127.0.0.1, port: {metrics}, path: /livez, scheme: HTTP}}
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    readinessProbe:
      {probe}
      periodSeconds: 1
    startupProbe:
      failureThreshold: 24
      {probe}
      initialDelaySeconds: 1
      periodSeconds: 1
    volumeMounts:
    - {{mountPath: /var/lib/etcd, name: etcd-data}}
  volumes:
  - hostPath: {{path: {data}, type: DirectoryOrCreate}}
    name: etcd-data
""",
    )
    bed.start()
    status = ready(bed, "etcd", "kube-system")
    etcd = status.container_statuses[0]
    assert etcd.started and etcd.restart_count == 0 and status.qos_class == "Burstable"
    with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=5) as answer:
        assert b'"health":"true"' in answer.read()
    assert (data / "member").is_dir()  # etcd wrote through the hostPath volume
    container = docker_client.containers.get(etcd.container_id.removeprefix("docker://"))  # type: ignore[union-attr]
    host = container.attrs["HostConfig"]
    assert host["NetworkMode"] == "host" and host["CpuShares"] == 102
    assert container.name == f"k8s_etcd_etcd-{bed.node}_kube-system_{status.uid}_0"


def test_grpc_probe_resources_and_security_context_are_applied(
    bed: Bed, testbed: TestBed, docker_client: docker.DockerClient
) -> None:
    image = testbed.images["agnhost"]
    bed.write(
        "grpc.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: grpc}}
spec:
  containers:
  - name: grpc
    image: {image}
    args: ["grpc-health-checking", "--port=5000", "--http-port=8080"]
    readinessProbe:
      grpc: {{port: 5000}}
      periodSeconds: 1
    resources:
      requests: {{cpu: 250m, memory: 32Mi}}
      limits: {{cpu: 500m, memory: 64Mi}}
    securityContext:
      runAsUser: 1234
      runAsGroup: 2345
      allowPrivilegeEscalation: false
      capabilities: {{drop: [ALL]}}
""",
    )
    bed.write(
        "priv.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: priv}}
spec:
  containers:
  - {{name: priv, image: {image}, args: [pause], securityContext: {{privileged: true}}}}
""",
    )
    bed.start()
    status = ready(bed, "grpc")
    grpc = status.container("grpc")
    assert grpc is not None and grpc.ready
    with urllib.request.urlopen(f"http://{status.pod_ip}:8080/make-not-serving", timeout=5):
        pass
    wait_until(
        "gRPC NOT_SERVING makes it unready",
        lambda: (s := bed.status("grpc")) is not None and not s.ready,
        timeout=30,
        interval=0.1,
    )
    app = docker_client.containers.get(grpc.container_id.removeprefix("docker://"))  # type: ignore[union-attr]
    host = app.attrs["HostConfig"]
    assert host["CpuShares"] == 256 and host["CpuQuota"] == 50000 and host["CpuPeriod"] == 100000
    assert host["Memory"] == 64 * 1024 * 1024
    assert app.attrs["Config"]["User"] == "1234:2345"
    assert "no-new-privileges" in host["SecurityOpt"] and host["CapDrop"] == ["ALL"]
    # Some sandboxed engines refuse privileged containers at start; the container is created privileged anyway.
    priv = wait_until(
        "priv created",
        lambda: [r for r in bed.containers("priv") if r.container_name == "priv"],
        timeout=30,
        interval=0.1,
    )
    host_config = docker_client.containers.get(priv[0].id).attrs["HostConfig"]
    # Docker's privileged mode where the engine holds every capability, else containerd's way, piece by piece
    assert host_config["Privileged"] is True or "seccomp=unconfined" in (host_config["SecurityOpt"] or [])
