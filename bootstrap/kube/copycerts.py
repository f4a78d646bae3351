"""The `kube-system/kubeadm-certs` Secret: the shared control-plane keys, encrypted with the certificate key.

Wire format, as kubeadm's copycerts phase writes and reads it (so either tool can fill it and either can read it):

    key       32 random bytes, shown to people as 64 hex characters (`--certificate-key`)
    value     AES-256-GCM of the file: 12-byte random nonce ‖ ciphertext ‖ 16-byte tag, no associated data
    data key  the file's path relative to certificatesDir, `/` replaced by `-` (`etcd/ca.crt` -> `etcd-ca.crt`);
              external etcd's CA, client certificate and key travel as `external-etcd-ca.crt`,
              `external-etcd.crt`, `external-etcd.key`; a file missing at upload is stored empty and skipped
              at download
    owner     a controller ownerReference to a 2-hour bootstrap token's Secret, so the garbage collector
              deletes the certificates when the token expires

This module is pure: the files to share, encryption, the Secret's shape, decryption. The upload phase
(bootstrap.phases.upload_certs) and the join side (`download`) talk to the API server. The key never appears in
an exception message or a repr.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bootstrap import constants
from bootstrap.errors import ConfigError, KbsError
from bootstrap.fsutil import atomic_write
from bootstrap.kube.api import KubeAPI, Obj

SECRET_NAME = "kubeadm-certs"
RBAC_NAME = "kubeadm:kubeadm-certs"  # the Role and RoleBinding that let bootstrap tokens read the Secret
TOKEN_TTL = timedelta(hours=2)  # kubeadm's DefaultCertTokenDuration
TOKEN_DESCRIPTION = "Proxy for managing TTL for the kubeadm-certs secret"
KEY_BYTES = 32  # kubeadm's CertificateKeySize: AES-256
NONCE_BYTES = 12  # Go's cipher.NewGCM standard nonce
KEY_PATTERN = re.compile(r"^[0-9a-fA-F]{64}$")
REUPLOAD = "run `kbs init phase upload-certs --upload-certs` on a control-plane node and use the key it prints"

# The files every control plane shares, relative to certificatesDir (kubeadm's certsToTransfer).
SHARED = ("ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key")
LOCAL_ETCD = ("etcd/ca.crt", "etcd/ca.key")
EXTERNAL_ETCD_CA, EXTERNAL_ETCD_CERT, EXTERNAL_ETCD_KEY = (
    "external-etcd-ca.crt",
    "external-etcd.crt",
    "external-etcd.key",
)


class CertificateKeyError(KbsError):
    """The certificate key does not open the kubeadm-certs Secret (wrong key, or the Secret was re-uploaded)."""


@dataclass(frozen=True)
class ExternalEtcdFiles:
    """Where external etcd's client files live on a control plane (ClusterConfiguration.etcd.external)."""

    ca_file: str
    cert_file: str
    key_file: str


def generate_key() -> str:
    """A new certificate key: 32 random bytes as 64 hex characters (`kbs certs certificate-key`)."""
    return secrets.token_hex(KEY_BYTES)


def parse_key(text: str, source: str = "--certificate-key") -> bytes:
    """The 32 bytes of a hex certificate key; anything else is a ConfigError naming `source` (never the value)."""
    if not KEY_PATTERN.match(text):
        raise ConfigError(
            f"{source}: a certificate key is {KEY_BYTES * 2} hexadecimal characters ({KEY_BYTES} bytes, AES-256); "
            + (f"the value given has {len(text)}" if len(text) != KEY_BYTES * 2 else "the value given is not hex"),
            hint="make one with `kbs certs certificate-key`, or leave it out and `kbs init --upload-certs` makes one",
        )
    return bytes.fromhex(text)


def encrypt(data: bytes, key: bytes, nonce: bytes | None = None) -> bytes:
    """nonce ‖ AES-GCM(data) ‖ tag, as kubeadm's EncryptBytes; `nonce` only for known-answer tests."""
    nonce = secrets.token_bytes(NONCE_BYTES) if nonce is None else nonce
    return nonce + AESGCM(key).encrypt(nonce, data, None)


def decrypt(blob: bytes, key: bytes, name: str = "value") -> bytes:
    """The plaintext of an `encrypt` result; CertificateKeyError when the key (or the data) is not the right one."""
    if len(blob) < NONCE_BYTES + 16:
        raise CertificateKeyError(
            f"Secret {constants.KUBE_SYSTEM}/{SECRET_NAME}: {name} is too short to be AES-GCM data",
            hint=REUPLOAD,
        )
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None)
    except InvalidTag:
        raise CertificateKeyError(
            f"the certificate key does not decrypt the Secret {constants.KUBE_SYSTEM}/{SECRET_NAME} ({name}): the "
            "key is wrong, or the certificates were uploaded again with another key",
            hint=REUPLOAD,
        ) from None


