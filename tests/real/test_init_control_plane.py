"""`kbs init` end to end on the test bed: real binaries, real Docker, the bundled reconciler, one control plane.

The control plane comes up once for the module (it owns the host's control-plane ports) and is torn down with
`kbs reset --force`. Tests run in file order: health and work first, then idempotence, then the disruptive ones
(kill, edit, remove), each of which leaves the control plane converged again for the next.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap import constants
from bootstrap.kube import clusterinfo, token
from tests.real.conftest import TestBed
from tests.support.control_plane import NODE, Sandbox, initialised
from tests.support.wait import wait_until

COMPONENTS = constants.ALL_COMPONENTS


@pytest.fixture(scope="module")
def cp(testbed: TestBed, control_plane_lock: None) -> Iterator[Sandbox]:
    with initialised(testbed) as box:
        yield box


def _all_healthy(cp: Sandbox) -> bool:
    status = cp.status()
    return all(c["healthy"] for c in status["components"])


def _running(cp: Sandbox, component: str) -> list[Any]:
    return cp.containers(f"{component}-{NODE}")


def test_init_brings_all_four_components_to_healthy(cp: Sandbox) -> None:
    status = cp.status()
    assert [c["name"] for c in status["components"]] == list(COMPONENTS)
    assert all(c["healthy"] for c in status["components"]), status
    assert status["reconciler_running"] is True
    for component in COMPONENTS:
        assert len(_running(cp, component)) == 1, f"{component} should run exactly one container"
    assert cp.kbs("status").returncode == 0


def test_status_shows_versions_restarts_and_certificates(cp: Sandbox) -> None:
    status = cp.status()
    apiserver = next(c for c in status["components"] if c["name"] == "kube-apiserver")
    assert apiserver["version"] == "v1.37.2" and apiserver["restarts"] == 0
    assert {c["name"] for c in status["certificates"]} >= {"ca", "apiserver", "etcd-ca"}


def test_controller_manager_creates_a_replicaset_and_pods_for_a_deployment(cp: Sandbox, testbed: TestBed) -> None:
    cp.kubectl("create", "deployment", "e2e-web", f"--image={testbed.images['pause']}", "--replicas=2")
    try:
        replicasets = lambda: cp.kubectl_json("get", "rs", "-l", "app=e2e-web")["items"]  # noqa: E731
        wait_until("a ReplicaSet for the Deployment", replicasets)
        pods = wait_until(
            "two Pods of the Deployment",
            lambda: len(cp.kubectl_json("get", "pods", "-l", "app=e2e-web")["items"]) == 2,
        )
        assert pods
    finally:
        cp.kubectl("delete", "deployment", "e2e-web", "--wait=false", check=False)


def test_mark_control_plane_labels_and_taints_the_node(cp: Sandbox) -> None:
    node = cp.kubectl_json("get", "node", NODE)
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert node["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"] == ""
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"]["taints"]


def test_scheduler_binds_a_pod_that_tolerates_the_control_plane_taint(cp: Sandbox, testbed: TestBed) -> None:
    # Binding (spec.nodeName) is the scheduler's whole job; whether the node then runs the pod is not asked here.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "e2e-bound", "namespace": "default"},
        "spec": {
            "tolerations": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists"},
                {"key": "kbs.dev/static-pods-only", "operator": "Exists", "effect": "NoSchedule"},
            ],
            "containers": [{"name": "c", "image": testbed.images["pause"]}],
        },
    }
    wait_until("the default ServiceAccount", lambda: cp.kubectl("get", "sa", "default", check=False).returncode == 0)
    cp.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(pod))
    try:
        bound = wait_until(
            "the Pod to be bound", lambda: cp.kubectl_json("get", "pod", "e2e-bound")["spec"].get("nodeName")
        )
        assert bound == NODE
    finally:
        cp.kubectl("delete", "pod", "e2e-bound", "--wait=false", check=False)


def test_kubeadm_token_list_reads_the_bootstrap_token(cp: Sandbox, testbed: TestBed) -> None:
    listing = cp.kubeadm("token", "list")
    rows = [line for line in listing.splitlines() if "kbs init" in line]
    assert len(rows) == 1, listing
    assert "authentication,signing" in rows[0] and "system:bootstrappers:kubeadm:default-node-token" in rows[0]


def test_cluster_info_is_public_and_signed_like_the_bootstrapsigner_signs(cp: Sandbox, testbed: TestBed) -> None:
    selector = f"type={token.SECRET_TYPE}"
    tokens = cp.kubectl_json("get", "secrets", "-n", "kube-system", "--field-selector", selector)
    ours = [t for t in (token.from_secret(s) for s in tokens["items"]) if t and t.description == token.KBS_DESCRIPTION]
    assert len(ours) == 1
    # anonymous, as `kubeadm join` discovery reads it
    url = f"https://127.0.0.1:6443/api/v1/namespaces/{clusterinfo.NAMESPACE}/configmaps/{clusterinfo.NAME}"
    context = ssl.create_default_context(cafile=str(cp.root / "etc/kubernetes/pki/ca.crt"))
    context.check_hostname = False
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        cm = json.load(response)
    assert clusterinfo.signature_for(cm, ours[0])
    # a token kbs did not make: kube-controller-manager's bootstrapsigner signs it, and kbs's verifier agrees
    theirs = token.parse(cp.kubeadm("token", "create").strip())
    try:
        signed = wait_until(
            "the bootstrapsigner to sign cluster-info for the new token",
            lambda: (
                (c := cp.kubectl_json("get", "cm", "-n", "kube-public", "cluster-info"))["data"].get(
                    clusterinfo.JWS_KEY_PREFIX + theirs.token_id
                )
                and c
            ),
            timeout=60,
        )
        assert clusterinfo.signature_for(signed, theirs)
        key = clusterinfo.JWS_KEY_PREFIX + ours[0].token_id
        assert signed["data"][key] == cm["data"][key]  # the controller kept kbs's signature: byte-identical
    finally:
        cp.kubeadm("token", "delete", theirs.token_id)


def _kubeadm_join_dry_run(cp: Sandbox, testbed: TestBed, ca_hash: str) -> subprocess.CompletedProcess[str]:
    """A stock `kubeadm join --dry-run` in a throwaway container on the host network (the host is not touched)."""
    join = cp.kbs("init", "phase", "show-join-command").stdout
    endpoint, token_value = re.search(r"kubeadm join (\S+) --token (\S+)", join).groups()  # type: ignore[union-attr]
    command = [
        "docker", "run", "--rm", "--network", "host",
        "-v", f"{testbed.bin('kubeadm')}:/kubeadm:ro", "--entrypoint", "/kubeadm", testbed.images["agnhost"],
        "join", endpoint, "--token", token_value, "--discovery-token-ca-cert-hash", ca_hash,
        "--dry-run", "--ignore-preflight-errors=all", "--node-name", "kbs-e2e-worker",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def test_a_stock_kubeadm_join_discovers_and_trusts_this_control_plane(cp: Sandbox, testbed: TestBed) -> None:
    ca_hash = clusterinfo.ca_cert_hash((cp.root / "etc/kubernetes/pki/ca.crt").read_bytes())
    joined = _kubeadm_join_dry_run(cp, testbed, ca_hash)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    assert "This node has joined the cluster" in joined.stdout
    wrong = _kubeadm_join_dry_run(cp, testbed, "sha256:" + "0" * 64)
    assert wrong.returncode != 0 and "are pinned" in wrong.stderr


def test_a_second_init_changes_nothing_and_says_so(cp: Sandbox) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in cp.manifests.glob("*.yaml")}
    ids = {c: [x.id for x in _running(cp, c)] for c in COMPONENTS}
    result = cp.kbs("init")
    assert "nothing changed" in result.stdout, result.stdout
    assert {p.name: p.stat().st_mtime_ns for p in cp.manifests.glob("*.yaml")} == before
    assert {c: [x.id for x in _running(cp, c)] for c in COMPONENTS} == ids


def test_killed_apiserver_container_comes_back_and_kubectl_works_again(cp: Sandbox) -> None:
    (old,) = _running(cp, "kube-apiserver")
    old.kill()
    replacement = wait_until(
        "a new kube-apiserver container",
        lambda: [c for c in _running(cp, "kube-apiserver") if c.id != old.id],
    )
    assert replacement
    wait_until("kubectl to work again", lambda: cp.kubectl("get", "namespaces", check=False).returncode == 0)
    apiserver = next(c for c in cp.status()["components"] if c["name"] == "kube-apiserver")
    assert apiserver["restarts"] >= 1


def _scheduler_args(cp: Sandbox) -> list[str]:
    (container,) = _running(cp, "kube-scheduler")
    config = container.attrs["Config"]
    return [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]


def test_editing_the_scheduler_manifest_replaces_its_pod_with_the_new_flag(cp: Sandbox) -> None:
    path = cp.manifests / "kube-scheduler.yaml"
    pod = yaml.safe_load(path.read_text())
    pod["spec"]["containers"][0]["command"].append("--v=3")
    path.write_text(yaml.safe_dump(pod))
    wait_until("a scheduler container with --v=3", lambda: "--v=3" in _scheduler_args(cp), timeout=120)
    wait_until("the scheduler to be healthy", lambda: _all_healthy(cp), timeout=120)
    # kbs init puts its own manifest back: convergence
    result = cp.kbs("init")
    assert "kube-scheduler.yaml" in result.stdout
    wait_until("the scheduler without --v=3", lambda: "--v=3" not in _scheduler_args(cp), timeout=120)


def test_removing_a_manifest_removes_its_pod(cp: Sandbox) -> None:
    path = cp.manifests / "kube-scheduler.yaml"
    path.unlink()
    wait_until("no scheduler container", lambda: not _running(cp, "kube-scheduler"), timeout=120)
    cp.kbs("init", "phase", "control-plane")
    wait_until("the scheduler back and healthy", lambda: _all_healthy(cp), timeout=180)


def test_a_users_static_pod_runs_as_name_dash_node_and_kbs_leaves_it_alone(cp: Sandbox, testbed: TestBed) -> None:
    path: Path = cp.manifests / "static-web.yaml"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "static-web", "labels": {"role": "myrole"}},
        "spec": {"containers": [{"name": "web", "image": testbed.images["agnhost"], "args": ["pause"]}]},
    }
    path.write_text(yaml.safe_dump(pod))
    try:
        (web,) = wait_until("the user's static pod", lambda: cp.containers(f"static-web-{NODE}"), timeout=120)
        assert web.labels["io.kubernetes.pod.namespace"] == "default"
        result = cp.kbs("init")
        assert "nothing changed" in result.stdout and path.exists()
    finally:
        path.unlink(missing_ok=True)
    wait_until("the user's pod to stop", lambda: not cp.containers(f"static-web-{NODE}"), timeout=120)
