"""`renew`: same subject and SANs, new validity and key, CAs never, kubeconfigs too, restarts named."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

import pki
from bootstrap.errors import PKIError
from pki.results import Action
from tests.unit.pki.conftest import MakeContext, snapshot

T0 = datetime(2030, 1, 1, tzinfo=UTC)
T1 = datetime(2030, 11, 1, tzinfo=UTC)


def _cert(path: str, ctx: pki.PKIContext) -> x509.Certificate:
    return x509.load_pem_x509_certificate((ctx.cert_dir / path).read_bytes())


def _conf_cert(name: str, ctx: pki.PKIContext) -> x509.Certificate:
    doc = yaml.safe_load((ctx.kubernetes_dir / name).read_text())
    return x509.load_pem_x509_certificate(base64.b64decode(doc["users"][0]["user"]["client-certificate-data"]))


def test_renewing_one_leaf_keeps_subject_and_sans_and_moves_validity(make_ctx: MakeContext) -> None:
    ctx = make_ctx(control_plane_endpoint="lb.example")
    pki.generate(ctx, at=T0)
    old = _cert("apiserver.crt", ctx)
    before = snapshot(ctx.kubernetes_dir)
    (result,) = pki.renew(make_ctx(), "apiserver", at=T1)  # the configuration lost the endpoint: SANs are kept
    new = _cert("apiserver.crt", ctx)
    assert (result.action, result.detail) == (Action.RENEWED, "certificate for serving the Kubernetes API renewed")
    assert new.subject == old.subject
    assert new.extensions.get_extension_for_class(x509.SubjectAlternativeName) == (
        old.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    )
    assert new.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == (
        old.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert new.not_valid_after_utc == T1 + timedelta(days=365)
    assert new.public_key() != old.public_key()
    assert isinstance(new.public_key(), ec.EllipticCurvePublicKey)
    new.verify_directly_issued_by(_cert("ca.crt", ctx))
    after = snapshot(ctx.kubernetes_dir)
    assert {k for k in after if after[k] != before[k]} == {"pki/apiserver.crt", "pki/apiserver.key"}
    assert pki.restarts_needed([result]) == ["kube-apiserver"]
    assert {r.action for r in pki.generate(make_ctx(control_plane_endpoint="lb.example"))} == {Action.KEPT}


def test_renew_all_covers_leaves_and_kubeconfigs_but_not_cas_or_kubelet_conf(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx, at=T0)
    kubelet_conf = (ctx.kubernetes_dir / "kubelet.conf").read_bytes()
    cas = {p: (ctx.cert_dir / p).read_bytes() for p in ("ca.crt", "ca.key", "etcd/ca.crt", "front-proxy-ca.key")}
    results = pki.renew(ctx, "all", at=T1)
    assert [r.name for r in results] == [
        "admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client", "controller-manager.conf",
        "etcd-healthcheck-client", "etcd-peer", "etcd-server", "front-proxy-client", "scheduler.conf",
        "super-admin.conf",
    ]  # fmt: skip
    assert {r.action for r in results} == {Action.RENEWED}
    assert pki.restarts_needed(results) == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert (ctx.kubernetes_dir / "kubelet.conf").read_bytes() == kubelet_conf
    assert cas == {p: (ctx.cert_dir / p).read_bytes() for p in cas}
    cert = _conf_cert("admin.conf", ctx)
    assert cert.not_valid_after_utc == T1 + timedelta(days=365)
    assert cert.subject.rfc4514_string() == "CN=kubernetes-admin,O=kubeadm:cluster-admins"
    assert {r.action for r in pki.generate(ctx, at=T1)} == {Action.KEPT}


def test_renewing_a_kubeconfig_keeps_the_rest_of_the_file(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx, at=T0)
    path = ctx.kubernetes_dir / "scheduler.conf"
    doc = yaml.safe_load(path.read_text())
    doc["preferences"] = {"colors": True}
    doc["clusters"][0]["cluster"]["server"] = "https://elsewhere:6443"
    path.write_text(yaml.safe_dump(doc))
    (result,) = pki.renew(ctx, "scheduler.conf", at=T1)
    assert result.restarts == ("kube-scheduler",)
    renewed = yaml.safe_load(path.read_text())
    assert renewed["preferences"] == {"colors": True}
    assert renewed["clusters"][0]["cluster"]["server"] == "https://elsewhere:6443"
    assert renewed["users"][0]["user"]["client-certificate-data"] != doc["users"][0]["user"]["client-certificate-data"]
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name", ["ca", "etcd-ca", "front-proxy-ca", "etcd/ca"])
def test_cas_are_never_renewed(make_ctx: MakeContext, name: str) -> None:
    with pytest.raises(PKIError, match="is a CA; kbs never renews CAs"):
        pki.renew(make_ctx(), name)


def test_kubelet_conf_and_sa_are_not_renewable(make_ctx: MakeContext) -> None:
    with pytest.raises(PKIError, match="the kubelet rotates its own client certificate"):
        pki.renew(make_ctx(), "kubelet.conf")
    with pytest.raises(PKIError, match="sa is a key pair without a certificate"):
        pki.renew(make_ctx(), "sa")


def test_renewing_a_missing_certificate_says_to_generate_it(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    with pytest.raises(PKIError) as info:
        pki.renew(ctx, "etcd-peer")
    assert info.value.message == f"{ctx.cert_dir / 'etcd/peer.crt'} is missing; there is nothing to renew"
    assert info.value.hint == "run `kbs certs generate etcd-peer`"


def test_external_ca_certificates_are_skipped_by_all_and_refused_by_name(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx, at=T0)
    (ctx.cert_dir / "front-proxy-ca.key").unlink()
    with pytest.raises(PKIError, match="is signed by an external CA"):
        pki.renew(ctx, "front-proxy-client")
    results = {r.name: r for r in pki.renew(ctx, "all", at=T1)}
    assert (results["front-proxy-client"].action, results["front-proxy-client"].detail) == (
        Action.SKIPPED,
        "externally managed",
    )
    assert results["apiserver"].action is Action.RENEWED


def test_renew_keeps_the_key_type_of_the_existing_certificate(make_ctx: MakeContext) -> None:
    ctx = make_ctx(encryption_algorithm="ECDSA-P384")
    pki.generate(ctx, "apiserver", at=T0)
    pki.renew(make_ctx(encryption_algorithm="ECDSA-P256"), "apiserver", at=T1)
    key = _cert("apiserver.crt", ctx).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp384r1"