def data_key(relative: str) -> str:
    """The Secret data key of a file: its certificatesDir-relative path with `/` -> `-`."""
    return relative.replace("/", "-")


def shared_files(cert_dir: Path, external: ExternalEtcdFiles | None = None) -> dict[str, Path | None]:
    """Secret data key -> the file on a control plane (None: an external etcd file that is not configured)."""
    names = SHARED + (LOCAL_ETCD if external is None else ())
    files: dict[str, Path | None] = {data_key(name): cert_dir / name for name in names}
    if external is not None:
        for key, path in (
            (EXTERNAL_ETCD_CA, external.ca_file),
            (EXTERNAL_ETCD_CERT, external.cert_file),
            (EXTERNAL_ETCD_KEY, external.key_file),
        ):
            files[key] = Path(path) if path else None
    return files


def read_files(files: Mapping[str, Path | None]) -> dict[str, bytes]:
    """The contents of the shared files; a missing one is b"" (kubeadm stores it empty). Other errors raise."""
    from bootstrap.errors import PKIError

    contents: dict[str, bytes] = {}
    for key, path in files.items():
        if path is None:
            contents[key] = b""
            continue
        try:
            contents[key] = path.read_bytes()
        except FileNotFoundError:
            contents[key] = b""
        except OSError as exc:
            raise PKIError(f"cannot read {path}: {exc.strerror}", hint="check the file's permissions") from exc
    return contents


def secret_data(contents: Mapping[str, bytes], key: bytes) -> dict[str, str]:
    """The Secret's `data`: each non-empty file encrypted (then base64, as the API carries bytes)."""
    return {name: base64.b64encode(encrypt(raw, key)).decode() if raw else "" for name, raw in sorted(contents.items())}


def owner_reference(token_secret: Mapping[str, object]) -> dict[str, object]:
    """A controller reference to the bootstrap token's Secret (metav1.NewControllerRef)."""
    meta = token_secret.get("metadata")
    assert isinstance(meta, Mapping)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def secret_object(data: Mapping[str, str], owner: Mapping[str, object]) -> Obj:
    """The kubeadm-certs Secret (type Opaque, as kubeadm leaves it unset)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": constants.KUBE_SYSTEM, "ownerReferences": [dict(owner)]},
        "type": "Opaque",
        "data": dict(data),
    }


def decrypt_secret(secret: Mapping[str, object], key: bytes) -> dict[str, bytes]:
    """Data key -> plaintext of every value in the Secret (empty values stay empty); all or nothing."""
    raw = secret.get("data") or {}
    if not isinstance(raw, Mapping):
        raise CertificateKeyError(f"Secret {constants.KUBE_SYSTEM}/{SECRET_NAME} has no data", hint=REUPLOAD)
    plain: dict[str, bytes] = {}
    for name, value in raw.items():
        try:
            blob = base64.b64decode(str(value or ""), validate=True)
        except binascii.Error:
            raise CertificateKeyError(
                f"Secret {constants.KUBE_SYSTEM}/{SECRET_NAME}: {name} is not base64", hint=REUPLOAD
            ) from None
        plain[str(name)] = decrypt(blob, key, str(name)) if blob else b""
    return plain


def file_mode(pem: bytes) -> int:
    """0644 for a certificate, 0600 for a key: private, or sa.pub, which kbs's PKI and `kubeadm init` write 0600
    (kubeadm's download writes sa.pub 0644; kbs keeps a joined node's tree the same as the first one's)."""
    return constants.CERT_MODE if b"-----BEGIN CERTIFICATE-----" in pem else constants.KEY_MODE


def write_files(plain: Mapping[str, bytes], files: Mapping[str, Path | None]) -> list[Path]:
    """Write each downloaded file where this control plane keeps it (keys 0600); the paths that changed.

    Every file the layout names must be in the Secret; empty ones are skipped, as kubeadm does.
    """
    missing = sorted(name for name in files if name not in plain)
    if missing:
        raise CertificateKeyError(
            f"Secret {constants.KUBE_SYSTEM}/{SECRET_NAME} lacks {', '.join(missing)}",
            hint="upload the certificates from a control plane with the same etcd mode (local or external)",
        )
    written = []
    for name, path in files.items():
        content = plain[name]
        if not content or path is None:
            continue
        if atomic_write(path, content, mode=file_mode(content)):
            written.append(path)
    return written


def download(api: KubeAPI, key: bytes) -> dict[str, bytes]:
    """Read the kubeadm-certs Secret (normally with a bootstrap token's credentials) and decrypt it with `key`."""
    secret = api.get("v1", "Secret", SECRET_NAME, constants.KUBE_SYSTEM)
    if secret is None:
        raise KbsError(
            f"Secret {constants.KUBE_SYSTEM}/{SECRET_NAME} was not found: it expires two hours after it is uploaded",
            hint=REUPLOAD,
        )
    return decrypt_secret(secret, key)
