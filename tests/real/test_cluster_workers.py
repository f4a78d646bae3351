"""A kbs cluster with real workers: `kbs init` on a control-plane node, stock `kubeadm join` on two workers with
real kubelets and containerd, the addons and the flannel pod network; then what users do with such a cluster.

One cluster serves the whole module (bringing it up takes about half a minute); the tests that change it
(drain, remove and rejoin a worker) run last and put it back as they found it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from tests.support.cluster import Cluster, cluster
from tests.support.nodes import Node
from tests.support.wait import wait_until

WORKERS = ["worker-1", "worker-2"]
APP = "web"
WEB_PORT = 8080  # agnhost netexec's default HTTP port


@pytest.fixture(scope="module")
def lab(docker_client: docker.DockerClient) -> Iterator[Cluster]:
    with cluster(docker_client, workers=2, prefix="kbs-workers") as made:
        made.wait_nodes_ready(["cp-1", *WORKERS])
        made.kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s")
        deploy_web(made, replicas=3)
        yield made


def deploy_web(made: Cluster, replicas: int) -> None:
    agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
    made.kubectl("create", "deployment", APP, f"--image={agnhost}", f"--replicas={replicas}", f"--port={WEB_PORT}",
                 "--", "/agnhost", "netexec", f"--http-port={WEB_PORT}")  # fmt: skip
    made.kubectl("expose", "deployment", APP, f"--port={WEB_PORT}", "--type=NodePort")
    made.kubectl("rollout", "status", f"deployment/{APP}", "--timeout=180s")


def pods(made: Cluster, *selector: str) -> list[dict[str, Any]]:
    return list(json.loads(made.kubectl("get", "pods", "-o", "json", *selector))["items"])


def node(made: Cluster, name: str) -> dict[str, Any]:
    return dict(json.loads(made.kubectl("get", "node", name, "-o", "json")))


def test_workers_register_get_a_pod_cidr_and_turn_ready(lab: Cluster) -> None:
    for name in WORKERS:
        spec = node(lab, name)["spec"]
        assert spec["podCIDR"].startswith("10.244."), spec


def test_daemonsets_run_on_workers_and_not_on_the_control_plane(lab: Cluster) -> None:
    for namespace, label in (("kube-system", "k8s-app=kube-proxy"), ("kube-flannel", "app=flannel")):
        running = {
            p["spec"].get("nodeName"): p["status"]["phase"]
            for p in pods(lab, "-n", namespace, "-l", label)
            if p["status"]["phase"] == "Running"
        }
        assert set(running) == set(WORKERS), (namespace, running)
    control_plane = node(lab, "cp-1")
    taints = {t["key"] for t in control_plane["spec"].get("taints", [])}
    assert "node-role.kubernetes.io/control-plane" in taints


def test_no_pod_met_a_node_whose_pod_network_was_not_ready(lab: Cluster) -> None:
    """flannel's CNI configuration appears only once flanneld holds its lease (bootstrap/kube/flannel.py), so no
    sandbox failed on a missing subnet.env while the workers came up."""
    failed = lab.kubectl("get", "events", "-A", "--field-selector=reason=FailedCreatePodSandBox", "-o", "json")
    messages = [e["message"] for e in json.loads(failed)["items"]]
    assert not [m for m in messages if "subnet.env" in m], messages


def test_coredns_runs_on_the_workers(lab: Cluster) -> None:
    dns = pods(lab, "-n", "kube-system", "-l", "k8s-app=kube-dns")
    assert dns and all(p["spec"]["nodeName"] in WORKERS for p in dns)
    assert all(p["status"]["phase"] == "Running" for p in dns)


def test_a_deployment_of_three_spreads_over_both_workers(lab: Cluster) -> None:
    web = pods(lab, "-l", f"app={APP}")
    assert len(web) == 3
    assert {p["spec"]["nodeName"] for p in web} == set(WORKERS)


def _client_pod_on(lab: Cluster, worker: str, name: str) -> str:
    overrides = json.dumps({"spec": {"nodeName": worker}})
    lab.kubectl("run", name, "--image=registry.k8s.io/e2e-test-images/agnhost:2.66.1", f"--overrides={overrides}",
                "--restart=Never", "--command", "--", "/agnhost", "pause")  # fmt: skip
    lab.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s")
    return name


@pytest.fixture(scope="module")
def client_pods(lab: Cluster) -> dict[str, str]:
    """A pod on each worker to send requests from."""
    return {worker: _client_pod_on(lab, worker, f"client-{worker}") for worker in WORKERS}


def test_a_cluster_ip_service_answers_from_a_pod_on_the_other_worker(lab: Cluster, client_pods: dict[str, str]) -> None:
    cluster_ip = lab.kubectl("get", "svc", APP, "-o", "jsonpath={.spec.clusterIP}")
    for worker, pod in client_pods.items():
        others = [p for p in pods(lab, "-l", f"app={APP}") if p["spec"]["nodeName"] != worker]
        assert others  # the Service has an endpoint on the other worker
        for target in (cluster_ip, others[0]["status"]["podIP"]):
            answer = lab.kubectl(
                "exec", pod, "--", "curl", "-sS", "--max-time", "5", f"http://{target}:{WEB_PORT}/hostname"
            )
            assert answer.startswith(f"{APP}-"), answer


def test_service_names_resolve_through_coredns(lab: Cluster, client_pods: dict[str, str]) -> None:
    pod = client_pods[WORKERS[0]]
    for name in ("kubernetes.default.svc.cluster.local", f"{APP}.default.svc.cluster.local", APP):
        answer = lab.kubectl("exec", pod, "--", "getent", "hosts", name)  # the pod's resolver: CoreDNS, search path
        assert answer.split()[0].count(".") == 3, (name, answer)
    by_name = lab.kubectl("exec", pod, "--", "curl", "-sS", "--max-time", "5", f"http://{APP}:{WEB_PORT}/hostname")
    assert by_name.startswith(f"{APP}-")


def test_logs_exec_and_port_forward_reach_worker_pods(lab: Cluster) -> None:
    pod = pods(lab, "-l", f"app={APP}")[0]["metadata"]["name"]
    assert "Started HTTP server" in lab.kubectl("logs", pod)
    result = subprocess.run(
        ["docker", "exec", lab.control_plane.id, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf",
         "exec", pod, "--", "sh", "-c", "exit 7"], capture_output=True, check=False,
    )  # fmt: skip
    assert result.returncode == 7
    assert lab.kubectl("exec", pod, "--", "cat", "/etc/hostname").strip() == pod
    forward = subprocess.Popen(
        ["docker", "exec", lab.control_plane.id, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf",
         "port-forward", f"pod/{pod}", f"18080:{WEB_PORT}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        answer = wait_until(
            "an answer through kubectl port-forward",
            lambda: lab.control_plane.exec(
                "curl", "-sS", "--max-time", "2", "http://127.0.0.1:18080/hostname", check=False
            ),
            timeout=60,
        )
        assert answer == pod
    finally:
        forward.terminate()
        forward.wait(timeout=10)


def test_a_node_port_answers_on_every_worker(lab: Cluster) -> None:
    node_port = lab.kubectl("get", "svc", APP, "-o", "jsonpath={.spec.ports[0].nodePort}")
    for worker in lab.workers:
        answer = lab.control_plane.exec(
            "curl", "-sS", "--max-time", "5", f"http://{worker.address}:{node_port}/hostname"
        )
        assert answer.startswith(f"{APP}-"), (worker.name, answer)


def test_draining_a_worker_moves_its_pods_to_the_other(lab: Cluster) -> None:
    lab.kubectl("drain", "worker-2", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=180s")
    try:
        lab.kubectl("rollout", "status", f"deployment/{APP}", "--timeout=180s")
        assert {p["spec"]["nodeName"] for p in pods(lab, "-l", f"app={APP}")} == {"worker-1"}
    finally:
        lab.kubectl("uncordon", "worker-2")


def test_a_removed_worker_joins_again(lab: Cluster) -> None:
    worker = next(w for w in lab.workers if w.name == "worker-2")
    lab.kubectl("drain", "worker-2", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=180s")
    lab.kubectl("delete", "node", "worker-2")
    worker.exec("kubeadm", "reset", "--force", f"--cri-socket={'unix:///run/containerd/containerd.sock'}", timeout=180)
    lab.workers.remove(worker)
    lab.join_worker(worker)
    lab.wait_nodes_ready(WORKERS)


JOIN_CONFIGURATION = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: {endpoint}
    token: {token}
    caCertHashes: [{ca_hash}]
timeouts:
  discovery: 15s
nodeRegistration:
  name: {node}
  criSocket: unix:///run/containerd/containerd.sock
  ignorePreflightErrors: [all]
"""


