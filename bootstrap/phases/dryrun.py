"""--dry-run by redirection: the same configuration with every directory moved under one temporary directory.

`/etc/kubernetes/pki` becomes `<tmp>/etc/kubernetes/pki`, `/var/lib/etcd` becomes `<tmp>/var/lib/etcd`, and so on,
so the phases run unchanged and write only there (kubeadm's KUBEADM_INIT_DRYRUN_DIR idea). The API client is
swapped for the in-memory one by InitData. The original configuration stays available as `real_cfg` for what is
printed (paths in the join command, the ClusterConfiguration uploaded).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec.structs import replace

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


def under(root: Path, path: Path) -> Path:
    return root / path.relative_to("/") if path.is_absolute() else root / path


def make_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="kbs-init-dryrun-"))


def redirect(cfg: KbsConfig, root: Path) -> KbsConfig:
    """A copy of `cfg` whose every node path lies under `root`."""
    cluster = replace(cfg.cluster, certificates_dir=str(under(root, cfg.cert_dir)))
    if cfg.cluster.etcd.local is not None:
        local = replace(cfg.cluster.etcd.local, data_dir=str(under(root, cfg.etcd_data_dir)))
        cluster = replace(cluster, etcd=replace(cfg.cluster.etcd, local=local))
    reconciler = replace(
        cfg.kbs.reconciler,
        state_dir=under(root, cfg.kbs.reconciler.state_dir),
        run_dir=under(root, cfg.kbs.reconciler.run_dir),
        log_dir=under(root, cfg.kbs.reconciler.log_dir),
    )
    kbs = replace(
        cfg.kbs,
        kubernetes_dir=under(root, cfg.kubernetes_dir),
        static_pod_path=under(root, cfg.manifests_dir),
        reconciler=reconciler,
    )
    return dataclasses.replace(cfg, cluster=cluster, kbs=kbs)
