"""Checks of certificates already on disk, with messages that say which file, what is wrong and how to fix it.

kbs keeps what exists and never overwrites a file that fails a check: the operator decides. The checks are
kubeadm's (the certificate is signed by its CA, covers every SAN the configuration asks for, matches its key) plus
two it lacks: the required extended key usages are present, and an expired certificate earns a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from bootstrap.errors import PKIError
from pki.altnames import AltNames
from pki.issue import Identity, is_ca, usage_names
from pki.keys import PrivateKey, PublicKey, keys_match


@dataclass(frozen=True)
class Problem:
    """A certificate that cannot be used as it is."""

    path: Path
    what: str  # "is not signed by the CA in /etc/kubernetes/pki/ca.crt"
    hint: str

    def error(self) -> PKIError:
        return PKIError(f"{self.path} {self.what}", hint=self.hint)


def public_key(cert: x509.Certificate, path: Path) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, PublicKey):
        raise PKIError(f"{path} has a {type(key).__name__} key; kbs supports RSA and ECDSA", hint=f"replace {path}")
    return key


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_ca(cert: x509.Certificate, cert_path: Path, key: PrivateKey | None, key_path: Path) -> Problem | None:
    if not is_ca(cert):
        return Problem(
            cert_path, "is not a CA certificate (BasicConstraints CA:FALSE)", f"restore the CA in {cert_path}"
        )
    if key is not None and not keys_match(key, public_key(cert, cert_path)):
        return Problem(
            key_path,
            f"does not match the CA certificate {cert_path}",
            f"restore the key that belongs to {cert_path.name}; kbs never replaces a CA key",
        )
    return None


def check_leaf(
    cert: x509.Certificate,
    cert_path: Path,
    key: PrivateKey | None,
    key_path: Path | None,
    *,
    ca: x509.Certificate,
    ca_path: Path,
    expected: Identity,
    fix: str,
) -> Problem | None:
    """The first reason `cert` cannot serve as `expected`, or None. `fix` says how to replace it."""
    if key is not None and key_path is not None and not keys_match(key, public_key(cert, cert_path)):
        what = (
            f"does not match its key {key_path}" if key_path != cert_path else "has a client key of another certificate"
        )
        return Problem(cert_path, what, fix)
    if not signed_by(cert, ca):
        return Problem(cert_path, f"is not signed by the CA in {ca_path}", fix)
    missing = expected.alt_names.missing_from(AltNames.of(cert))
    if missing:
        return Problem(cert_path, f"lacks SANs the configuration asks for: {', '.join(missing)}", fix)
    try:
        usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = set(expected.usages)  # no EKU extension: any purpose
    lacking = tuple(u for u in expected.usages if u not in usages)
    if lacking:
        return Problem(cert_path, f"lacks the extended key usage {usage_names(lacking)}", fix)
    return None


def expiry_warning(cert: x509.Certificate, path: Path, at: datetime, renew_hint: str) -> str | None:
    if cert.not_valid_after_utc <= at:
        return f"{path} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; {renew_hint}"
    return None
