"""Building X.509 certificates the way kubeadm's pkiutil does, with `cryptography`.

The fields mirror what Go's x509 writes for kubeadm: version 3, a random serial in [1, 2^63-1), a subject of O then
CN (PrintableString when possible, as Go encodes it), extensions in Go's order (KeyUsage, ExtKeyUsage,
BasicConstraints, key identifiers, SAN), NotBefore backdated 5 minutes. Two deliberate additions: every certificate
carries a SubjectKeyIdentifier (Go sets it on CAs only) and an AuthorityKeyIdentifier (Go leaves it off self-signed
CAs); key identifiers are Go's current choice, the first 160 bits of SHA-256 of the public key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from pki.altnames import AltNames
from pki.keys import PrivateKey, PublicKey, public_key_bits, signature_hash

BACKDATE = timedelta(minutes=5)  # kubeadm's CertificateBackdate: tolerate clocks a little behind
_MAX_SERIAL = 2**63 - 1  # Go's math.MaxInt64; kubeadm draws from [1, MaxInt64)
_PRINTABLE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]*$")


@dataclass(frozen=True)
class Identity:
    """Who a certificate names and what it may be used for."""

    cn: str
    orgs: tuple[str, ...] = ()
    usages: tuple[ObjectIdentifier, ...] = ()
    alt_names: AltNames = field(default_factory=AltNames)
    is_ca: bool = False


@dataclass(frozen=True)
class Signer:
    """The CA that signs: its certificate and key."""

    cert: x509.Certificate
    key: PrivateKey


def now() -> datetime:
    """The start time of a run, whole seconds (X.509 times have no fractions)."""
    return datetime.now(UTC).replace(microsecond=0)


def subject(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [_attr(NameOID.ORGANIZATION_NAME, o) for o in orgs] + [_attr(NameOID.COMMON_NAME, cn)]
    return x509.Name(attrs)


def _attr(oid: ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    kind = x509.name._ASN1Type.PrintableString if _PRINTABLE.match(value) else x509.name._ASN1Type.UTF8String
    return x509.NameAttribute(oid, value, _type=kind)


def key_identifier(public_key: PublicKey) -> bytes:
    return hashlib.sha256(public_key_bits(public_key)).digest()[:20]


def random_serial() -> int:
    return secrets.randbelow(_MAX_SERIAL - 1) + 1


def issue(
    identity: Identity,
    public_key: PublicKey,
    signer: Signer | None,
    self_key: PrivateKey | None = None,
    *,
    start: datetime,
    validity: timedelta,
) -> x509.Certificate:
    """A certificate for `identity` and `public_key`, signed by `signer` (or self-signed with `self_key`)."""
    if signer is None:
        if self_key is None:
            raise ValueError("a self-signed certificate needs its own key")
        issuer_name, signing_key, authority_id = subject(identity.cn, identity.orgs), self_key, None
    else:
        issuer_name, signing_key = signer.cert.subject, signer.key
        authority_id = _subject_key_id(signer.cert)
    own_id = key_identifier(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject(identity.cn, identity.orgs))
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(start + validity)
        .add_extension(_key_usage(identity.is_ca), critical=True)
    )
    if identity.usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(identity.usages)), critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=identity.is_ca, path_length=None), critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier(own_id), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier(authority_id or own_id, None, None),
        critical=False,
    )
    if identity.alt_names:
        builder = builder.add_extension(identity.alt_names.extension(), critical=False)
    return builder.sign(signing_key, signature_hash(signing_key))


def _key_usage(is_ca: bool) -> x509.KeyUsage:
    # kubeadm sets KeyEncipherment for ECDSA keys too (checked with v1.37.2); keep it identical.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _subject_key_id(cert: x509.Certificate) -> bytes:
    """The signer's SKID if it has one (a CA made elsewhere may not), else computed from its key."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return key_identifier(_public(cert))


def _public(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, PublicKey):
        raise TypeError(f"unsupported public key in {cert.subject.rfc4514_string()}")
    return key


def identity_of(cert: x509.Certificate) -> Identity:
    """The identity a certificate names: the template for renewing it (same subject, usages and SANs)."""
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    try:
        usages = tuple(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = ()
    return Identity(str(cns[0]) if cns else "", orgs, usages, AltNames.of(cert), is_ca(cert))


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def usage_names(usages: tuple[ObjectIdentifier, ...]) -> str:
    names = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}
    return ", ".join(names.get(u, u.dotted_string) for u in usages) or "none"
