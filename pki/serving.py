"""The reconciler's serving certificate (its read API on port 10250) and the cluster CA bundle.

The certificate is what a kubelet gets with serverTLSBootstrap: CN `system:node:<node>`, O `system:nodes`,
serverAuth, the node name and advertise address as SANs, signed by the cluster CA. It is kbs's private file, so
unlike the kubeadm tree it is re-issued automatically when it no longer fits (other CA, missing SAN, key
mismatch) or expires within `renew_before`; the Result says which and why.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from bootstrap.errors import PKIError
from pki import store
from pki.altnames import AltNames, parse_ip, parse_sans
from pki.context import PKIContext
from pki.issue import Identity, Signer, issue, now
from pki.results import Action, Result
from pki.table import CERTS_BY_NAME, F_ADDRESS, SERVER, facts
from pki.verify import check_leaf

SERVING_NAME = "reconciler-serving"
DEFAULT_RENEW_BEFORE = timedelta(days=30)


def read_ca_bundle(ctx: PKIContext) -> bytes:
    """The cluster CA certificate (PEM), for clients that must trust the API server or the reconciler."""
    path = CERTS_BY_NAME["ca"].cert_path(ctx.cert_dir)
    data = store.read_bytes(path)
    if data is None:
        raise PKIError(f"{path} is missing", hint="run `kbs certs generate ca` (or `kbs init`) first")
    store.parse_cert(data, path)
    return data


def ensure_serving_certificate(
    ctx: PKIContext,
    cert_path: Path,
    key_path: Path,
    *,
    extra_sans: tuple[str, ...] = (),
    renew_before: timedelta = DEFAULT_RENEW_BEFORE,
    at: datetime | None = None,
) -> Result:
    """Make sure `cert_path`/`key_path` hold a serving certificate for this node signed by the cluster CA."""
    f = facts(ctx)
    start = at or now()
    ca_spec = CERTS_BY_NAME["ca"]
    ca_path = ca_spec.cert_path(ctx.cert_dir)
    ca_cert, ca_key = store.read_cert(ca_path), store.read_key(ca_spec.key_path(ctx.cert_dir), validate=True)
    if ca_cert is None or ca_key is None:
        missing = ca_path if ca_cert is None else ca_spec.key_path(ctx.cert_dir)
        raise PKIError(f"cannot issue {cert_path}: {missing} is missing", hint="the cluster CA must exist with its key")
    alt = AltNames((ctx.node_name,), (parse_ip(ctx.advertise_address, F_ADDRESS),))
    alt = alt.plus(parse_sans(extra_sans, "reconciler serving certificate SANs")).normalized()
    identity = Identity(f"system:node:{ctx.node_name}", ("system:nodes",), (SERVER,), alt)
    files = (cert_path, key_path)

    cert, key = store.read_cert(cert_path), store.read_key(key_path)
    reason = None
    if cert is None or key is None:
        reason = "missing"
    elif problem := check_leaf(cert, cert_path, key, key_path, ca=ca_cert, ca_path=ca_path, expected=identity, fix=""):
        reason = problem.what
    elif cert.not_valid_after_utc - start < renew_before:
        reason = f"expires {cert.not_valid_after_utc:%Y-%m-%d}"
    if reason is None:
        return Result(SERVING_NAME, Action.KEPT, files)
    store.check_writable(files)
    new_key = f.algorithm.generate()
    new = issue(identity, new_key.public_key(), Signer(ca_cert, ca_key), start=start, validity=f.cert_validity)
    store.write_key(key_path, new_key)
    store.write_cert(cert_path, new)
    action = Action.CREATED if cert is None and key is None else Action.RENEWED
    return Result(
        SERVING_NAME,
        action,
        files,
        f"signed for {alt.describe()}" + ("" if reason == "missing" else f"; was: {reason}"),
    )
