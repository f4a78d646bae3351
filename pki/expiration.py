"""`kbs certs check-expiration`: when each certificate expires, as kubeadm reports it.

The rows and columns are kubeadm's: leaves and the renewable kubeconfigs (name, expiry, residual time, CA,
externally managed), then the CAs; `-o json|yaml` gives kubeadm's CertificateExpirationInfo document
(output.kubeadm.k8s.io/v1alpha3, residualTime in seconds). A leaf is externally managed when its CA has no key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pki import kubeconfig, store
from pki.context import PKIContext
from pki.issue import now
from pki.table import KUBECONFIGS, certs_for

OUTPUT_API_VERSION = "output.kubeadm.k8s.io/v1alpha3"
OUTPUT_KIND = "CertificateExpirationInfo"


@dataclass(frozen=True)
class ExpirationInfo:
    name: str  # kubeadm's name: "apiserver", "admin.conf", "etcd-ca"
    path: Path
    is_ca: bool
    ca: str | None  # the signing CA's name, for leaves
    expires: datetime | None  # None when missing
    externally_managed: bool
    missing: bool
    issued: datetime | None = None  # notBefore: with `expires`, the lifetime automatic renewal works from

    def residual(self, at: datetime) -> timedelta | None:
        return None if self.expires is None else self.expires - at


def check_expiration(ctx: PKIContext) -> list[ExpirationInfo]:
    """Certificates (sorted by name), then CAs (sorted by name)."""
    cas: dict[str, ExpirationInfo] = {}
    for spec in certs_for(ctx):
        if spec.is_ca:
            cert = store.read_cert(spec.cert_path(ctx.cert_dir))
            external = cert is not None and not store.exists(spec.key_path(ctx.cert_dir))
            cas[spec.name] = _info(spec.name, spec.cert_path(ctx.cert_dir), True, None, cert, external=external)
    leaves = []
    for spec in certs_for(ctx):
        if not spec.is_ca:
            assert spec.ca is not None
            cert = store.read_cert(spec.cert_path(ctx.cert_dir))
            external = cas[spec.ca].externally_managed
            leaves.append(_info(spec.name, spec.cert_path(ctx.cert_dir), False, spec.ca, cert, external=external))
    for kspec in KUBECONFIGS:
        if kspec.renewable:
            config = kubeconfig.read(kspec.path(ctx.kubernetes_dir))
            external = cas[kspec.ca].externally_managed
            cert = config.cert if config else None
            info = _info(kspec.name, kspec.path(ctx.kubernetes_dir), False, kspec.ca, cert, external=external)
            leaves.append(info)
    return sorted(leaves, key=lambda i: i.name) + sorted(cas.values(), key=lambda i: i.name)


def _info(name: str, path: Path, is_ca: bool, ca: str | None, cert: Any, *, external: bool) -> ExpirationInfo:
    expires = cert.not_valid_after_utc if cert is not None else None
    issued = cert.not_valid_before_utc if cert is not None else None
    return ExpirationInfo(name, path, is_ca, ca, expires, external and cert is not None, cert is None, issued)


def short_duration(delta: timedelta) -> str:
    """Kubernetes' ShortHumanDuration: 59s, 59m, 23h, 364d, 9y; `<invalid>` once expired."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    hours = seconds // 3600
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def _expires(info: ExpirationInfo) -> str:
    return "" if info.expires is None else f"{info.expires:%b %d, %Y %H:%M} UTC"


def render_text(infos: list[ExpirationInfo], at: datetime | None = None) -> str:
    """kubeadm's two tables; a missing file's row reads `!MISSING! <name>`."""
    at = at or now()
    yes_no = {True: "yes", False: "no"}

    def cells(i: ExpirationInfo, with_ca: bool) -> list[str]:
        residual = i.residual(at)
        name = f"!MISSING! {i.name}" if i.missing else i.name
        if i.missing:
            return [name, "", "", *([""] if with_ca else []), ""]
        row = [name, _expires(i), short_duration(residual) if residual is not None else ""]
        return [*row, *([i.ca or ""] if with_ca else []), yes_no[i.externally_managed]]

    leaves = [cells(i, True) for i in infos if not i.is_ca]
    cas = [cells(i, False) for i in infos if i.is_ca]
    first = _table(["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"], leaves)
    second = _table(["CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"], cas)
    return f"{first}\n{second}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    return "".join(
        "   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in [header, *rows]
    )


def as_document(infos: list[ExpirationInfo], at: datetime | None = None) -> dict[str, Any]:
    """kubeadm's `-o json|yaml` document."""
    at = at or now()

    def entry(i: ExpirationInfo) -> dict[str, Any]:
        residual = i.residual(at)
        out: dict[str, Any] = {"name": i.name}
        if not i.is_ca:
            out["caName"] = i.ca
        out |= {
            "expirationDate": i.expires.strftime("%Y-%m-%dT%H:%M:%SZ") if i.expires else None,
            "residualTime": int(residual.total_seconds()) if residual is not None else 0,
            "externallyManaged": i.externally_managed,
            "missing": i.missing,
        }
        return out

    return {
        "kind": OUTPUT_KIND,
        "apiVersion": OUTPUT_API_VERSION,
        "certificates": [entry(i) for i in infos if not i.is_ca],
        "certificateAuthorities": [entry(i) for i in infos if i.is_ca],
    }
