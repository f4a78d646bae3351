"""PKIContext: everything the PKI needs to know about the cluster, and nothing else.

The config layer builds it (bootstrap.config.pki_context); the PKI never reads configuration files itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bootstrap import constants


@dataclass(frozen=True)
class PKIContext:
    node_name: str
    advertise_address: str  # IPv4 or IPv6 literal
    bind_port: int = constants.APISERVER_PORT
    control_plane_endpoint: str | None = None  # "host", "host:port", "[v6]:port"
    service_subnet: str = constants.DEFAULT_SERVICE_SUBNET  # may be "v4cidr,v6cidr"
    dns_domain: str = constants.DEFAULT_DNS_DOMAIN
    cluster_name: str = constants.DEFAULT_CLUSTER_NAME
    cert_dir: Path = constants.CERTIFICATES_DIR
    kubernetes_dir: Path = constants.KUBERNETES_DIR
    apiserver_cert_sans: tuple[str, ...] = ()
    etcd_server_cert_sans: tuple[str, ...] = ()
    etcd_peer_cert_sans: tuple[str, ...] = ()
    local_etcd: bool = True  # False with external etcd: no etcd/* certificates are made
    encryption_algorithm: str = "RSA-2048"  # kubeadm's names: RSA-2048, RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384
    cert_validity: timedelta = field(default=timedelta(days=365))
    ca_validity: timedelta = field(default=timedelta(days=3650))
