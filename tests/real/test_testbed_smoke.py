"""The test bed is real: its etcd and kube-apiserver images serve a working API.

Independent of kbs's own PKI and manifests on purpose: this proves the bed, so that failures elsewhere can be
blamed on kbs. TLS material is made here with `cryptography`; the containers run on the host network on
uncommon loopback ports, and everything is removed at the end.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bootstrap import versions
from tests.real.conftest import TestBed

ETCD_CLIENT, ETCD_PEER, APISERVER = 23791, 23801, 16443


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _issue(
    directory: Path,
    stem: str,
    subject: x509.Name,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    server: bool = False,
) -> tuple[x509.Name, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    (directory / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (directory / f"{stem}.key").write_bytes(pem)
    (directory / f"{stem}.key").chmod(0o644)  # read by the container's root; a throwaway tmp dir
    return subject, key


@pytest.fixture
def throwaway_pki(tmp_path: Path) -> Path:
    ca = _issue(tmp_path, "ca", _name("smoke-ca"), None)
    _issue(tmp_path, "apiserver", _name("kube-apiserver"), ca, server=True)
    _issue(tmp_path, "admin", _name("smoke-admin", "system:masters"), ca)
    _, sa_key = _issue(tmp_path, "sa", _name("sa"), None)
    public = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "sa.pub").write_bytes(public)
    return tmp_path


@pytest.fixture
def containers(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    started: list[str] = []
    yield started
    for name in started:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.containers.get(name).remove(force=True)


def test_etcd_and_kube_apiserver_images_serve_a_ready_api(
    testbed: TestBed, docker_client: docker.DockerClient, throwaway_pki: Path, containers: list[str]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    etcd_name, apiserver_name = f"kbs-smoke-etcd-{suffix}", f"kbs-smoke-apiserver-{suffix}"
    containers.extend([etcd_name, apiserver_name])
    peer = f"http://127.0.0.1:{ETCD_PEER}"
    client = f"http://127.0.0.1:{ETCD_CLIENT}"
    docker_client.containers.run(
        testbed.images["etcd"],
        name=etcd_name,
        network_mode="host",
        detach=True,
        entrypoint=[
            "etcd",
            "--name=smoke",
            "--data-dir=/tmp/etcd",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=smoke={peer}",
        ],
    )
    docker_client.containers.run(
        testbed.images["kube-apiserver"],
        name=apiserver_name,
        network_mode="host",
        detach=True,
        volumes={str(throwaway_pki): {"bind": "/pki", "mode": "ro"}},
        entrypoint=[
            "kube-apiserver",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={APISERVER}",
            f"--etcd-servers={client}",
            "--client-ca-file=/pki/ca.crt",
            "--tls-cert-file=/pki/apiserver.crt",
            "--tls-private-key-file=/pki/apiserver.key",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=/pki/sa.pub",
            "--service-account-signing-key-file=/pki/sa.key",
            "--service-cluster-ip-range=10.96.0.0/12",
            "--authorization-mode=RBAC",
            "--endpoint-reconciler-type=none",  # a loopback advertise address is fine without endpoints
        ],
    )
    kubectl = [
        testbed.bin("kubectl"),
        f"--server=https://127.0.0.1:{APISERVER}",
        f"--certificate-authority={throwaway_pki / 'ca.crt'}",
        f"--client-certificate={throwaway_pki / 'admin.crt'}",
        f"--client-key={throwaway_pki / 'admin.key'}",
    ]
    answer = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        result = subprocess.run([*kubectl, "get", "--raw", "/readyz"], capture_output=True, text=True, check=False)
        answer = result.stdout.strip() or result.stderr.strip()
        if answer == "ok" or docker_client.containers.get(apiserver_name).status == "exited":
            break
        time.sleep(1)
    logs = docker_client.containers.get(apiserver_name).logs(tail=20).decode(errors="replace")
    assert answer == "ok", f"/readyz answered {answer!r}; kube-apiserver log tail:\n{logs}"

    version = subprocess.run([*kubectl, "version", "-o", "json"], capture_output=True, text=True, check=True)
    assert f'"gitVersion": "{versions.default().version}"' in version.stdout
