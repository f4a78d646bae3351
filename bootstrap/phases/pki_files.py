"""Adapter between the phases and the PKI layer: which files the PKI will write, and how to call it.

The ledger must know the paths *before* the PKI writes them (write-ahead), so they are derived here from the
PKI's own tables (pki.table: the certificate rows, the kubeconfig rows, the sa key pair) rather than listed again.
The PKI's entry points are `pki.ensure_certificates(ctx)` and `pki.ensure_kubeconfigs(ctx)`, each returning one
`pki.results.Result` per item (created / kept / renewed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap.errors import KbsError

if TYPE_CHECKING:
    from pki.context import PKIContext


def certificate_paths(ctx: PKIContext) -> list[Path]:
    from pki.table import SA_KEY, SA_PUB, certs_for

    paths = [ctx.cert_dir]
    for spec in certs_for(ctx):
        paths += [spec.cert_path(ctx.cert_dir), spec.key_path(ctx.cert_dir)]
    return [*paths, ctx.cert_dir / SA_KEY, ctx.cert_dir / SA_PUB]


def kubeconfig_paths(ctx: PKIContext) -> list[Path]:
    from pki.table import KUBECONFIGS

    return [ctx.kubernetes_dir, *(spec.path(ctx.kubernetes_dir) for spec in KUBECONFIGS)]


def call(entry_point: str, ctx: PKIContext) -> list[Any]:
    import pki

    function = getattr(pki, entry_point, None)
    if function is None:
        raise KbsError(
            f"this build of kbs has no pki.{entry_point}",
            hint="the PKI layer is incomplete; use `kubeadm init phase certs all` meanwhile",
        )
    results: list[Any] = function(ctx)
    return results


def reserve_keys(ctx: PKIContext, *, certificates: bool = True, kubeconfigs: bool = True) -> int:
    """Start generating in the background one key per key file (certificates) or kubeconfig that does not exist
    yet: what the certs and kubeconfig phases are about to create (they take these keys first). Returns how many."""
    from pki.keys import RESERVE, parse_algorithm

    missing = [p for p in certificate_paths(ctx) if p.suffix == ".key" and not p.exists()] if certificates else []
    missing += [p for p in kubeconfig_paths(ctx)[1:] if not p.exists()] if kubeconfigs else []
    RESERVE.fill(parse_algorithm(ctx.encryption_algorithm), len(missing))
    return len(missing)
