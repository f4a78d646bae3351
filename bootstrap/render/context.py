"""The data a manifest template sees: `c` (this configuration, as plain values) and `v` (this version's facts).

Built once per render from KbsConfig; nothing here formats YAML. Facts about the host that kubeadm also reads at
render time (which CA directories exist, whether the CA key is absent, the proxy environment) are gathered here, so
the templates and helpers stay pure.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap import constants
from bootstrap.config.types import to_data
from bootstrap.render import helpers
from bootstrap.render.versiondata import facts

if TYPE_CHECKING:
    from bootstrap.config import KbsConfig

PROBE_PERIOD_SECONDS = 10


def proxy_env(environ: Mapping[str, str]) -> list[dict[str, str]]:
    """kubeadm's GetProxyEnvVars: every non-empty `*_proxy` variable (any case) of kbs's own environment."""
    return [{"name": k, "value": v} for k, v in sorted(environ.items()) if k.lower().endswith("_proxy") and v]


def build(cfg: KbsConfig, *, environ: Mapping[str, str] | None = None, host_root: Path = Path("/")) -> dict[str, Any]:
    """The template context for `cfg`. `environ` and `host_root` are seams for tests."""
    cluster = cfg.cluster
    local = cluster.etcd.local
    external = cluster.etcd.external
    cert_dir = cluster.certificates_dir
    timeout = cfg.init.timeouts.control_plane_component_health_check.total_seconds()

    def dumped(items: list[Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in to_data(item).items() if v is not None} for item in items]

    components = {
        constants.KUBE_APISERVER: cluster.api_server,
        constants.KUBE_CONTROLLER_MANAGER: cluster.controller_manager,
        constants.KUBE_SCHEDULER: cluster.scheduler,
    }
    extra_args = {name: dumped(spec.extra_args) for name, spec in components.items()}
    extra_args[constants.ETCD] = dumped(local.extra_args) if local else []
    extra_envs = {name: dumped(spec.extra_envs) for name, spec in components.items()}
    extra_envs[constants.ETCD] = dumped(local.extra_envs) if local else []
    extra_volumes = {name: dumped(spec.extra_volumes) for name, spec in components.items()}
    extra_volumes[constants.ETCD] = []

    ca_key = Path(cert_dir) / "ca.key"
    ca_crt = Path(cert_dir) / "ca.crt"
    c: dict[str, Any] = {
        "node_name": cfg.node_name,
        "advertise_address": cfg.advertise_address,
        "bind_port": cfg.bind_port,
        "ipv6": cfg.ipv6,
        "loopback": cfg.loopback,
        "cert_dir": cert_dir,
        "kubernetes_dir": str(cfg.kubernetes_dir),
        "etcd_initial_cluster": ",".join(f"{n}={u}" for n, u in cfg.etcd_initial_cluster or ()),
        "etcd_data_dir": local.data_dir if local else str(constants.ETCD_DATA_DIR),  # as written, like kubeadm
        "images": {name: cfg.image(name) for name in constants.ALL_COMPONENTS},
        "service_subnet": cluster.networking.service_subnet,
        "pod_subnet": cluster.networking.pod_subnet,
        "dns_domain": cluster.networking.dns_domain,
        "cluster_name": cluster.cluster_name,
        "local_etcd": local is not None,
        "external_etcd": to_data(external) if external else None,
        "extra_args": extra_args,
        "extra_envs": extra_envs,
        "extra_volumes": extra_volumes,
        "proxy_env": proxy_env(os.environ if environ is None else environ),
        "host_ca_dirs": [d for d in helpers.HOST_CA_DIRS if (host_root / d.lstrip("/")).exists()],
        # kubeadm's UsingExternalCA: a CA certificate without its key disables the CSR signer.
        "external_ca": _exists(host_root, ca_crt) and not _exists(host_root, ca_key),
        "startup_failure_threshold": math.ceil(timeout / PROBE_PERIOD_SECONDS),
        "ports": {
            "etcd_client": constants.ETCD_CLIENT_PORT,
            "etcd_peer": constants.ETCD_PEER_PORT,
            "etcd_metrics": constants.ETCD_METRICS_PORT,
            "kube_controller_manager": constants.KUBE_CONTROLLER_MANAGER_PORT,
            "kube_scheduler": constants.KUBE_SCHEDULER_PORT,
        },
        "kubeconfigs": {
            constants.KUBE_CONTROLLER_MANAGER: str(cfg.kubeconfig(constants.CONTROLLER_MANAGER_KUBECONFIG)),
            constants.KUBE_SCHEDULER: str(cfg.kubeconfig(constants.SCHEDULER_KUBECONFIG)),
        },
    }
    etcd_tag = cfg.image(constants.ETCD).rsplit(":", 1)[-1]
    v = asdict(facts(cfg.version, etcd_tag))
    return {"c": c, "v": v}


def _exists(root: Path, path: Path) -> bool:
    return (root / str(path).lstrip("/")).exists()
