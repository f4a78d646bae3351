"""Every certificate of the tree, for every key algorithm: subject, issuer, usages, SANs, validity, key type.

The expectations are written out here (from kubeadm v1.37.2's real output), not read from pki.table, so the
table is checked against kubeadm rather than against itself.
"""

from __future__ import annotations

import base64
import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import pki
from tests.unit.pki.conftest import MakeContext

SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
NODE, ADDRESS = "node-a", "192.0.2.10"
ETCD_SANS = (["localhost", NODE], [ADDRESS, "127.0.0.1", "::1"])
API_DNS = [
    "cp.example.com", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local", NODE,
]  # fmt: skip

# file -> (CN, O, issuer CN, EKU, (DNS SANs, IP SANs) or None)
Sans = tuple[list[str], list[str]] | None
LEAVES: dict[str, tuple[str, tuple[str, ...], str, tuple[x509.ObjectIdentifier, ...], Sans]] = {
    "apiserver": ("kube-apiserver", (), "kubernetes", (SERVER,), (API_DNS, ["10.96.0.1", ADDRESS])),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", (), "kubernetes", (CLIENT,), None),
    "front-proxy-client": ("front-proxy-client", (), "front-proxy-ca", (CLIENT,), None),
    "etcd/server": (NODE, (), "etcd-ca", (SERVER, CLIENT), ETCD_SANS),
    "etcd/peer": (NODE, (), "etcd-ca", (SERVER, CLIENT), ETCD_SANS),
    "etcd/healthcheck-client": ("kube-etcd-healthcheck-client", (), "etcd-ca", (CLIENT,), None),
    "apiserver-etcd-client": ("kube-apiserver-etcd-client", (), "etcd-ca", (CLIENT,), None),
}  # fmt: skip
CAS = {"ca": "kubernetes", "front-proxy-ca": "front-proxy-ca", "etcd/ca": "etcd-ca"}
# kubeconfig -> (CN, O, server)
KUBECONFIGS = {
    "admin.conf": ("kubernetes-admin", ("kubeadm:cluster-admins",), "https://cp.example.com:6443"),
    "super-admin.conf": ("kubernetes-super-admin", ("system:masters",), "https://cp.example.com:6443"),
    "kubelet.conf": (f"system:node:{NODE}", ("system:nodes",), f"https://{ADDRESS}:6443"),
    "controller-manager.conf": ("system:kube-controller-manager", (), f"https://{ADDRESS}:6443"),
    "scheduler.conf": ("system:kube-scheduler", (), f"https://{ADDRESS}:6443"),
}
ALGORITHMS = {
    "RSA-2048": (rsa.RSAPublicKey, 2048, hashes.SHA256),
    "RSA-3072": (rsa.RSAPublicKey, 3072, hashes.SHA256),
    "RSA-4096": (rsa.RSAPublicKey, 4096, hashes.SHA256),
    "ECDSA-P256": (ec.EllipticCurvePublicKey, 256, hashes.SHA256),
    "ECDSA-P384": (ec.EllipticCurvePublicKey, 384, hashes.SHA384),
}
KEY_HEADERS = {
    rsa.RSAPublicKey: b"-----BEGIN RSA PRIVATE KEY-----",
    ec.EllipticCurvePublicKey: b"-----BEGIN EC PRIVATE KEY-----",
}


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _names(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> tuple[str, ...]:
    return tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(oid))


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def _check_common(cert: x509.Certificate, algorithm: str, *, is_ca: bool, days: int) -> None:
    key_type, size, digest = ALGORITHMS[algorithm]
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    assert isinstance(public, key_type)
    assert public.key_size == size
    assert isinstance(cert.signature_hash_algorithm, digest)
    assert cert.version is x509.Version.v3
    assert 1 <= cert.serial_number < 2**63 - 1
    assert cert.not_valid_before_utc == START - timedelta(minutes=5)
    assert cert.not_valid_after_utc == START + timedelta(days=days)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert (ku.value.digital_signature, ku.value.key_encipherment, ku.value.key_cert_sign) == (True, True, is_ca)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical
    assert (bc.value.ca, bc.value.path_length) == (is_ca, None)
    assert _ext(cert, x509.SubjectKeyIdentifier) is not None
    assert _ext(cert, x509.AuthorityKeyIdentifier) is not None


