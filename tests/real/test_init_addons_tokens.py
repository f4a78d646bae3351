"""The addon phase and `kbs token` on a real kbs control plane (test bed binaries, bundled reconciler, one module).

The CoreDNS and kube-proxy pods never run here (the node runs static pods only and is tainted): what is checked
is the API objects, their convergence and ownership, and that kubeadm and kbs share bootstrap tokens.
Tests run in file order; the one that disables addons runs last because it changes the uploaded configuration.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.real.conftest import TestBed
from tests.support.control_plane import Sandbox, initialised

NS = ("-n", "kube-system")
# kind, name: the objects kubeadm's addon phase makes (namespaced ones in kube-system)
COREDNS = [
    ("configmap", "coredns"),
    ("clusterrole", "system:coredns"),
    ("clusterrolebinding", "system:coredns"),
    ("serviceaccount", "coredns"),
    ("deployment", "coredns"),
    ("service", "kube-dns"),
]
KUBE_PROXY = [
    ("configmap", "kube-proxy"),
    ("daemonset", "kube-proxy"),
    ("serviceaccount", "kube-proxy"),
    ("clusterrolebinding", "kubeadm:node-proxier"),
    ("role", "kube-proxy"),
    ("rolebinding", "kube-proxy"),
]
WITH_STATUS = {"deployment", "daemonset"}  # their controllers write status: compare generation, not resourceVersion


@pytest.fixture(scope="module")
def cp(testbed: TestBed, control_plane_lock: None) -> Iterator[Sandbox]:
    with initialised(testbed) as box:
        yield box


def _get(cp: Sandbox, kind: str, name: str) -> Any:
    return cp.kubectl_json("get", kind, name, *NS)


def _versions(cp: Sandbox) -> dict[str, str]:
    out = {}
    for kind, name in COREDNS + KUBE_PROXY:
        meta = _get(cp, kind, name)["metadata"]
        out[f"{kind}/{name}"] = str(meta["generation"] if kind in WITH_STATUS else meta["resourceVersion"])
    return out


def test_init_creates_kubeadms_addon_objects(cp: Sandbox) -> None:
    for kind, name in COREDNS + KUBE_PROXY:
        if kind == "serviceaccount":  # only a name: server-side apply records no owned field for it
            assert _get(cp, kind, name)
            continue
        obj = cp.kubectl_json("get", kind, name, *NS, "--show-managed-fields")
        managers = {m["manager"] for m in obj["metadata"].get("managedFields", [])}
        assert "kbs" in managers, f"{kind}/{name} is not applied by kbs: {managers}"
    assert _get(cp, "service", "kube-dns")["spec"]["clusterIP"] == "10.96.0.10"
    deploy = _get(cp, "deployment", "coredns")
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"].startswith("registry.k8s.io/coredns/coredns:v")
    config = _get(cp, "configmap", "kube-proxy")
    assert "kind: KubeProxyConfiguration" in config["data"]["config.conf"]
    assert "kubeadm.kubernetes.io/component-config.hash" in config["metadata"]["annotations"]
    listing = cp.kubectl("get", "deploy,ds,svc,cm", *NS).stdout
    for name in ("deployment.apps/coredns", "daemonset.apps/kube-proxy", "service/kube-dns", "configmap/coredns"):
        assert name in listing, listing


def test_a_rerun_changes_no_addon_object(cp: Sandbox) -> None:
    before = _versions(cp)
    result = cp.kbs("init", "phase", "addon", "all")
    assert "nothing changed" in result.stdout, result.stdout
    assert _versions(cp) == before
    whole = cp.kbs("init")
    assert "nothing changed" in whole.stdout, whole.stdout
    assert _versions(cp) == before


def test_user_edits_to_fields_kbs_does_not_own_survive_and_kbs_fields_converge(cp: Sandbox) -> None:
    cp.kubectl("annotate", "deployment", "coredns", *NS, "example.com/owner=team-dns")
    cp.kubectl("label", "daemonset", "kube-proxy", *NS, "example.com/tier=node")
    cp.kubectl("scale", "deployment", "coredns", *NS, "--replicas=1")
    cp.kubectl("set", "image", "daemonset/kube-proxy", *NS, "kube-proxy=registry.k8s.io/kube-proxy:v0.0.0-edited")
    result = cp.kbs("init", "phase", "addon", "all")
    assert "updated DaemonSet kube-system/kube-proxy" in result.stdout, result.stdout
    deploy, daemonset = _get(cp, "deployment", "coredns"), _get(cp, "daemonset", "kube-proxy")
    assert deploy["metadata"]["annotations"]["example.com/owner"] == "team-dns"
    assert deploy["spec"]["replicas"] == 1  # kubeadm keeps the deployed replicas; so does kbs
    assert daemonset["metadata"]["labels"]["example.com/tier"] == "node"
    image = daemonset["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("registry.k8s.io/kube-proxy:v1.") and "edited" not in image
    assert "nothing changed" in cp.kbs("init", "phase", "addon", "all").stdout


def test_an_edited_corefile_is_kept(cp: Sandbox) -> None:
    config = _get(cp, "configmap", "coredns")
    edited = config["data"]["Corefile"].replace("cache 30", "cache 60")
    cp.kubectl("patch", "configmap", "coredns", *NS, "--type=merge", "-p", _json({"data": {"Corefile": edited}}))
    result = cp.kbs("init", "phase", "addon", "coredns")
    assert "kept the existing Corefile" in result.stdout, result.stdout
    assert _get(cp, "configmap", "coredns")["data"]["Corefile"] == edited


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _kbs_tokens(cp: Sandbox) -> list[str]:
    return [line.split()[0] for line in cp.kbs("token", "list").stdout.splitlines()[1:] if line.strip()]


def _kubeadm_tokens(cp: Sandbox) -> list[str]:
    return [line.split()[0] for line in cp.kubeadm("token", "list").splitlines()[1:] if line.strip()]


def test_kbs_and_kubeadm_list_and_delete_each_others_tokens(cp: Sandbox) -> None:
    ours = cp.kbs("token", "create", "--ttl", "2h", "--description", "kbs e2e").stdout.strip()
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", ours)
    listing = cp.kubeadm("token", "list")
    row = next(line for line in listing.splitlines() if line.startswith(ours))
    assert "kbs e2e" in row and "authentication,signing" in row and re.search(r"\s1h\s", row), row
    cp.kubeadm("token", "delete", ours.split(".")[0])
    assert ours not in _kbs_tokens(cp)

    theirs = cp.kubeadm("token", "create", "--description", "kubeadm e2e").strip()
    kbs_listing = cp.kbs("token", "list").stdout
    assert theirs in kbs_listing and "kubeadm e2e" in kbs_listing, kbs_listing
    assert "bootstrap token" in cp.kbs("token", "delete", theirs).stdout
    assert theirs not in _kubeadm_tokens(cp)


def test_print_join_command_is_kubeadms_line(cp: Sandbox) -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "bootstrap", "token", "generate"], capture_output=True, text=True, check=True
    )
    given = generated.stdout.strip()
    ours = cp.kbs("token", "create", given, "--print-join-command").stdout
    theirs = cp.kubeadm("token", "create", "--print-join-command")
    try:
        their_token = re.search(r"--token (\S+)", theirs)[1]  # type: ignore[index]
        assert ours == theirs.replace(their_token, given)
        assert ours.startswith("kubeadm join ") and "--discovery-token-ca-cert-hash sha256:" in ours
    finally:
        cp.kbs("token", "delete", given, check=False)
        if "their_token" in locals():
            cp.kbs("token", "delete", their_token, check=False)


def test_bad_token_arguments_are_clear_errors(cp: Sandbox) -> None:
    for args, message in (
        (("token", "create", "not-a-token"), "is not of the form"),
        (("token", "create", "--ttl", "-1h"), "--ttl must not be negative"),
        (("token", "delete", "zzzzzz"), "'zzzzzz' does not exist"),
        (("token", "delete", "ABC.DEF"), "neither a bootstrap token id"),
    ):
        result = cp.kbs(*args, check=False)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_disabled_addons_are_not_created(cp: Sandbox) -> None:
    for kind, name in COREDNS + KUBE_PROXY:
        namespaced = kind not in ("clusterrole", "clusterrolebinding")
        cp.kubectl("delete", kind, name, *(NS if namespaced else ()), "--wait=false")
    disabled = cp.root / "disabled.yaml"
    disabled.write_text(
        cp.config.read_text().replace(
            "kind: ClusterConfiguration\n",
            "kind: ClusterConfiguration\ndns:\n  disabled: true\nproxy:\n  disabled: true\n",
        )
    )
    result = Sandbox(cp.root, disabled, cp.testbed).kbs("init", "phase", "addon", "all")
    assert "dns.disabled" in result.stdout and "proxy.disabled" in result.stdout, result.stdout
    for kind, name in COREDNS + KUBE_PROXY:
        namespaced = kind not in ("clusterrole", "clusterrolebinding")
        found = cp.kubectl("get", kind, name, *(NS if namespaced else ()), "--ignore-not-found", "-o", "name")
        assert found.stdout.strip() == "", f"{kind}/{name} exists"
    # skipping a sub-phase disables that addon, as kubeadm records it in the uploaded ClusterConfiguration
    cp.kbs("init", "--skip-phases", "addon/kube-proxy")
    assert _get(cp, "deployment", "coredns")
    assert cp.kubectl("get", "daemonset", "kube-proxy", *NS, "--ignore-not-found", "-o", "name").stdout == ""
    uploaded = cp.kubectl_json("get", "configmap", "kubeadm-config", *NS)["data"]["ClusterConfiguration"]
    assert "proxy:\n  disabled: true" in uploaded, uploaded
