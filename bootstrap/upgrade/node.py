"""`kbs upgrade node`: kubeadm's `upgrade node`, for the other control-plane members of an HA cluster.

`kbs upgrade apply VERSION` on the first control plane uploads the new ClusterConfiguration (kube-system/
kubeadm-config, kubernetesVersion = VERSION) and upgrades the addons. On each other member, `kbs upgrade node`:

    config       this node's own part from the configuration its reconciler runs with (<stateDir>/config.yaml,
                 written by `kbs init`/`kbs join`: node name, advertise address, KbsConfiguration), the cluster's
                 part (ClusterConfiguration, with the new kubernetesVersion) read from kubeadm-config through
                 admin.conf, as kubeadm reads it from the cluster
    etcd         a member that joined an existing cluster keeps its manifest's --initial-cluster (and
                 --initial-cluster-state=existing), so the new etcd manifest differs only where the version does
    upgrade      bootstrap.upgrade.apply with the cluster's version as the target: the same preflight, backups,
                 journal, component-by-component wait and rollback; of the cluster-wide objects only this node's
                 reconciler configuration is rewritten (the uploaded configuration and the addons are
                 `upgrade apply`'s)

A re-run converges and finishes (or rolls back) an interrupted `kbs upgrade node`, as for apply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap import constants
from bootstrap.config.kinds import CLUSTER_KIND, KUBEADM_API_VERSION
from bootstrap.phases.supervise import CONFIG_FILE
from bootstrap.upgrade import waiting
from bootstrap.upgrade.apply import ApplyOptions, Observe, apply
from bootstrap.upgrade.plan import UpgradeError

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig
    from bootstrap.phases.workflow import Reporter

PHASE = "upgrade/node"
# where `kbs init`/`kbs join` left this node's configuration (the reconciler phase's config file)
SAVED_CONFIG = constants.KBS_STATE_DIR / CONFIG_FILE

FetchCluster = Callable[["KbsConfig"], dict[str, Any]]


def fetch_cluster(cfg: KbsConfig) -> dict[str, Any]:
    """The cluster's ClusterConfiguration (kube-system/kubeadm-config), read with this node's admin.conf."""
    from bootstrap.errors import KbsError
    from bootstrap.kube.api import LightkubeAPI
    from bootstrap.phases.download_certs import cluster_document

    kubeconfig = cfg.kubeconfig(constants.ADMIN_KUBECONFIG)
    try:
        api = LightkubeAPI(kubeconfig, timeout=10.0)
    except KbsError as exc:
        raise UpgradeError(
            f"cannot reach the cluster with {kubeconfig}: {exc}",
            hint="`kbs upgrade node` runs on a control-plane node of a running cluster (it reads kubeadm-config)",
        ) from exc
    try:
        return cluster_document(api)
    finally:
        api.close()


def node_config(saved: Path, fetch: FetchCluster = fetch_cluster) -> KbsConfig:
    """This node's configuration for the cluster's current version: `saved`'s node part, the cluster's part."""
    from bootstrap.config.loader import from_raw, read_file

    if not saved.is_file():
        raise UpgradeError(
            f"{saved} does not exist: this node's configuration is not where `kbs init`/`kbs join` leave it",
            hint="pass the configuration file of this node with --config, or run the command on a control-plane "
            "node made by `kbs init` or `kbs join --control-plane`",
        )
    raw = read_file(saved)
    local = from_raw(read_file(saved), path=saved)
    cluster = {k: v for k, v in fetch(local).items() if k not in ("apiVersion", "kind")}
    if not cluster.get("kubernetesVersion"):
        raise UpgradeError(
            f"the cluster's {constants.KUBE_SYSTEM}/kubeadm-config names no kubernetesVersion",
            hint="run `kbs upgrade apply VERSION` on the first control-plane node first",
        )
    raw.docs[CLUSTER_KIND] = {"apiVersion": KUBEADM_API_VERSION, "kind": CLUSTER_KIND, **cluster}
    raw.where[CLUSTER_KIND] = f"the cluster's {constants.KUBE_SYSTEM}/kubeadm-config (ClusterConfiguration)"
    cfg = from_raw(raw, path=saved)
    return dataclasses.replace(cfg, etcd_initial_cluster=joined_initial_cluster(cfg))


def joined_initial_cluster(cfg: KbsConfig) -> tuple[tuple[str, str], ...] | None:
    """The --initial-cluster of this node's etcd manifest when the member joined an existing cluster, else None
    (a first member's manifest names only itself, which is what rendering gives anyway)."""
    from bootstrap.etcd.restore import member_from_manifest
    from bootstrap.etcd.snapshots import SnapshotError

    path = cfg.manifests_dir / f"{constants.ETCD}.yaml"
    if not cfg.local_etcd or not path.is_file():
        return None
    try:
        if "--initial-cluster-state=existing" not in path.read_text():
            return None
        member = member_from_manifest(path)
    except (OSError, SnapshotError):
        return None
    pairs = tuple((name, url) for name, _, url in (p.partition("=") for p in member.initial_cluster.split(",")) if url)
    return pairs or None


@dataclasses.dataclass(frozen=True)
class NodeOptions:
    dry_run: bool = False
    etcd_upgrade: bool = True
    certificate_renewal: bool = True
    timeout: float | None = None


def upgrade_node(
    saved: Path,
    options: NodeOptions,
    out: Reporter,
    *,
    fetch: FetchCluster = fetch_cluster,
    observe: Observe = waiting.observe,
) -> str:
    cfg = node_config(saved, fetch)
    target = cfg.kubernetes_version
    out.line(PHASE, f"the cluster's configuration (kubeadm-config) names {target}; upgrading {cfg.node_name} to it")
    apply_options = ApplyOptions(
        target=target,
        dry_run=options.dry_run,
        etcd_upgrade=options.etcd_upgrade,
        certificate_renewal=options.certificate_renewal,
        timeout=options.timeout,
        node=True,
    )
    return apply(cfg, apply_options, out, observe=observe)