@pytest.mark.usefixtures("key_pool")
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_certificate_has_kubeadms_identity_usages_sans_and_validity(
    algorithm: str, make_ctx: MakeContext
) -> None:
    ctx = make_ctx(encryption_algorithm=algorithm, control_plane_endpoint="cp.example.com")
    pki.generate(ctx, at=START)
    cas = {base: _load(ctx.cert_dir / f"{base}.crt") for base in CAS}

    for base, cn in CAS.items():
        cert = cas[base]
        _check_common(cert, algorithm, is_ca=True, days=3650)
        assert _names(cert, NameOID.COMMON_NAME) == (cn,)
        assert _names(cert, NameOID.ORGANIZATION_NAME) == ()
        assert cert.issuer == cert.subject
        assert _ext(cert, x509.ExtendedKeyUsage) is None
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [cn]
        cert.verify_directly_issued_by(cert)

    by_cn = {c.subject.rfc4514_string(): c for c in cas.values()}
    for base, (cn, orgs, issuer, usages, sans) in LEAVES.items():
        cert = _load(ctx.cert_dir / f"{base}.crt")
        _check_common(cert, algorithm, is_ca=False, days=365)
        assert _names(cert, NameOID.COMMON_NAME) == (cn,)
        assert _names(cert, NameOID.ORGANIZATION_NAME) == orgs
        ca = by_cn[f"CN={issuer}"]
        cert.verify_directly_issued_by(ca)
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == list(usages)
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        assert aki == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        san_ext = _ext(cert, x509.SubjectAlternativeName)
        if sans is None:
            assert san_ext is None
        else:
            assert san_ext is not None
            value = x509.SubjectAlternativeName(san_ext.value)  # type: ignore[arg-type]
            assert value.get_values_for_type(x509.DNSName) == sans[0]
            assert value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(i) for i in sans[1]]
        key_type = ALGORITHMS[algorithm][0]
        assert (ctx.cert_dir / f"{base}.key").read_bytes().startswith(KEY_HEADERS[key_type])

    for name, (cn, orgs, server) in KUBECONFIGS.items():
        doc = yaml.safe_load((ctx.kubernetes_dir / name).read_text())
        assert doc["clusters"][0]["cluster"]["server"] == server
        assert doc["users"][0]["name"] == cn
        assert doc["current-context"] == f"{cn}@kubernetes"
        assert (
            base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"])
            == (ctx.cert_dir / "ca.crt").read_bytes()
        )
        cert = x509.load_pem_x509_certificate(base64.b64decode(doc["users"][0]["user"]["client-certificate-data"]))
        _check_common(cert, algorithm, is_ca=False, days=365)
        assert (_names(cert, NameOID.COMMON_NAME), _names(cert, NameOID.ORGANIZATION_NAME)) == ((cn,), orgs)
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [CLIENT]
        cert.verify_directly_issued_by(cas["ca"])
        key_pem = base64.b64decode(doc["users"][0]["user"]["client-key-data"])
        assert key_pem.startswith(KEY_HEADERS[ALGORITHMS[algorithm][0]])

    assert (ctx.cert_dir / "sa.key").read_bytes().startswith(KEY_HEADERS[ALGORITHMS[algorithm][0]])
    assert (ctx.cert_dir / "sa.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_files_have_kubeadms_permissions(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    modes = {str(p): p.stat().st_mode & 0o777 for p in ctx.kubernetes_dir.rglob("*") if p.is_file()}
    assert all(mode == 0o644 for name, mode in modes.items() if name.endswith(".crt"))
    assert all(mode == 0o600 for name, mode in modes.items() if name.endswith((".key", ".pub", ".conf")))
    assert len(modes) == 27  # 10 pairs, sa.key, sa.pub, 5 kubeconfigs
    assert (ctx.cert_dir / "etcd").stat().st_mode & 0o777 == 0o755
    assert not [p for p in ctx.kubernetes_dir.rglob(".*")], "no temporary files left behind"


def test_validity_periods_follow_the_context(make_ctx: MakeContext) -> None:
    ctx = make_ctx(cert_validity=timedelta(hours=48), ca_validity=timedelta(days=100))
    pki.generate(ctx, at=START)
    assert _load(ctx.cert_dir / "ca.crt").not_valid_after_utc == START + timedelta(days=100)
    assert _load(ctx.cert_dir / "apiserver.crt").not_valid_after_utc == START + timedelta(hours=48)


def test_external_etcd_makes_no_etcd_certificates(make_ctx: MakeContext) -> None:
    ctx = make_ctx(local_etcd=False)
    names = {r.name for r in pki.generate(ctx)}
    assert not (ctx.cert_dir / "etcd").exists()
    assert not (ctx.cert_dir / "apiserver-etcd-client.crt").exists()
    assert "etcd-ca" not in names
    assert "apiserver" in names


def test_subjects_are_encoded_as_go_encodes_them(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx, "admin.conf")
    doc = yaml.safe_load((ctx.kubernetes_dir / "admin.conf").read_text())
    cert = x509.load_pem_x509_certificate(base64.b64decode(doc["users"][0]["user"]["client-certificate-data"]))
    assert [a._type for a in cert.subject] == [x509.name._ASN1Type.PrintableString] * 2
    assert [a.oid for a in cert.subject] == [NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME]
