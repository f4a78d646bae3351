"""The x509 fields of a certificate that must equal kubeadm's, as plain data (serials, keys and times left out).

Key identifiers are compared apart: their values derive from the keys, and kbs adds a SubjectKeyIdentifier to
leaves and an AuthorityKeyIdentifier to CAs, which kubeadm (Go's x509) leaves out; the issue asks for both on
every certificate. `key_identifiers_chain` checks what matters about them: the AKID is the issuer's SKID.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID

KEY_ID_OIDS = {ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER}


def name_fields(name: x509.Name) -> list[tuple[str, str, str]]:
    return [(a.oid.dotted_string, str(a.value), a._type.name) for a in name]


def public_key_kind(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return f"EC-{key.curve.name}"


def extension_value(ext: x509.Extension[x509.ExtensionType]) -> Any:
    value = ext.value
    if isinstance(value, x509.SubjectAlternativeName):
        return [(type(n).__name__, str(n.value)) for n in value]
    if isinstance(value, x509.ExtendedKeyUsage):
        return [u.dotted_string for u in value]
    if isinstance(value, x509.KeyUsage | x509.BasicConstraints):
        return repr(value)
    return type(value).__name__


def fields(cert: x509.Certificate) -> dict[str, Any]:
    """Everything kubeadm and kbs must agree on (validity as a length, rounded to minutes)."""
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    return {
        "version": cert.version.name,
        "signature": cert.signature_algorithm_oid.dotted_string,
        "issuer": name_fields(cert.issuer),
        "subject": name_fields(cert.subject),
        "key": public_key_kind(cert),
        "validity_minutes": round(validity.total_seconds() / 60),
        "extensions": [
            (e.oid.dotted_string, e.critical, extension_value(e)) for e in cert.extensions if e.oid not in KEY_ID_OIDS
        ],
    }


def key_identifiers(cert: x509.Certificate) -> tuple[bytes | None, bytes | None]:
    ski = aki = None
    for ext in cert.extensions:
        if isinstance(ext.value, x509.SubjectKeyIdentifier):
            ski = ext.value.digest
        elif isinstance(ext.value, x509.AuthorityKeyIdentifier):
            aki = ext.value.key_identifier
    return ski, aki


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def kubeconfig_cert(path: Path) -> x509.Certificate:
    doc = yaml.safe_load(path.read_text())
    data = base64.b64decode(doc["users"][0]["user"]["client-certificate-data"])
    return x509.load_pem_x509_certificate(data)


def kubeconfig_shape(path: Path) -> dict[str, Any]:
    """The kubeconfig with its base64 data replaced by what it decodes to (certs as fields, keys by PEM type)."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    for cluster in doc["clusters"]:
        ca = x509.load_pem_x509_certificate(base64.b64decode(cluster["cluster"]["certificate-authority-data"]))
        cluster["cluster"]["certificate-authority-data"] = fields(ca)
    for user in doc["users"]:
        user["user"]["client-certificate-data"] = fields(kubeconfig_cert(path))
        key_pem = base64.b64decode(user["user"]["client-key-data"]).decode()
        user["user"]["client-key-data"] = key_pem.splitlines()[0]
    return doc
