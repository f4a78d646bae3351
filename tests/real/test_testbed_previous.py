"""The test bed holds each full version's whole image pairing: every image `kbs images list` names for the default
version and the previous minor (the upgrade tests' starting point) is in the Docker engine, and the previous minor's
addons (kube-proxy, CoreDNS) start and report their version, laid out like the default version's.

Older minors have only their kubeadm in the test bed (the manifest-fidelity tests), so their images are not
checked here. Cheap: no cluster, a few short-lived containers on no network.
"""

from __future__ import annotations

import subprocess
import sys

import docker
import pytest

from bootstrap import versions
from tests.real.conftest import TestBed, _testbed


def _previous_minor() -> versions.KubernetesVersion:
    """The newest supported version one minor below the default (testbed.sh's `previous_version`)."""
    want = versions.default().minor - 1
    return next(v for v in versions.supported() if v.minor == want)


DEFAULT, PREVIOUS = versions.default(), _previous_minor()
REGISTRY = "registry.k8s.io"


def _kbs_images(version: str) -> list[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "bootstrap", "images", "list", "--kubernetes-version", version],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.mark.parametrize("version", [DEFAULT.version, PREVIOUS.version])
def test_every_image_kbs_lists_is_in_the_testbed(
    testbed: TestBed, docker_client: docker.DockerClient, version: str
) -> None:
    refs = _kbs_images(version)
    assert f"{REGISTRY}/kube-proxy:{version}" in refs
    declared = set(_testbed("images").splitlines())
    assert [r for r in refs if r not in declared] == [], "`testbed.sh images` does not declare these"
    missing = []
    for ref in refs:
        try:
            docker_client.images.get(ref)
        except docker.errors.ImageNotFound:
            missing.append(ref)
    assert missing == [], "not in the test bed's Docker engine; run `make testbed`"


def _run(client: docker.DockerClient, image: str, command: list[str]) -> str:
    """The image's own entrypoint with `command` as its arguments, on no network; its standard output (go-runner,
    kube-proxy's entrypoint, writes its own banner to standard error)."""
    output = client.containers.run(image, command, network_mode="none", remove=True, stdout=True, stderr=False)
    return bytes(output).decode(errors="replace")


def _layout(client: docker.DockerClient, ref: str) -> tuple[object, object, object, object]:
    config = client.images.get(ref).attrs["Config"]
    return config.get("Entrypoint"), config.get("Cmd"), config.get("User") or "", config.get("WorkingDir") or ""


def test_previous_kube_proxy_starts_and_reports_its_version(
    testbed: TestBed, docker_client: docker.DockerClient
) -> None:
    image = f"{REGISTRY}/kube-proxy:{PREVIOUS.version}"
    # Through go-runner, the entrypoint upstream's image has and its DaemonSet's command runs under.
    output = _run(docker_client, image, ["/usr/local/bin/kube-proxy", "--version"])
    assert output.strip() == f"Kubernetes {PREVIOUS.version}"
    assert "iptables v1" in _run(docker_client, image, ["/usr/sbin/iptables", "--version"])
    assert _layout(docker_client, image) == _layout(docker_client, testbed.images["kube-proxy"])


def test_previous_coredns_starts_and_reports_its_version(testbed: TestBed, docker_client: docker.DockerClient) -> None:
    image = f"{REGISTRY}/coredns/coredns:{PREVIOUS.coredns_tag}"
    output = _run(docker_client, image, ["-version"])
    assert f"CoreDNS-{PREVIOUS.coredns_tag.removeprefix('v')}" in output
    assert _layout(docker_client, image) == _layout(docker_client, testbed.images["coredns"])
    assert _layout(docker_client, image)[2] == "65532:65532"
