"""The join side's download-certs step: discover the cluster with a token, then fetch and decrypt kubeadm-certs.

What `kubeadm join phase control-plane-prepare download-certs` does, for a node that will become a control plane:

    discovery      cluster-info, its JWS and the CA pin (bootstrap.kube.discovery)
    kubeadm-config the cluster's ClusterConfiguration, read with the token: where the certificates go
                   (certificatesDir) and whether etcd is local or external (which files travel)
    kubeadm-certs  read with the token, decrypted with the certificate key (bootstrap.kube.copycerts)
    files          written under certificatesDir (or --cert-dir), keys 0600, nothing written if anything fails

With dry_run the files are listed, not written. Nothing secret is printed: not the key, not the token, not a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bootstrap import constants
from bootstrap.errors import KbsError
from bootstrap.kube import copycerts, discovery
from bootstrap.kube import token as tokens
from bootstrap.kube.api import KubeAPI
from bootstrap.phases.upload_config import CLUSTER_CONFIGURATION_KEY, KUBEADM_CONFIG
from bootstrap.phases.workflow import Outcome, Reporter


@dataclass(frozen=True)
class DownloadRequest:
    endpoint: str  # host:port of the control plane (the join command's first argument)
    token: str
    ca_hashes: Sequence[str]
    certificate_key: str
    cert_dir: Path | None = None  # None: the cluster's certificatesDir
    dry_run: bool = False
    timeout: float = 30.0  # one API call
    discovery_wait: float = 0.0  # how long discovery waits for the API server and the token's signature

    def __repr__(self) -> str:  # the token and the key stay out of every repr
        return f"DownloadRequest(endpoint={self.endpoint!r}, cert_dir={self.cert_dir!r}, dry_run={self.dry_run})"


def cluster_document(api: KubeAPI) -> dict[str, Any]:
    """The cluster's ClusterConfiguration, as stored in kube-system/kubeadm-config (a plain mapping)."""
    cm = api.get("v1", "ConfigMap", KUBEADM_CONFIG, constants.KUBE_SYSTEM)
    if cm is None:
        raise KbsError(
            f"ConfigMap {constants.KUBE_SYSTEM}/{KUBEADM_CONFIG} was not found",
            hint="run `kbs init phase upload-config` on a control-plane node",
        )
    try:
        cluster: dict[str, Any] = yaml.safe_load(cm.get("data", {}).get(CLUSTER_CONFIGURATION_KEY, "")) or {}
    except yaml.YAMLError as exc:
        raise KbsError(f"ConfigMap {constants.KUBE_SYSTEM}/{KUBEADM_CONFIG} is not YAML: {exc}") from exc
    if not isinstance(cluster, dict):
        raise KbsError(f"ConfigMap {constants.KUBE_SYSTEM}/{KUBEADM_CONFIG}: ClusterConfiguration is not a mapping")
    return cluster


def cluster_layout(api: KubeAPI, cert_dir: Path | None) -> dict[str, Path | None]:
    """Where each shared file goes on this node, from the cluster's ClusterConfiguration."""
    cluster = cluster_document(api)
    external = (cluster.get("etcd") or {}).get("external")
    files = None
    if external:
        files = copycerts.ExternalEtcdFiles(
            external.get("caFile", ""), external.get("certFile", ""), external.get("keyFile", "")
        )
    return copycerts.shared_files(cert_dir or Path(cluster.get("certificatesDir") or constants.CERTIFICATES_DIR), files)


def download_certs(
    request: DownloadRequest, out: Reporter, before_write: Callable[[list[Path]], None] | None = None
) -> Outcome:
    """Discover, download, decrypt, write; `before_write` gets the paths once decryption has worked (the join
    records them in its ledger there, so a wrong key leaves nothing behind and `kbs reset` removes the files)."""
    key = copycerts.parse_key(request.certificate_key)
    token = tokens.parse(request.token, ttl=None)
    info = discovery.discover(
        request.endpoint, token, request.ca_hashes, timeout=request.timeout, wait=request.discovery_wait
    )
    out.line("discovery", f"cluster-info signed by token {token.token_id}, CA pinned; API server {info.server}")
    api = discovery.bootstrap_api(info, token, timeout=request.timeout)
    try:
        layout = cluster_layout(api, request.cert_dir)
        out.line("download-certs", f"downloading Secret {constants.KUBE_SYSTEM}/{copycerts.SECRET_NAME}")
        plain = copycerts.download(api, key)
    finally:
        api.close()
    if request.dry_run:
        for name, path in layout.items():
            if plain.get(name) and path is not None:
                out.line("dryrun", f"would write {path}")
        return Outcome("certificates decrypted; nothing written (--dry-run)")
    if before_write is not None:
        before_write([p for n, p in layout.items() if plain.get(n) and p is not None])
    written = copycerts.write_files(plain, layout)
    for path in written:
        out.line("download-certs", f"wrote {path}")
    kept = len([n for n, p in layout.items() if plain.get(n) and p is not None]) - len(written)
    return Outcome(f"{len(written)} written, {kept} unchanged", changed=bool(written))
