"""Day two on the HA topology (tests/support/ha.py): three kbs control-plane node containers behind the HAProxy
endpoint, made at the previous minor (v1.36.3, its images loaded into the nodes), upgraded to the default version
while a client writes through the endpoint, then reset from an etcd snapshot to one member and rejoined.

One cluster for the module; the tests run in file order and build on each other:

1. `kbs upgrade apply v1.37.2` on cp-1, then `kbs upgrade node` on cp-2 and cp-3, while a client PATCHes a
   ConfigMap through the endpoint every 100 ms (the failed writes are printed; docs/performance.md has them);
2. every member runs the new version (API, manifests, containers, mirror pods), the data is there, the manifests
   are what `kbs render` gives, etcd has three voting members, a re-run of `upgrade node` converges;
3. disaster recovery: cp-1 and cp-3 lost, `kbs etcd snapshot restore --cluster-reset` on cp-2 makes it a
   one-member cluster with the snapshot's data; cp-1 and cp-3 come back, `kbs reset --force` and rejoin.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bootstrap import versions
from bootstrap.upgrade.node import SAVED_CONFIG
from tests.support.ha import COMPONENTS, CONTROL_PLANES, HA, control_plane_images, ha_cluster
from tests.support.wait import wait_until
from tests.support.writer import Background, Writer

OLD, NEW = "v1.36.3", "v1.37.2"
ADMIN = "/etc/kubernetes/admin.conf"
SAVED = str(SAVED_CONFIG)  # the node's configuration, as `kbs init`/`kbs join` left it


@pytest.fixture(scope="module")
def ha(docker_client: docker.DockerClient) -> Iterator[HA]:
    with ha_cluster(docker_client, workers=0, kubernetes_version=OLD, images=control_plane_images(OLD)) as made:
        made.kubectl("create", "namespace", "upgrade-test")
        made.kubectl("-n", "upgrade-test", "create", "configmap", "keep-me", "--from-literal=answer=42")
        yield made


def _kubectl(ha: HA, via: str, *args: str, check: bool = True) -> str:
    return ha.nodes[via].exec("kubectl", f"--kubeconfig={ADMIN}", *args, check=check, timeout=60)


def _answer(ha: HA, via: str = "cp-1") -> str:
    return _kubectl(ha, via, "-n", "upgrade-test", "get", "configmap", "keep-me", "-o", "jsonpath={.data.answer}")


def test_apply_on_the_first_member_and_node_on_the_others_while_a_client_writes(ha: HA) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        writer = Writer(ha.nodes["cp-1"].exec("cat", ADMIN), Path(tmp), name="ha-upgrade")
        writer.create()
        client = Background(writer)
        client.start()
        outputs = {}
        try:
            outputs["cp-1"] = ha.nodes["cp-1"].exec("kbs", "upgrade", "apply", NEW, "--config", SAVED, timeout=900)
            for name in CONTROL_PLANES[1:]:
                outputs[name] = ha.nodes[name].exec("kbs", "upgrade", "node", timeout=900)
        finally:
            client.stop()
    summary = client.summary()
    print(f"\nHA upgrade, writes through the endpoint every 100 ms: {json.dumps(summary)}")
    for out in outputs.values():
        assert f"the control plane of this node runs {NEW}" in out, out
    for name in CONTROL_PLANES[1:]:
        assert f"the cluster's configuration (kubeadm-config) names {NEW}; upgrading {name}" in outputs[name]
        assert "[upload-config]" not in outputs[name] and "[addon/coredns]" not in outputs[name]
    assert "[upload-config]" in outputs["cp-1"]
    assert summary["writes"] > 100 and client.last_written > 0
    written = _kubectl(ha, "cp-2", "get", "configmap", "ha-upgrade", "-o", "jsonpath={.data.n}")
    assert written == str(client.last_written)


def _running_images(ha: HA, name: str) -> dict[str, set[str]]:
    """component -> the images of its running containers in the node's Docker engine."""
    out = ha.nodes[name].exec("docker", "ps", "--format", "{{.Names}} {{.Image}}")
    found: dict[str, set[str]] = {}
    for line in out.splitlines():
        container, image = line.split()
        for component in COMPONENTS:
            if container.startswith(f"k8s_{component}_"):
                found.setdefault(component, set()).add(image)
    return found


def _manifests(ha: HA, name: str, directory: str) -> dict[str, str]:
    return {c: ha.nodes[name].exec("cat", f"{directory}/{c}.yaml") for c in COMPONENTS}


def _without_initial_cluster(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if "--initial-cluster" not in line)


