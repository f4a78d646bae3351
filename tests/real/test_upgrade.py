"""`kbs upgrade plan|apply` on a real control plane: the previous minor (v1.36.3) to the default (v1.37.2).

One sandboxed control plane for the module (tests/support/control_plane.py), made by `kbs init
--kubernetes-version v1.36.3`. Tests run in file order and build on each other: the plan; an upgrade whose new
kube-scheduler manifest cannot run (a flag the scheduler rejects, given through the configuration: nothing
test-only ships) is rolled back and leaves the old control plane healthy; a SIGKILLed upgrade is finished by
running it again; then the upgraded node is checked (versions, data, manifests equal `kbs render`'s, the
uploaded configuration and the addons) and read by stock `kubeadm upgrade plan`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real.conftest import TestBed
from tests.support.control_plane import NODE, REPO, Sandbox, exclusive_ports, sandbox
from tests.support.wait import wait_until

OLD = "v1.36.3"
NEW = "v1.37.2"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


@pytest.fixture(scope="module")
def cp(testbed: TestBed, control_plane_lock: None) -> Iterator[Sandbox]:
    with exclusive_ports(), sandbox(testbed) as box:
        box.kbs("init", "--kubernetes-version", OLD)
        box.kubectl("create", "namespace", "upgrade-test")
        box.kubectl("-n", "upgrade-test", "create", "configmap", "keep-me", "--from-literal=answer=42")
        yield box


def _journal(cp: Sandbox) -> Path:
    return cp.root / "var/lib/kbs/kbs-upgrade.json"


def _images(cp: Sandbox) -> dict[str, str]:
    """component -> the image its manifest names."""
    result = {}
    for component in COMPONENTS:
        for line in (cp.manifests / f"{component}.yaml").read_text().splitlines():
            if line.strip().startswith("image:"):
                result[component] = line.split("image:", 1)[1].strip().strip("'\"")
    return result


def _healthy(cp: Sandbox) -> bool:
    return all(c["healthy"] for c in cp.status()["components"])


def _server_version(cp: Sandbox) -> str:
    return str(json.loads(cp.kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"])


def _answer(cp: Sandbox) -> str:
    return cp.kubectl("-n", "upgrade-test", "get", "configmap", "keep-me", "-o", "jsonpath={.data.answer}").stdout


def test_plan_names_the_next_minor_and_dry_run_writes_nothing(cp: Sandbox) -> None:
    text = cp.kbs("upgrade", "plan").stdout
    assert f"This node runs Kubernetes {OLD}" in text
    assert f"Upgrade to {NEW}: `kbs upgrade apply {NEW}`" in text
    assert f"kube-apiserver:{NEW}" in text or f"+    image: registry.k8s.io/kube-apiserver:{NEW}" in text
    before = {c: (cp.manifests / f"{c}.yaml").read_text() for c in COMPONENTS}
    dry = cp.kbs("upgrade", "apply", NEW, "--dry-run").stdout
    assert "would upgrade etcd" in dry and "nothing was written" in dry
    assert before == {c: (cp.manifests / f"{c}.yaml").read_text() for c in COMPONENTS}
    refused = cp.kbs("upgrade", "apply", "v1.38.0", check=False)
    assert refused.returncode != 0 and "error:" in refused.stderr


def test_stock_kubeadm_upgrade_plan_reads_the_kbs_cluster(cp: Sandbox) -> None:
    """kubeadm v1.37.2's `upgrade plan` against the v1.36.3 kbs cluster. It looks for this node under the host
    name and for the manifests in /etc/kubernetes, so it runs in private UTS and mount namespaces where the host
    name is the sandbox's node name and the sandbox's Kubernetes directory is bind-mounted on /etc/kubernetes.
    Its health-check Job needs a kubelet that runs pods (the control plane has none) and is ignored; the target
    version is given so that kubeadm does not ask dl.k8s.io."""
    created = not Path("/etc/kubernetes").exists()
    script = f'hostname {NODE} && mkdir -p /etc/kubernetes && mount --bind "$0" /etc/kubernetes && exec "$@"'
    kubeadm = [cp.testbed.bin("kubeadm"), "upgrade", "plan", NEW, "--ignore-preflight-errors=CreateJob"]
    try:
        result = subprocess.run(
            ["unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", script,
             str(cp.root / "etc/kubernetes"), *kubeadm, "--kubeconfig", str(cp.admin)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        if created:
            Path("/etc/kubernetes").rmdir()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dl.k8s.io" not in result.stderr
    assert f"[upgrade/versions] Cluster version: {OLD.removeprefix('v')}" in result.stdout
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert f"{component}            {NODE}   {OLD}   {NEW}".split() == [
            w for line in result.stdout.splitlines() if line.startswith(component + " ") for w in line.split()
        ]
    assert "3.6.8-0   3.7.0-0" in result.stdout
    assert f"kubeadm upgrade apply {NEW}" in result.stdout


def test_a_new_manifest_that_does_not_run_is_rolled_back_with_the_ones_before_it(cp: Sandbox) -> None:
    broken = cp.root / "broken.yaml"
    text = cp.config.read_text()
    bad_flag = 'scheduler:\n  extraArgs:\n  - name: kbs-test-no-such-flag\n    value: "1"\netcd:\n  local:'
    broken.write_text(text.replace("etcd:\n  local:", bad_flag, 1))
    before = _images(cp)
    env = {**os.environ, "PATH": f"{cp.testbed.bin_dir}:{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-m", "bootstrap", "upgrade", "apply", NEW, "--config", str(broken)]
    result = subprocess.run(
        [*command, "--etcd-upgrade=false", "--timeout", "40"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "kube-scheduler did not become healthy" in result.stderr, result.stderr
    assert "rolled back kube-scheduler, kube-controller-manager, kube-apiserver" in result.stderr
    assert _images(cp) == before
    assert not _journal(cp).exists()
    wait_until("the old control plane healthy", lambda: _healthy(cp))
    assert _server_version(cp) == OLD
    assert _answer(cp) == "42"


def test_a_killed_upgrade_is_finished_by_running_it_again(cp: Sandbox) -> None:
    env = {**os.environ, "PATH": f"{cp.testbed.bin_dir}:{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-m", "bootstrap", "upgrade", "apply", NEW, "--config", str(cp.config)]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def apiserver_written() -> bool:
        try:
            return "kube-apiserver" in json.loads(_journal(cp).read_text())["written"]
        except (FileNotFoundError, ValueError):
            return False

    try:
        wait_until("the upgrade writing kube-apiserver's manifest", apiserver_written, interval=0.05)
    finally:
        process.kill()
        process.wait()
    assert _journal(cp).exists()

    result = cp.kbs("upgrade", "apply", NEW)
    assert f"continuing the interrupted upgrade from {OLD} to {NEW}" in result.stdout, result.stdout
    assert f"the control plane of this node runs {NEW}" in result.stdout
    assert not _journal(cp).exists()
    backups = list((cp.root / "etc/kubernetes/tmp").glob(f"kbs-upgrade-{NEW}-*"))
    assert len(backups) == 2, backups  # the rolled-back attempt's and this one's
    newest = max(backups)
    assert (newest / "manifests/kube-apiserver.yaml").read_text().count(f"kube-apiserver:{OLD}") == 1
    assert [p.name for p in newest.glob("pre-upgrade-*.sha256")], "the etcd snapshot and its checksum"


def test_the_upgraded_node_runs_the_new_version_with_its_data(cp: Sandbox) -> None:
    wait_until("every component healthy", lambda: _healthy(cp))
    assert _server_version(cp) == NEW
    images = _images(cp)
    assert images["etcd"] == "registry.k8s.io/etcd:3.7.0-0"
    for component in COMPONENTS[1:]:
        assert images[component] == f"registry.k8s.io/{component}:{NEW}"
        running = {c.image.tags[0] for c in cp.containers(f"{component}-kbs-e2e")}
        assert running == {images[component]}, (component, running)
    assert _answer(cp) == "42"
    rendered = cp.root / "rendered"
    cp.kbs("render", "--kubernetes-version", NEW, "--output-dir", str(rendered))
    for component in COMPONENTS:
        assert (rendered / f"{component}.yaml").read_text() == (cp.manifests / f"{component}.yaml").read_text()
    config = cp.kubectl("-n", "kube-system", "get", "configmap", "kubeadm-config", "-o", "jsonpath={.data}").stdout
    assert f"kubernetesVersion: {NEW}" in json.loads(config)["ClusterConfiguration"]
    proxy = cp.kubectl("-n", "kube-system", "get", "daemonset", "kube-proxy", "-o", "jsonpath={..image}").stdout
    assert proxy == f"registry.k8s.io/kube-proxy:{NEW}"
    dns = cp.kubectl("-n", "kube-system", "get", "deployment", "coredns", "-o", "jsonpath={..image}").stdout
    assert dns == "registry.k8s.io/coredns/coredns:v1.14.6"
    kubelet = wait_until(
        "the node reporting the new version",
        lambda: (
            v
            if (
                v := cp.kubectl("get", "node", NODE, "-o", "jsonpath={.status.nodeInfo.kubeletVersion}").stdout
            ).startswith(NEW + "+")
            else None
        ),
    )
    assert kubelet.startswith(f"{NEW}+kbs.")
    again = cp.kbs("upgrade", "apply", NEW)
    assert "every manifest is already the target version's" in again.stdout
