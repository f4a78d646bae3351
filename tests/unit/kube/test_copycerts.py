"""The kubeadm-certs wire format: the certificate key, AES-GCM values, the Secret's data keys, download and write."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from bootstrap.errors import ConfigError, KbsError
from bootstrap.kube import copycerts
from bootstrap.kube.memory import MemoryAPI

KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
KEY = bytes.fromhex(KEY_HEX)


def test_a_generated_key_is_64_hex_characters_and_new_each_time() -> None:
    first, second = copycerts.generate_key(), copycerts.generate_key()
    assert len(first) == 64 and bytes.fromhex(first) and first != second
    assert copycerts.parse_key(first) == bytes.fromhex(first)


def test_upper_case_hex_is_a_valid_key_like_gos_hex_decoder() -> None:
    assert copycerts.parse_key(KEY_HEX.upper()) == KEY


@pytest.mark.parametrize(
    ("value", "says"), [("abc", "has 3"), ("z" * 64, "not hex"), (KEY_HEX + "00", "has 66"), ("", "has 0")]
)
def test_a_bad_key_is_a_config_error_that_does_not_echo_it(value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        copycerts.parse_key(value, "--certificate-key")
    assert caught.value.message.startswith("--certificate-key: a certificate key is 64 hexadecimal characters")
    assert says in caught.value.message
    assert not value or value not in caught.value.message
    assert caught.value.hint and "kbs certs certificate-key" in caught.value.hint


def test_aes_256_gcm_known_answer_nonce_then_ciphertext_then_tag() -> None:
    # The GCM specification's test case 14 (AES-256, zero key, zero IV, one zero block): Go's cipher.NewGCM Seal,
    # which kubeadm's EncryptBytes calls with the nonce as prefix, gives nonce || C || T for it.
    nonce = bytes(12)
    blob = copycerts.encrypt(bytes(16), bytes(32), nonce=nonce)
    assert blob.hex() == (
        "000000000000000000000000"  # nonce
        "cea7403d4d606b6e074ec5d3baf39d18"  # ciphertext
        "d0d1c8a799996bf0265b98b5d48ab919"  # tag
    )
    assert copycerts.decrypt(blob, bytes(32)) == bytes(16)


def test_encryption_round_trips_with_a_fresh_nonce_each_time() -> None:
    data = b"-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"
    one, two = copycerts.encrypt(data, KEY), copycerts.encrypt(data, KEY)
    assert one != two and len(one) == 12 + len(data) + 16
    assert copycerts.decrypt(one, KEY) == copycerts.decrypt(two, KEY) == data


def test_a_wrong_key_or_tampered_value_says_to_upload_again() -> None:
    blob = copycerts.encrypt(b"secret", KEY)
    for key, value in ((bytes(32), blob), (KEY, blob[:-1] + bytes([blob[-1] ^ 1])), (KEY, b"short")):
        with pytest.raises(copycerts.CertificateKeyError) as caught:
            copycerts.decrypt(value, key, "ca.key")
        assert "kube-system/kubeadm-certs" in caught.value.message and "ca.key" in caught.value.message
        assert caught.value.hint and "kbs init phase upload-certs --upload-certs" in caught.value.hint


def test_local_etcd_layout_is_kubeadms_data_keys(tmp_path: Path) -> None:
    files = copycerts.shared_files(tmp_path)
    assert sorted(files) == [
        "ca.crt", "ca.key", "etcd-ca.crt", "etcd-ca.key",
        "front-proxy-ca.crt", "front-proxy-ca.key", "sa.key", "sa.pub",
    ]  # fmt: skip
    assert files["etcd-ca.key"] == tmp_path / "etcd" / "ca.key"


def test_external_etcd_layout_carries_its_client_files_instead_of_the_etcd_ca(tmp_path: Path) -> None:
    external = copycerts.ExternalEtcdFiles("/ext/ca.pem", "/ext/client.pem", "")
    files = copycerts.shared_files(tmp_path, external)
    assert "etcd-ca.crt" not in files
    assert files["external-etcd-ca.crt"] == Path("/ext/ca.pem")
    assert files["external-etcd.crt"] == Path("/ext/client.pem")
    assert files["external-etcd.key"] is None  # not configured: uploaded empty
    assert copycerts.read_files({"external-etcd.key": None, "x": tmp_path / "missing"}) == {
        "external-etcd.key": b"",
        "x": b"",
    }


def test_secret_holds_base64_of_encrypted_files_owned_by_the_token_secret() -> None:
    owner = {"metadata": {"name": "bootstrap-token-abcdef", "uid": "u-1"}}
    data = copycerts.secret_data({"ca.crt": b"CERT", "external-etcd.key": b""}, KEY)
    secret = copycerts.secret_object(data, copycerts.owner_reference(owner))
    assert secret["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "name": "bootstrap-token-abcdef",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert secret["data"]["external-etcd.key"] == ""
    assert copycerts.decrypt(base64.b64decode(secret["data"]["ca.crt"]), KEY) == b"CERT"
    assert copycerts.decrypt_secret(secret, KEY) == {"ca.crt": b"CERT", "external-etcd.key": b""}


def test_download_decrypts_and_writes_keys_0600_and_certificates_0644(tmp_path: Path) -> None:
    key_pem = b"-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n"
    cert_pem = b"-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----\n"
    pub_pem = b"-----BEGIN PUBLIC KEY-----\np\n-----END PUBLIC KEY-----\n"
    data = copycerts.secret_data({"etcd-ca.key": key_pem, "etcd-ca.crt": cert_pem, "sa.pub": b""}, KEY)
    assert copycerts.file_mode(pub_pem) == 0o600  # as kbs's PKI and kubeadm init write sa.pub
    api = MemoryAPI([copycerts.secret_object(data, {"name": "x"})])
    plain = copycerts.download(api, KEY)
    names = {"etcd-ca.key": "etcd/ca.key", "etcd-ca.crt": "etcd/ca.crt", "sa.pub": "sa.pub"}
    files: dict[str, Path | None] = {key: tmp_path / name for key, name in names.items()}
    written = copycerts.write_files(plain, files)
    assert sorted(written) == [tmp_path / "etcd/ca.crt", tmp_path / "etcd/ca.key"]  # the empty sa.pub is skipped
    assert (tmp_path / "etcd/ca.key").read_bytes() == key_pem
    assert (tmp_path / "etcd/ca.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "etcd/ca.crt").stat().st_mode & 0o777 == 0o644
    assert not (tmp_path / "sa.pub").exists()
    assert copycerts.write_files(plain, files) == []  # converges


def test_a_secret_without_a_file_the_layout_needs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KbsError, match=r"lacks ca\.key"):
        copycerts.write_files({"ca.crt": b"x"}, {"ca.crt": tmp_path / "ca.crt", "ca.key": tmp_path / "ca.key"})
    assert not (tmp_path / "ca.crt").exists()  # nothing half-written


def test_an_expired_secret_says_how_to_upload_again() -> None:
    with pytest.raises(KbsError) as caught:
        copycerts.download(MemoryAPI(), KEY)
    assert "kube-system/kubeadm-certs was not found" in caught.value.message
    assert caught.value.hint and "upload-certs --upload-certs" in caught.value.hint