def test_every_member_runs_the_new_version_with_the_data_and_the_rendered_manifests(ha: HA) -> None:
    server = json.loads(ha.kubectl("version", "-o", "json"))["serverVersion"]["gitVersion"]
    assert server == NEW
    etcd_image = f"registry.k8s.io/etcd:{versions.lookup(NEW).etcd_tag}"
    wanted = {c: f"registry.k8s.io/{c}:{NEW}" for c in COMPONENTS[1:]} | {"etcd": etcd_image}
    pods = {
        p["metadata"]["name"]: p
        for p in json.loads(ha.kubectl("get", "pods", "-n", "kube-system", "-o", "json"))["items"]
    }
    for name in CONTROL_PLANES:
        node = ha.nodes[name]
        version = json.loads(ha.kubectl("get", "--raw", "/version", f"--server=https://{node.address}:6443"))
        assert version["gitVersion"] == NEW, name
        expected = {c: {i} for c, i in wanted.items()}

        def only_new(n: str = name, expected: dict[str, set[str]] = expected) -> bool | None:
            return _running_images(ha, n) == expected or None

        wait_until(f"{name}'s old containers gone", only_new, timeout=120)
        for component, image in wanted.items():
            assert pods[f"{component}-{name}"]["spec"]["containers"][0]["image"] == image, (name, component)
        node.exec("kbs", "render", "--config", SAVED, "--output-dir", "/tmp/rendered")
        rendered, running = _manifests(ha, name, "/tmp/rendered"), _manifests(ha, name, "/etc/kubernetes/manifests")
        node.exec("rm", "-rf", "/tmp/rendered")
        for component in COMPONENTS:
            want, have = rendered[component], running[component]
            if component == "etcd" and name != "cp-1":  # a joined member's --initial-cluster names its peers
                assert "--initial-cluster-state=existing" in have
                want, have = _without_initial_cluster(want), _without_initial_cluster(have)
            assert have == want, (name, component)
    assert _answer(ha) == "42"
    assert ha.voting_names() == CONTROL_PLANES
    config = json.loads(ha.kubectl("-n", "kube-system", "get", "configmap", "kubeadm-config", "-o", "jsonpath={.data}"))
    assert f"kubernetesVersion: {NEW}" in config["ClusterConfiguration"]
    again = ha.nodes["cp-3"].exec("kbs", "upgrade", "node", timeout=300)
    assert "every manifest is already the target version's" in again, again


def test_restore_with_cluster_reset_makes_one_member_the_cluster_and_the_others_rejoin(ha: HA) -> None:
    keeper = ha.nodes["cp-2"]
    keeper.exec("kbs", "etcd", "snapshot", "save", "ha-restore", "--config", SAVED, timeout=120)
    _kubectl(ha, "cp-2", "create", "configmap", "after-snapshot")
    lost = ["cp-1", "cp-3"]
    for name in lost:
        ha.nodes[name].container.kill()
    restore = ["kbs", "etcd", "snapshot", "restore", "ha-restore", "--config", SAVED]
    refused = subprocess.run(["docker", "exec", keeper.id, *restore], capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "--cluster-reset" in refused.stderr, refused.stdout + refused.stderr
    out = keeper.exec(*restore, "--cluster-reset", timeout=600)
    assert re.search(r"cluster reset: the [23]-member cluster becomes cp-2 alone", out), out
    assert ha.voting_names(via="cp-2") == ["cp-2"]
    assert _answer(ha, "cp-2") == "42"
    assert "after-snapshot" not in _kubectl(ha, "cp-2", "get", "configmaps", "-o", "name")
    manifest = keeper.exec("cat", "/etc/kubernetes/manifests/etcd.yaml")
    assert "--initial-cluster-state" not in manifest and "cp-1=" not in manifest

    # the lost machines come back: each leaves its old cluster (kbs reset --force) and joins the restored one
    for name in lost:
        ha.nodes[name].container.start()
    for name in lost:
        ha.nodes[name].wait_ready(timeout=180)
        ha.nodes[name].exec("kbs", "reset", "--force", timeout=300)
    for name in lost:
        _kubectl(ha, "cp-2", "delete", "node", name, "--ignore-not-found")
    for name in lost:
        ha.join(name)
    assert ha.voting_names(via="cp-2") == CONTROL_PLANES
    for name in CONTROL_PLANES:
        wait_until(f"the four mirror pods of {name}", lambda n=name: ha.mirror_pods_running(n) or None, timeout=180)  # type: ignore[misc]
    assert _answer(ha, "cp-1") == "42"
    _kubectl(ha, "cp-1", "create", "configmap", "after-rejoin")
