"""Re-running converges: valid files are kept byte for byte, missing ones are made, bad ones are reported.

Nothing that exists is overwritten without the operator: a wrong CA, a missing SAN or a key mismatch is a PKIError
naming the file and saying how to fix it, and it leaves every file as it was.
"""

from __future__ import annotations

import base64
import shutil
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

import pki
from bootstrap.errors import PKIError
from pki import store
from pki.results import Action
from tests.unit.pki.conftest import MakeContext, snapshot


def test_second_generate_changes_no_byte(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    first = pki.generate(ctx)
    before = snapshot(ctx.kubernetes_dir)
    second = pki.generate(ctx)
    assert {r.action for r in first} == {Action.CREATED}
    assert {r.action for r in second} == {Action.KEPT}
    assert [r.name for r in first] == [r.name for r in second]
    assert snapshot(ctx.kubernetes_dir) == before


def test_removing_one_leaf_regenerates_only_that_leaf(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "apiserver.crt").unlink()
    (ctx.cert_dir / "apiserver.key").unlink()
    before = snapshot(ctx.kubernetes_dir)
    results = pki.generate(ctx)
    assert [r.name for r in results if r.changed] == ["apiserver"]
    after = snapshot(ctx.kubernetes_dir)
    assert {k for k in after if after[k] != before.get(k)} == {"pki/apiserver.crt", "pki/apiserver.key"}
    store.read_cert(ctx.cert_dir / "apiserver.crt").verify_directly_issued_by(  # type: ignore[union-attr]
        store.read_cert(ctx.cert_dir / "ca.crt")  # type: ignore[arg-type]
    )


def test_removing_a_kubeconfig_regenerates_only_it(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.kubernetes_dir / "scheduler.conf").unlink()
    assert [r.name for r in pki.generate(ctx) if r.changed] == ["scheduler.conf"]


def test_a_key_without_its_certificate_gets_a_certificate_for_that_key(make_ctx: MakeContext) -> None:
    """What a crash between the key and the certificate leaves behind converges on the next run."""
    ctx = make_ctx()
    pki.generate(ctx)
    key_before = (ctx.cert_dir / "etcd/server.key").read_bytes()
    (ctx.cert_dir / "etcd/server.crt").unlink()
    (result,) = [r for r in pki.generate(ctx) if r.changed]
    assert (result.name, result.detail.split(";")[0]) == ("etcd-server", "for the existing key")
    assert (ctx.cert_dir / "etcd/server.key").read_bytes() == key_before
    assert pki.generate(ctx)[0].action is Action.KEPT


def test_a_ca_key_without_its_certificate_is_kept_and_certified(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    key_before = (ctx.cert_dir / "front-proxy-ca.key").read_bytes()
    (ctx.cert_dir / "front-proxy-ca.crt").unlink()
    changed = [r.name for r in pki.generate(ctx) if r.changed]
    assert changed == ["front-proxy-ca"]
    assert (ctx.cert_dir / "front-proxy-ca.key").read_bytes() == key_before
    # the client certificate signed by the old certificate of the same key still verifies
    assert pki.generate(ctx, "front-proxy-client")[-1].action is Action.KEPT


def test_a_certificate_without_its_key_is_an_error(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "apiserver.key").unlink()
    with pytest.raises(PKIError) as info:
        pki.generate(ctx)
    assert info.value.message == f"{ctx.cert_dir / 'apiserver.key'} is missing (apiserver.crt exists)"
    assert not (ctx.cert_dir / "apiserver.key").exists()


def test_a_certificate_signed_by_another_ca_is_reported_not_replaced(
    make_ctx: MakeContext, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ctx = make_ctx()
    other = make_ctx(cert_dir=tmp_path_factory.mktemp("other") / "pki")
    pki.generate(ctx)
    pki.ensure_certificates(other)
    for name in ("apiserver.crt", "apiserver.key"):
        shutil.copy(other.cert_dir / name, ctx.cert_dir / name)
    before = snapshot(ctx.kubernetes_dir)
    with pytest.raises(PKIError) as info:
        pki.generate(ctx)
    assert (
        info.value.message == f"{ctx.cert_dir / 'apiserver.crt'} is not signed by the CA in {ctx.cert_dir / 'ca.crt'}"
    )
    assert info.value.hint is not None
    assert "kbs certs generate apiserver" in info.value.hint
    assert snapshot(ctx.kubernetes_dir) == before


def test_a_new_san_in_the_configuration_is_reported_with_the_missing_names(make_ctx: MakeContext) -> None:
    pki.generate(make_ctx())
    ctx = make_ctx(apiserver_cert_sans=("lb.example.com", "203.0.113.9"))
    with pytest.raises(PKIError) as info:
        pki.generate(ctx)
    assert info.value.message == (
        f"{ctx.cert_dir / 'apiserver.crt'} lacks SANs the configuration asks for: lb.example.com, 203.0.113.9"
    )
    assert info.value.hint == (
        f"remove {ctx.cert_dir / 'apiserver.crt'} and {ctx.cert_dir / 'apiserver.key'}, "
        "then run `kbs certs generate apiserver`"
    )
    # following the hint converges
    (ctx.cert_dir / "apiserver.crt").unlink()
    (ctx.cert_dir / "apiserver.key").unlink()
    assert [r.name for r in pki.generate(ctx) if r.changed] == ["apiserver"]


def test_a_key_that_does_not_match_its_certificate_is_reported(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    shutil.copy(ctx.cert_dir / "front-proxy-client.key", ctx.cert_dir / "apiserver.key")
    with pytest.raises(PKIError, match=r"apiserver\.crt does not match its key .*apiserver\.key$"):
        pki.generate(ctx)


def test_several_problems_are_reported_together(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "apiserver.key").unlink()
    (ctx.cert_dir / "etcd/peer.key").unlink()
    with pytest.raises(PKIError, match=r"^2 problems: .*apiserver\.key is missing.*; .*peer\.key is missing"):
        pki.generate(ctx)


def test_a_ca_key_is_never_replaced(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    key = (ctx.cert_dir / "ca.key").read_bytes()
    store.write_key(ctx.cert_dir / "ca.key", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(PKIError, match=r"ca\.key does not match the CA certificate"):
        pki.generate(ctx)
    assert (ctx.cert_dir / "ca.key").read_bytes() != key  # still the operator's file, untouched


def test_leaves_without_their_ca_are_an_error_not_a_new_ca(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "etcd/ca.crt").unlink()
    (ctx.cert_dir / "etcd/ca.key").unlink()
    with pytest.raises(PKIError, match=r"server\.crt exists but its CA .*etcd/ca\.crt does not"):
        pki.generate(ctx)
    assert not (ctx.cert_dir / "etcd/ca.crt").exists()


def test_sa_pub_is_derived_again_from_sa_key(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    pub = (ctx.cert_dir / "sa.pub").read_bytes()
    (ctx.cert_dir / "sa.pub").unlink()
    (result,) = [r for r in pki.generate(ctx) if r.changed]
    assert result.name == "sa"
    assert (ctx.cert_dir / "sa.pub").read_bytes() == pub


def test_sa_pub_without_sa_key_is_an_error(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "sa.key").unlink()
    with pytest.raises(PKIError, match=r"sa\.pub exists but .*sa\.key is missing"):
        pki.generate(ctx)


def test_external_ca_with_all_leaves_present_signs_nothing(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "ca.key").unlink()
    before = snapshot(ctx.kubernetes_dir)
    results = {r.name: r for r in pki.generate(ctx)}
    assert {r.action for r in results.values()} == {Action.KEPT}
    assert "external CA" in results["ca"].detail
    assert snapshot(ctx.kubernetes_dir) == before


def test_external_ca_with_a_missing_leaf_names_what_to_provide(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "ca.key").unlink()
    (ctx.cert_dir / "apiserver.crt").unlink()
    (ctx.cert_dir / "apiserver.key").unlink()
    (ctx.kubernetes_dir / "admin.conf").unlink()
    with pytest.raises(PKIError) as info:
        pki.generate(ctx)
    assert info.value.message.startswith("2 problems: ")
    assert "apiserver.crt is missing, and CA ca is external (ca.key absent) so kbs cannot sign it" in info.value.message
    assert "admin.conf is missing" in info.value.message
    pki_dir = ctx.cert_dir
    assert info.value.hint == (
        f"provide {pki_dir / 'apiserver.crt'} and {pki_dir / 'apiserver.key'} signed by {pki_dir / 'ca.crt'}"
    )
    assert not (ctx.cert_dir / "apiserver.crt").exists()


def test_only_one_external_ca_leaves_the_others_signing(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "front-proxy-ca.key").unlink()
    (ctx.cert_dir / "etcd/peer.crt").unlink()
    (ctx.cert_dir / "etcd/peer.key").unlink()
    assert [r.name for r in pki.generate(ctx) if r.changed] == ["etcd-peer"]


def test_kubeconfig_with_another_ca_is_reported(
    make_ctx: MakeContext, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    other = make_ctx(cert_dir=tmp_path_factory.mktemp("o") / "pki", kubernetes_dir=tmp_path_factory.mktemp("o"))
    pki.generate(other, "admin.conf")
    shutil.copy(other.kubernetes_dir / "admin.conf", ctx.kubernetes_dir / "admin.conf")
    with pytest.raises(PKIError, match=rf"admin\.conf names a different CA than {ctx.cert_dir / 'ca.crt'}$"):
        pki.generate(ctx)


def test_kubeconfig_for_another_user_is_reported(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    shutil.copy(ctx.kubernetes_dir / "super-admin.conf", ctx.kubernetes_dir / "admin.conf")
    with pytest.raises(PKIError, match="authenticates as 'kubernetes-super-admin', expected 'kubernetes-admin'"):
        pki.generate(ctx)


def test_kubeconfig_pointing_elsewhere_is_kept_with_a_warning(make_ctx: MakeContext) -> None:
    pki.generate(make_ctx())
    results = {r.name: r for r in pki.ensure_kubeconfigs(make_ctx(control_plane_endpoint="lb.example"))}
    assert results["admin.conf"].action is Action.KEPT
    assert results["admin.conf"].warnings == (
        f"{make_ctx().kubernetes_dir / 'admin.conf'} points to https://192.0.2.10:6443, "
        "the configuration says https://lb.example:6443",
    )
    assert results["scheduler.conf"].warnings == ()


def test_an_expired_certificate_is_kept_with_a_warning_to_renew(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx, at=datetime(2020, 1, 1, tzinfo=UTC))
    results = {r.name: r for r in pki.generate(ctx, at=datetime(2021, 6, 1, tzinfo=UTC))}
    assert results["apiserver"].action is Action.KEPT
    assert results["apiserver"].warnings == (
        f"{ctx.cert_dir / 'apiserver.crt'} expired on 2020-12-31 00:00 UTC; run `kbs certs renew apiserver`",
    )


def test_a_leaf_that_outlives_its_ca_is_made_with_a_warning(make_ctx: MakeContext) -> None:
    ctx = make_ctx(ca_validity=timedelta(days=30))
    results = {r.name: r for r in pki.generate(ctx)}
    assert results["apiserver"].warnings
    assert "expires after its CA" in results["apiserver"].warnings[0]


def test_generate_one_name_makes_that_item_and_its_missing_ca(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    assert [r.name for r in pki.generate(ctx, "etcd/server")] == ["etcd-ca", "etcd-server"]
    assert sorted(p.name for p in (ctx.cert_dir / "etcd").iterdir()) == ["ca.crt", "ca.key", "server.crt", "server.key"]
    assert [r.name for r in pki.generate(ctx, "kubelet.conf")] == ["ca", "kubelet.conf"]
    assert [r.name for r in pki.generate(ctx, "sa")] == ["sa"]
    assert [(r.name, r.action) for r in pki.generate(ctx, "ca")] == [("ca", Action.KEPT)]


def test_unknown_names_list_the_valid_ones(make_ctx: MakeContext) -> None:
    with pytest.raises(PKIError, match="unknown certificate 'apiservr'") as info:
        pki.generate(make_ctx(), "apiservr")
    assert info.value.hint is not None
    assert "apiserver-kubelet-client" in info.value.hint


def test_kbs_keeps_a_tree_whose_leaf_keys_are_of_another_algorithm(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    assert {r.action for r in pki.generate(make_ctx(encryption_algorithm="ECDSA-P384"))} == {Action.KEPT}
    cert = x509.load_pem_x509_certificate((ctx.cert_dir / "apiserver.crt").read_bytes())
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


def test_kubelet_conf_pointing_to_a_rotated_certificate_file_is_kept(make_ctx: MakeContext) -> None:
    """After the kubelet rotates its client certificate, kubelet.conf names a PEM file instead of embedding data."""
    ctx = make_ctx()
    pki.generate(ctx)
    path = ctx.kubernetes_dir / "kubelet.conf"
    doc = yaml.safe_load(path.read_text())
    user = doc["users"][0]["user"]
    pem = ctx.kubernetes_dir / "kubelet-client-current.pem"
    pem.write_bytes(
        base64.b64decode(user.pop("client-certificate-data")) + base64.b64decode(user.pop("client-key-data"))
    )
    user["client-certificate"] = user["client-key"] = str(pem)
    path.write_text(yaml.safe_dump(doc))
    assert {r.action for r in pki.generate(ctx)} == {Action.KEPT}
    pem.unlink()
    with pytest.raises(PKIError, match=rf"kubelet\.conf: client-certificate {pem} does not exist$"):
        pki.generate(ctx)
