"""kubeconfig files with embedded client certificates, laid out exactly as kubeadm writes them.

A file is kept when its CA is the current ca.crt and its client certificate is signed by it, matches its key
and names the expected user; a different server URL only earns a warning (kubeadm does the same). Files whose
CA is external (ca.key absent) must be provided by the operator. Renewal (pki.renewal) edits the parsed document in
place so everything else in the file survives.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

from bootstrap.errors import PKIError
from pki import store
from pki.certs import Planner
from pki.issue import Identity, issue
from pki.keys import PrivateKey, load_private_key, private_key_pem
from pki.plan import Work as _Work
from pki.plan import kept
from pki.results import Action, Result
from pki.table import CLIENT, KubeconfigSpec
from pki.verify import Problem, check_leaf, expiry_warning


def render(*, cluster: str, server: str, ca_pem: bytes, user: str, cert_pem: bytes, key_pem: bytes) -> str:
    """kubeadm's layout: keys sorted, one cluster, context `<user>@<cluster>`, data embedded as base64."""
    context = f"{user}@{cluster}"
    doc = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": _b64(ca_pem), "server": server}, "name": cluster}],
        "contexts": [{"context": {"cluster": cluster, "user": user}, "name": context}],
        "current-context": context,
        "kind": "Config",
        "users": [
            {"name": user, "user": {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)}}
        ],
    }
    return dump(doc)


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=2**31 - 1)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Kubeconfig:
    """The parts of a kubeconfig file kbs checks and renews (those of its current context)."""

    path: Path
    doc: dict[str, Any]
    server: str | None
    ca: x509.Certificate | None
    cert: x509.Certificate | None
    key: PrivateKey | None
    user_entry: dict[str, Any]  # the `user:` mapping of the current context's user, edited by renew

    def embed(self, cert_pem: bytes, key_pem: bytes) -> str:
        self.user_entry["client-certificate-data"] = _b64(cert_pem)
        self.user_entry["client-key-data"] = _b64(key_pem)
        return dump(self.doc)


def read(path: Path) -> Kubeconfig | None:
    """Parse the kubeconfig at `path` (None if absent); a malformed file is a PKIError naming it."""
    data = store.read_bytes(path)
    if data is None:
        return None
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise _malformed(path, "not valid YAML") from exc
    if not isinstance(doc, dict) or doc.get("kind") != "Config":
        raise _malformed(path, "not a kubeconfig (kind: Config)")
    name = doc.get("current-context")
    context = _entry(doc, "contexts", name) if name else _first(doc, "contexts")
    if context is None:
        raise _malformed(path, f"has no context {name!r}" if name else "has no context")
    ctx_body = context.get("context") or {}
    cluster = (_entry(doc, "clusters", ctx_body.get("cluster")) or {}).get("cluster") or {}
    user_item = _entry(doc, "users", ctx_body.get("user"))
    if user_item is None:
        raise _malformed(path, f"has no user {ctx_body.get('user')!r} for its current context")
    user = user_item.get("user")
    if not isinstance(user, dict):
        user = user_item["user"] = {}
    ca = _decoded(cluster, "certificate-authority", path)
    cert_pem, key_pem = _decoded(user, "client-certificate", path), _decoded(user, "client-key", path)
    return Kubeconfig(
        path,
        doc,
        cluster.get("server"),
        store.parse_cert(ca, f"{path} (certificate-authority)") if ca else None,
        store.parse_cert(cert_pem, f"{path} (client-certificate)") if cert_pem else None,
        load_private_key(key_pem, Path(f"{path} (client-key)")) if key_pem else None,
        user,
    )


def _malformed(path: Path, what: str) -> PKIError:
    return PKIError(
        f"{path} is {what}" if what.startswith("not") else f"{path} {what}",
        hint=f"remove {path} to have kbs write it again",
    )


def _entry(doc: dict[str, Any], section: str, name: object) -> dict[str, Any] | None:
    for item in doc.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def _first(doc: dict[str, Any], section: str) -> dict[str, Any] | None:
    items = doc.get(section) or []
    return items[0] if items and isinstance(items[0], dict) else None


def _decoded(section: dict[str, Any], field: str, path: Path) -> bytes | None:
    """`<field>-data` (base64) or the file `<field>` points to (relative to the kubeconfig's directory)."""
    data = section.get(f"{field}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except ValueError as exc:
            raise _malformed(path, f"has invalid base64 in {field}-data") from exc
    ref = section.get(field)
    if not ref:
        return None
    data = store.read_bytes(path.parent / str(ref))
    if data is None:
        raise PKIError(f"{path}: {field} {path.parent / str(ref)} does not exist", hint=f"restore it, or remove {path}")
    return data


def plan_kubeconfig(planner: Planner, spec: KubeconfigSpec) -> None:
    """Keep, create or report the kubeconfig `spec` describes, in `planner`'s batch."""
    facts, kdir = planner.facts, planner.ctx.kubernetes_dir
    ca = planner.authority(spec.ca)
    path = spec.path(kdir)
    server = facts.server_url(spec)
    identity = Identity(spec.common_name(facts.node_name), spec.orgs, (CLIENT,))
    existing = read(path)
    fix = f"remove {path}, then run `kbs certs generate {spec.name}`"
    if existing is not None:
        if ca.cert is None:
            what = f"exists but its CA {ca.cert_path} does not"
            planner.problems.append(Problem(path, what, f"restore {ca.cert_path}, or {fix}"))
        elif problem := _check(existing, ca.cert, ca.cert_path, identity, fix):
            planner.problems.append(problem)
        else:
            warnings = []
            if existing.server != server:
                warnings.append(f"{path} points to {existing.server}, the configuration says {server}")
            if existing.cert is not None and (w := expiry_warning(existing.cert, path, planner.start, "renew it")):
                warnings.append(w)
            planner.works.append(kept(Result(spec.name, Action.KEPT, (path,), warnings=tuple(warnings))))
        return
    if ca.external:
        what = f"is missing, and CA {ca.spec.name} is external ({ca.key_path.name} absent) so kbs cannot sign it"
        planner.problems.append(
            Problem(path, what, f"provide {path} with a client certificate signed by {ca.cert_path}")
        )
        return

    def finish(new_key: PrivateKey | None) -> Result:
        assert new_key is not None
        signer = ca.signer()
        cert = issue(identity, new_key.public_key(), signer, start=planner.start, validity=facts.cert_validity)
        text = render(
            cluster=planner.ctx.cluster_name,
            server=server,
            ca_pem=store.cert_pem(signer.cert),
            user=identity.cn,
            cert_pem=store.cert_pem(cert),
            key_pem=private_key_pem(new_key),
        )
        store.write_kubeconfig(path, text)
        return Result(spec.name, Action.CREATED, (path,), f"user {identity.cn}, server {server}")

    planner.works.append(_Work(spec.name, finish, facts.algorithm, writes=(path,)))


def _check(config: Kubeconfig, ca: x509.Certificate, ca_path: Path, identity: Identity, fix: str) -> Problem | None:
    path = config.path
    if config.ca is None or config.ca != ca:
        return Problem(path, f"names a different CA than {ca_path}", fix)
    if config.cert is None:
        return None  # token or exec credentials: nothing kbs can check
    if config.key is None:
        return Problem(path, "has a client certificate but no client key", fix)
    if problem := check_leaf(config.cert, path, config.key, path, ca=ca, ca_path=ca_path, expected=identity, fix=fix):
        return problem
    cn = identity_cn(config.cert)
    if cn != identity.cn:
        return Problem(path, f"authenticates as {cn!r}, expected {identity.cn!r}", fix)
    return None


def identity_cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""
