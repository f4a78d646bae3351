"""Bad input is a one-line error naming the field or file, and nothing is half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import pki
from bootstrap.errors import ConfigError, FileWriteError, KbsError, PKIError
from pki import store
from tests.unit.pki.conftest import MakeContext, snapshot


def _one_line(error: KbsError) -> None:
    assert "\n" not in error.message
    assert error.hint
    assert error.exit_code == 1


def test_wrong_algorithm_name_writes_nothing(make_ctx: MakeContext) -> None:
    ctx = make_ctx(encryption_algorithm="ECDSA-P521")
    with pytest.raises(ConfigError) as info:
        pki.generate(ctx)
    assert info.value.message == "ClusterConfiguration.encryptionAlgorithm: unknown key algorithm 'ECDSA-P521'"
    _one_line(info.value)
    assert not ctx.kubernetes_dir.exists()


def test_malformed_san_writes_nothing(make_ctx: MakeContext) -> None:
    ctx = make_ctx(apiserver_cert_sans=("ok.example", "not a name"))
    with pytest.raises(ConfigError) as info:
        pki.generate(ctx)
    assert info.value.message == (
        "ClusterConfiguration.apiServer.certSANs: 'not a name' is not a valid IP address or DNS name"
    )
    _one_line(info.value)
    assert not ctx.kubernetes_dir.exists()


def test_certificates_dir_that_is_a_file(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    ctx.kubernetes_dir.mkdir(parents=True)
    ctx.cert_dir.write_text("not a directory\n")
    with pytest.raises(FileWriteError) as info:
        pki.generate(ctx)
    assert info.value.message == f"{ctx.cert_dir} is not a directory"
    _one_line(info.value)
    assert sorted(p.name for p in ctx.kubernetes_dir.iterdir()) == ["pki"]


def test_garbage_in_a_key_file_names_the_file(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "apiserver.key").write_text("hello\n")
    before = snapshot(ctx.kubernetes_dir)
    with pytest.raises(PKIError) as info:
        pki.generate(ctx)
    assert info.value.message == f"{ctx.cert_dir / 'apiserver.key'} is not a PEM private key (RSA or ECDSA)"
    _one_line(info.value)
    assert snapshot(ctx.kubernetes_dir) == before


def test_a_foreign_key_type_names_the_file(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    key = ed25519.Ed25519PrivateKey.generate()
    ctx.cert_dir.mkdir(parents=True)
    (ctx.cert_dir / "ca.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(PKIError, match=r"ca\.key holds a Ed25519PrivateKey key; kbs supports RSA and ECDSA keys only"):
        pki.generate(ctx)
    assert sorted(p.name for p in ctx.cert_dir.iterdir()) == ["ca.key"]


def test_an_encrypted_key_names_the_file(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    ctx.cert_dir.mkdir(parents=True)
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    (ctx.cert_dir / "sa.key").write_bytes(encrypted)
    with pytest.raises(PKIError, match=r"sa\.key is an encrypted private key; kbs needs it unencrypted"):
        pki.generate(ctx)


def test_garbage_in_a_certificate_names_the_file(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.cert_dir / "etcd/ca.crt").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(PKIError, match=rf"^{ctx.cert_dir / 'etcd/ca.crt'} is not a PEM certificate$"):
        pki.generate(ctx)


def test_an_unreadable_key_names_the_file_and_the_reason(
    make_ctx: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    target = ctx.cert_dir / "front-proxy-ca.key"
    real = Path.read_bytes

    def deny(self: Path) -> bytes:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(PKIError) as info:
        pki.generate(ctx)
    assert info.value.message == f"cannot read {target}: Permission denied"


def test_a_directory_where_a_key_should_be(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    (ctx.cert_dir / "ca.key").mkdir(parents=True)
    with pytest.raises(PKIError, match=r"cannot read .*ca\.key: is a directory"):
        pki.generate(ctx)


def test_a_malformed_kubeconfig_names_the_file(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx)
    (ctx.kubernetes_dir / "admin.conf").write_text("apiVersion: v1\nkind: Pod\n")
    with pytest.raises(PKIError, match=r"admin\.conf is not a kubeconfig \(kind: Config\)$"):
        pki.generate(ctx)


def test_no_permission_to_write_fails_before_writing_anything(
    make_ctx: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx()
    ctx.cert_dir.mkdir(parents=True)
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != ctx.cert_dir / "etcd")
    with pytest.raises(FileWriteError) as info:
        pki.generate(ctx)
    assert info.value.message == f"cannot write to {ctx.cert_dir / 'etcd'}: permission denied"
    assert [p for p in ctx.kubernetes_dir.rglob("*") if p.is_file()] == []


def test_a_write_failing_midway_leaves_whole_files_and_the_next_run_completes(
    make_ctx: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx()
    real = store.atomic_write  # type: ignore[attr-defined]
    calls = {"n": 0}

    def flaky(path: Path, data: bytes | str, mode: int = 0o644, dir_mode: int = 0o755) -> bool:
        calls["n"] += 1
        if calls["n"] == 4:  # after ca.key, ca.crt, apiserver.key: the apiserver certificate fails
            raise FileWriteError(f"cannot write {path}: No space left on device")
        return real(path, data, mode, dir_mode)

    monkeypatch.setattr(store, "atomic_write", flaky)
    with pytest.raises(FileWriteError, match="No space left on device"):
        pki.generate(ctx)
    assert sorted(p.name for p in ctx.cert_dir.rglob("*") if p.is_file()) == ["apiserver.key", "ca.crt", "ca.key"]
    assert not [p for p in ctx.kubernetes_dir.rglob(".*")]
    monkeypatch.setattr(store, "atomic_write", real)
    results = {r.name: r for r in pki.generate(ctx)}
    assert results["apiserver"].detail.startswith("for the existing key")
    assert results["ca"].action == "kept"
    assert {r.action for r in pki.generate(ctx)} == {"kept"}
