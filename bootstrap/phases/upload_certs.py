"""The upload-certs phase: the shared control-plane keys, encrypted, in `kube-system/kubeadm-certs` for 2 hours.

Runs only with `--upload-certs` (as kubeadm's). The certificate key is `--certificate-key`, else the
InitConfiguration's `certificateKey`, else a new one, printed (a joining control plane needs it). The Secret,
its 2-hour owner token and the Role/RoleBinding `kubeadm:kubeadm-certs` are kubeadm's, byte for byte in layout
(bootstrap.kube.copycerts), so a stock `kubeadm join --control-plane --certificate-key` downloads them.

Convergence: kubeadm makes a new token and re-encrypts on every run. kbs leaves the Secret alone when it already
decrypts, with the key of this run, to exactly the files on disk and its owner token has more than an hour left;
otherwise (other files, another key, a token about to expire, no Secret) it uploads again with a fresh token,
which also restarts the two hours. A generated key is new by definition, so that run always uploads.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bootstrap import constants
from bootstrap.errors import PKIError
from bootstrap.kube import copycerts
from bootstrap.kube import token as tokens
from bootstrap.kube.api import KubeAPI, Obj
from bootstrap.phases.apply import ensure_all, group, role, role_binding
from bootstrap.phases.bootstrap_token import REUSE_MARGIN
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

SCRATCH_KEY = "certificate_key"  # the key of this run, for show-join-command


def rbac_objects() -> list[Obj]:
    rules = [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [copycerts.SECRET_NAME], "verbs": ["get"]}]
    return [
        role(copycerts.RBAC_NAME, constants.KUBE_SYSTEM, rules),
        role_binding(copycerts.RBAC_NAME, constants.KUBE_SYSTEM, copycerts.RBAC_NAME, [group(tokens.DEFAULT_GROUP)]),
    ]


def owner_token() -> tokens.BootstrapToken:
    """The short-lived token whose Secret owns kubeadm-certs: no usages, no groups, 2 hours (kubeadm's)."""
    fresh = tokens.generate(copycerts.TOKEN_TTL)
    return tokens.BootstrapToken(
        fresh.token_id,
        fresh.secret,
        description=copycerts.TOKEN_DESCRIPTION,
        expiration=fresh.expiration,
        usages=(),
        groups=(),
    )


def shared_files(data: InitData) -> dict[str, bytes]:
    """The files to upload; the CA, front-proxy CA, service-account and (local) etcd CA files must exist."""
    cfg = data.cfg
    if data.real_cfg is not None and not (cfg.cert_dir / "ca.crt").exists():
        cfg = data.real_cfg  # the phase dry-run alone: read (only read) the node's own files
    external = cfg.external_etcd
    files = copycerts.shared_files(
        cfg.cert_dir,
        copycerts.ExternalEtcdFiles(external.ca_file, external.cert_file, external.key_file) if external else None,
    )
    contents = copycerts.read_files(files)
    required = [path for name, path in files.items() if not name.startswith("external-") and not contents[name]]
    if required:
        raise PKIError(
            f"cannot upload the control-plane certificates: {', '.join(map(str, required))} missing",
            hint="run `kbs init phase certs` first (an external CA cannot be shared this way)",
        )
    return contents


def _still_current(api: KubeAPI, secret: Obj, contents: dict[str, bytes], key: bytes) -> datetime | None:
    """The owner token's expiry when `secret` already holds `contents` for `key` and lives on; else None."""
    owners = secret.get("metadata", {}).get("ownerReferences") or []
    if len(owners) != 1 or owners[0].get("kind") != "Secret":
        return None
    owner = api.get("v1", "Secret", owners[0].get("name", ""), constants.KUBE_SYSTEM)
    token = tokens.from_secret(owner) if owner else None
    if token is None or token.expiration is None or token.expired(datetime.now(UTC), REUSE_MARGIN):
        return None
    try:
        if copycerts.decrypt_secret(secret, key) != contents:
            return None
    except copycerts.CertificateKeyError:
        return None
    return token.expiration


def upload(data: InitData, key: bytes, contents: dict[str, bytes]) -> None:
    """A new owner token, then the Secret pointing at it (replacing the data and owner of an earlier upload)."""
    api = data.api()
    verb = "would create" if data.dry_run else "created"
    token = owner_token()
    owner = api.create(tokens.secret_object(token))
    data.out.line("upload-certs", f"{verb} Secret {constants.KUBE_SYSTEM}/{token.secret_name} (expires in 2h)")
    secret = copycerts.secret_object(copycerts.secret_data(contents, key), copycerts.owner_reference(owner))
    existing = api.get("v1", "Secret", copycerts.SECRET_NAME, constants.KUBE_SYSTEM)
    if existing is None:
        api.create(secret)
    else:
        # A merge patch replaces the owner list whole (there may be only one controller reference) and drops
        # data keys of another etcd mode; server-side apply would keep an owner that kubeadm had set.
        stale = {name: None for name in existing.get("data") or {} if name not in secret["data"]}
        patch = {
            "metadata": {"ownerReferences": secret["metadata"]["ownerReferences"]},
            "data": {**secret["data"], **stale},
        }
        api.merge_patch("v1", "Secret", copycerts.SECRET_NAME, patch, constants.KUBE_SYSTEM)
        verb = "would update" if data.dry_run else "updated"
    data.out.line("upload-certs", f"{verb} Secret {constants.KUBE_SYSTEM}/{copycerts.SECRET_NAME}")


def run(data: InitData) -> Outcome:
    options = data.options
    if not options.upload_certs:
        return Outcome("skipped: pass --upload-certs to share the control-plane certificates through the cluster")
    given = options.certificate_key or data.cfg.init.certificate_key
    text = given or copycerts.generate_key()
    key = copycerts.parse_key(
        text, "--certificate-key" if options.certificate_key else "InitConfiguration.certificateKey"
    )
    data.scratch[SCRATCH_KEY] = text
    contents = shared_files(data)
    api = data.api()
    existing = api.get("v1", "Secret", copycerts.SECRET_NAME, constants.KUBE_SYSTEM)
    expiry = _still_current(api, existing, contents, key) if existing is not None and given else None
    if expiry is not None:
        rbac = ensure_all(data, "upload-certs", rbac_objects())
        summary = (
            f"Secret {constants.KUBE_SYSTEM}/{copycerts.SECRET_NAME} unchanged (expires {expiry:%Y-%m-%d %H:%M} UTC)"
        )
        return Outcome(f"{summary}; {rbac.summary}", changed=rbac.changed)
    upload(data, key, contents)
    rbac = ensure_all(data, "upload-certs", rbac_objects())
    if not data.dry_run and not options.skip_certificate_key_print:
        data.out.line("upload-certs", "Using certificate key:")
        data.out.detail(text)
    names = ", ".join(name for name, raw in sorted(contents.items()) if raw)
    return Outcome(f"{len([c for c in contents.values() if c])} files uploaded ({names}); {rbac.summary}", changed=True)
