"""The configuration model: kubeadm's v1beta4 InitConfiguration/ClusterConfiguration plus kbs's KbsConfiguration.

    load_config(path, overrides) -> KbsConfig     read, merge flags, validate, fill every default
    pki_context(cfg) -> pki.PKIContext            what the PKI layer needs from the configuration
    Overrides                                     command-line values that win over the file

Modules: types (durations, IPs, CIDRs, flags), kubeadm and kbs (the document models), yamlio (strict YAML),
errors (msgspec -> ConfigError), overrides (flag table), host (default-route address, hostname), defaults,
effective (KbsConfig and its accessors), loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bootstrap.config.overrides import Overrides

if TYPE_CHECKING:
    from pathlib import Path

    from bootstrap.config.effective import KbsConfig
    from pki.context import PKIContext

__all__ = ["KbsConfig", "Overrides", "load_config", "pki_context"]


def __getattr__(name: str) -> Any:
    # KbsConfig pulls in the documents; import it on first use so `import bootstrap.config` stays cheap for the CLI.
    if name == "KbsConfig":
        from bootstrap.config.effective import KbsConfig

        return KbsConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_config(path: Path | None = None, overrides: Overrides | None = None) -> KbsConfig:
    """The effective configuration from the file at `path` (optional) and the command-line `overrides`.

    Raises ConfigError (one line: file and kind or flag, field path, what is wrong) on any bad input.
    """
    from bootstrap.config.loader import load_config as _load

    cfg: KbsConfig = _load(path, overrides)
    return cfg


def pki_context(cfg: KbsConfig) -> PKIContext:
    """The PKI's view of the configuration (certificate SANs, paths, algorithms, validity)."""
    from pki.context import PKIContext

    local = cfg.cluster.etcd.local
    return PKIContext(
        node_name=cfg.node_name,
        advertise_address=cfg.advertise_address,
        bind_port=cfg.bind_port,
        control_plane_endpoint=cfg.control_plane_endpoint,
        service_subnet=cfg.cluster.networking.service_subnet,
        dns_domain=cfg.cluster.networking.dns_domain,
        cluster_name=cfg.cluster.cluster_name,
        cert_dir=cfg.cert_dir,
        kubernetes_dir=cfg.kubernetes_dir,
        apiserver_cert_sans=tuple(cfg.cluster.api_server.cert_sans),
        etcd_server_cert_sans=tuple(local.server_cert_sans) if local else (),
        etcd_peer_cert_sans=tuple(local.peer_cert_sans) if local else (),
        local_etcd=cfg.local_etcd,
        encryption_algorithm=cfg.cluster.encryption_algorithm,
        cert_validity=cfg.cluster.certificate_validity_period,
        ca_validity=cfg.cluster.ca_certificate_validity_period,
    )