@pytest.fixture(scope="module")
def outsider(lab: Cluster) -> Node:
    """A fresh worker node that never joins: the failed joins run on it."""
    made = lab.network.start("worker-3", "worker")
    made.wait_ready()
    return made


def failed_join(lab: Cluster, worker: Node, *, token: str, ca_hash: str) -> str:
    """Run a stock `kubeadm join` that must fail (15 s of discovery at most); its output, and nothing written."""
    words = lab.join_command()
    text = JOIN_CONFIGURATION.format(endpoint=words[2], token=token, ca_hash=ca_hash, node=worker.name)
    worker.exec("sh", "-c", "cat > /tmp/join.yaml", stdin=text.encode())
    output = worker.exec("sh", "-c", "kubeadm join --config /tmp/join.yaml 2>&1; echo exit=$?", timeout=120)
    assert not output.rstrip().endswith("exit=0"), output
    assert worker.exec("ls", "-A", "/etc/kubernetes").split() in ([], ["manifests"]), "the failed join wrote files"
    assert worker.name not in lab.kubectl("get", "nodes", "-o", "name")
    return output


def test_a_join_with_a_deleted_token_fails_with_kubeadms_message(lab: Cluster, outsider: Node) -> None:
    words = lab.join_command()
    token = lab.control_plane.exec("kbs", "token", "create").strip().splitlines()[-1]
    lab.control_plane.exec("kbs", "token", "delete", token.split(".")[0])
    ca_hash = words[words.index("--discovery-token-ca-cert-hash") + 1]
    output = failed_join(lab, outsider, token=token, ca_hash=ca_hash)
    token_id = token.split(".")[0]
    assert f'could not find a JWS signature in the cluster-info ConfigMap for token ID "{token_id}"' in output


def test_a_join_with_a_wrong_ca_hash_fails(lab: Cluster, outsider: Node) -> None:
    words = lab.join_command()
    right = words[words.index("--discovery-token-ca-cert-hash") + 1]
    output = failed_join(lab, outsider, token=words[words.index("--token") + 1], ca_hash="sha256:" + "0" * 64)
    assert "cluster CA found in cluster-info ConfigMap is invalid" in output
    assert f'none of the public keys "{right}" are pinned' in output  # kubeadm names the key it found
