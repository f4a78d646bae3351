"""The reconciler's serving certificate: signed by the cluster CA like a kubelet's, kept, re-issued when unfit."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

import pki
from bootstrap.errors import PKIError
from pki.results import Action
from tests.unit.pki.conftest import MakeContext

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_serving_certificate_is_a_node_server_certificate_signed_by_the_cluster_ca(
    make_ctx: MakeContext, tmp_path: Path
) -> None:
    ctx = make_ctx()
    pki.ensure_certificates(ctx, "ca")
    crt, key = tmp_path / "serving" / "kbs.crt", tmp_path / "serving" / "kbs.key"
    result = pki.ensure_serving_certificate(ctx, crt, key, extra_sans=("localhost", "127.0.0.1"), at=T0)
    assert result.action is Action.CREATED
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(pki.read_ca_bundle(ctx)))
    assert cert.subject.rfc4514_string() == "CN=system:node:node-a,O=system:nodes"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "node-a"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("192.0.2.10"),
        ipaddress.ip_address("127.0.0.1"),
    ]
    assert (crt.stat().st_mode & 0o777, key.stat().st_mode & 0o777) == (0o644, 0o600)
    again = pki.ensure_serving_certificate(ctx, crt, key, extra_sans=("localhost", "127.0.0.1"), at=T0)
    assert again.action is Action.KEPT


def test_serving_certificate_is_reissued_near_expiry_and_for_a_new_ca(make_ctx: MakeContext, tmp_path: Path) -> None:
    ctx = make_ctx()
    pki.ensure_certificates(ctx, "ca")
    crt, key = tmp_path / "kbs.crt", tmp_path / "kbs.key"
    pki.ensure_serving_certificate(ctx, crt, key, at=T0)
    late = pki.ensure_serving_certificate(ctx, crt, key, at=T0 + timedelta(days=340))
    assert late.action is Action.RENEWED
    assert "was: expires" in late.detail
    for name in ("ca.crt", "ca.key"):
        (ctx.cert_dir / name).unlink()
    pki.ensure_certificates(ctx, "ca")
    moved = pki.ensure_serving_certificate(ctx, crt, key)
    assert moved.action is Action.RENEWED
    assert "is not signed by the CA" in moved.detail


def test_serving_certificate_needs_the_ca_key(make_ctx: MakeContext, tmp_path: Path) -> None:
    ctx = make_ctx()
    with pytest.raises(PKIError, match=r"ca\.crt is missing"):
        pki.ensure_serving_certificate(ctx, tmp_path / "a.crt", tmp_path / "a.key")
    with pytest.raises(PKIError, match=r"is missing"):
        pki.read_ca_bundle(ctx)
