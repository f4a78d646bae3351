"""kbs's PKI: a kubeadm-compatible certificate tree and kubeconfig files, made with `cryptography`.

Public API (the input is always a PKIContext; the PKI never reads configuration files):

    ensure_certificates(ctx, only=None) -> list[Result]    CAs, leaves and sa: create what is missing, keep the rest
    ensure_kubeconfigs(ctx, only=None) -> list[Result]     admin.conf, super-admin.conf, kubelet.conf, ...
    generate(ctx, only=None) -> list[Result]               both in one batch (all new keys generated in parallel)
    check_expiration(ctx) -> list[ExpirationInfo]          what `kubeadm certs check-expiration` shows
    renew(ctx, name | "all") -> list[Result]               re-issue leaves and kubeconfig certs; never CAs
    restarts_needed(results) -> list[str]                  static pods to restart after a renewal
    ensure_serving_certificate(ctx, crt, key) -> Result    the reconciler's :10250 certificate, signed by the CA
    read_ca_bundle(ctx) -> bytes                           ca.crt, PEM

Modules: table (the certificate set as data, SAN rules), keys, altnames, issue (X.509 building), store (files),
verify (checks of existing files), plan (inspect -> keygen -> write), certs and kubeconfig (planning),
renewal, expiration, serving. Every error is a bootstrap.errors KbsError with the file or field it is about.
Submodules are imported on first use so that importing PKIContext stays cheap.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pki.context import PKIContext

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from pki.expiration import ExpirationInfo
    from pki.results import Action, Result

__all__ = [
    "Action",
    "ExpirationInfo",
    "PKIContext",
    "Result",
    "check_expiration",
    "ensure_certificates",
    "ensure_kubeconfigs",
    "ensure_serving_certificate",
    "generate",
    "names",
    "read_ca_bundle",
    "renew",
    "restarts_needed",
]

_LAZY = {"Action": "pki.results", "Result": "pki.results", "ExpirationInfo": "pki.expiration"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def names() -> list[str]:
    """Every name `generate` accepts: certificates, sa, kubeconfig files (kubeadm's names)."""
    from pki.table import all_names

    return all_names()


def ensure_certificates(ctx: PKIContext, only: str | None = None, *, at: datetime | None = None) -> list[Result]:
    """The CAs, leaves and sa key pair (all, or `only` one of them and its CA)."""
    from pki.table import KUBECONFIGS_BY_NAME, canonical_name

    name = canonical_name(only) if only else None
    if name in KUBECONFIGS_BY_NAME:
        from bootstrap.errors import PKIError

        raise PKIError(f"{name} is a kubeconfig file, not a certificate", hint="use ensure_kubeconfigs")
    return _run(ctx, name, at, certs=True, kubeconfigs=False)


def ensure_kubeconfigs(ctx: PKIContext, only: str | None = None, *, at: datetime | None = None) -> list[Result]:
    """The five kubeconfig files (all, or `only` one); ca.crt and ca.key must exist or are created."""
    from pki.table import KUBECONFIGS_BY_NAME

    if only is not None and only not in KUBECONFIGS_BY_NAME:
        from bootstrap.errors import PKIError

        raise PKIError(f"unknown kubeconfig {only!r}", hint=f"use one of: {', '.join(KUBECONFIGS_BY_NAME)}")
    return _run(ctx, only, at, certs=False, kubeconfigs=True)


def generate(ctx: PKIContext, only: str | None = None, *, at: datetime | None = None) -> list[Result]:
    """Certificates and kubeconfigs in one batch (`kbs certs generate`), or the one called `only`."""
    from pki.table import KUBECONFIGS_BY_NAME, canonical_name

    name = canonical_name(only) if only else None
    is_kubeconfig = name in KUBECONFIGS_BY_NAME
    return _run(ctx, name, at, certs=name is None or not is_kubeconfig, kubeconfigs=name is None or is_kubeconfig)


def _run(ctx: PKIContext, only: str | None, at: datetime | None, *, certs: bool, kubeconfigs: bool) -> list[Result]:
    from pki import store
    from pki.certs import Planner
    from pki.issue import now
    from pki.kubeconfig import plan_kubeconfig
    from pki.plan import execute, raise_problems
    from pki.table import KUBECONFIGS, facts

    planner = Planner(ctx, facts(ctx), at or now())
    if certs:
        planner.plan(only)
    if kubeconfigs:
        for spec in KUBECONFIGS:
            if only in (None, spec.name):
                plan_kubeconfig(planner, spec)
    raise_problems(planner.problems)
    return execute(planner.works, store.check_writable)


def check_expiration(ctx: PKIContext) -> list[ExpirationInfo]:
    """Expiry of every leaf and renewable kubeconfig (by name), then of the CAs."""
    from pki.expiration import check_expiration as _check

    return _check(ctx)


def renew(ctx: PKIContext, name: str, *, at: datetime | None = None) -> list[Result]:
    """Re-issue `name` (or `all`) with the same subject and SANs and a new validity; CAs are never renewed."""
    from pki.renewal import renew as _renew

    return _renew(ctx, name, at=at)


def restarts_needed(results: Iterable[Result]) -> list[str]:
    """The static pods that load a renewed file, in start-up order."""
    from pki.results import restarts_needed as _restarts

    return _restarts(results)


def ensure_serving_certificate(
    ctx: PKIContext, cert_path: Path, key_path: Path, *, extra_sans: tuple[str, ...] = (), at: datetime | None = None
) -> Result:
    """The reconciler's serving certificate for port 10250, signed by the cluster CA (re-issued when unfit)."""
    from pki.serving import ensure_serving_certificate as _ensure

    return _ensure(ctx, cert_path, key_path, extra_sans=extra_sans, at=at)


def read_ca_bundle(ctx: PKIContext) -> bytes:
    """ca.crt as PEM bytes."""
    from pki.serving import read_ca_bundle as _read

    return _read(ctx)
