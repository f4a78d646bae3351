"""Defaults that depend on the machine or the version table, and checks that span documents.

The static defaults are in the models. What is left: the advertise address (default-route interface), the node
name (lower-cased hostname), the Kubernetes version (the version table's default, `1.37.2` normalised to
`v1.37.2`, refused outside the supported minors), local etcd when no etcd is configured, the control-plane taint,
and the staticPodPath under kubernetesDir.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from bootstrap import constants, versions
from bootstrap.config import host
from bootstrap.config.effective import KbsConfig
from bootstrap.config.kbs import KbsConfiguration
from bootstrap.config.kinds import CLUSTER_KIND, INIT_KIND, KBS_KIND
from bootstrap.config.kubeadm import ClusterConfiguration, InitConfiguration, LocalEtcd, Taint
from bootstrap.config.types import check_dns_subdomain
from bootstrap.errors import ConfigError

_BARE_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def complete(
    *,
    init: InitConfiguration,
    cluster: ClusterConfiguration,
    kbs: KbsConfiguration,
    source: Path | None,
    notes: list[str],
    flags: Mapping[str, str],
    where: Mapping[str, str],
) -> KbsConfig:
    notes = list(notes)
    fill_empty(cluster)

    def origin(kind: str, path: str) -> str:
        return flags.get(path) or f"{where.get(kind, kind)}: {path}"

    # version
    wanted = cluster.kubernetes_version or versions.default().version
    if _BARE_VERSION.match(wanted):
        wanted = "v" + wanted
    try:
        row = versions.lookup(wanted)
    except ConfigError as exc:
        names = ", ".join(v.version for v in versions.supported())
        detail = exc.message if "supported" not in exc.message else f"Kubernetes {wanted} is not supported"
        raise ConfigError(
            f"{origin(CLUSTER_KIND, 'kubernetesVersion')}: {detail}; supported: {names}",
            hint="set kubernetesVersion or --kubernetes-version to a supported version",
        ) from None
    cluster.kubernetes_version = row.version

    # advertise address: unset or unspecified (0.0.0.0, ::) means "this node's default-route address"
    endpoint = init.local_api_endpoint
    if not endpoint.advertise_address or ipaddress.ip_address(endpoint.advertise_address).is_unspecified:
        address, note = host.default_route_address()
        endpoint.advertise_address = address
        if note:
            notes.append(note)
    if ipaddress.ip_address(endpoint.advertise_address).is_loopback:
        # kube-apiserver's endpoint reconciler refuses a loopback address at start-up: fail here, not in a crash loop.
        raise ConfigError(
            f"{origin(INIT_KIND, 'localAPIEndpoint.advertiseAddress')}: {endpoint.advertise_address} is a loopback "
            "address; kube-apiserver refuses to advertise it",
            hint="set localAPIEndpoint.advertiseAddress or --advertise-address to an address of this node that other "
            "nodes can reach",
        )

    # kube-apiserver: "service IP family ... must match public address family ..." (it exits at start-up)
    advertised = ipaddress.ip_address(endpoint.advertise_address)
    primary = ipaddress.ip_network(cluster.networking.service_subnet.split(",")[0].strip())
    if primary.version != advertised.version:
        raise ConfigError(
            f"{origin(CLUSTER_KIND, 'networking.serviceSubnet')}: the first service subnet {primary} is "
            f"IPv{primary.version} but the advertise address {advertised} is IPv{advertised.version}; kube-apiserver "
            "refuses to start when their families differ",
            hint=f"list an IPv{advertised.version} service subnet first (dual stack: 'v4-cidr,v6-cidr' or the other "
            "way round), or advertise an address of the subnet's family",
        )

    # a pod network kbs installs needs a range to hand out (flannel: IPv4)
    if kbs.pod_network != "none":
        subnets = [ipaddress.ip_network(c.strip()) for c in cluster.networking.pod_subnet.split(",") if c.strip()]
        if not any(n.version == 4 for n in subnets):
            raise ConfigError(
                f"{origin(KBS_KIND, 'podNetwork')}: {kbs.pod_network} needs an IPv4 networking.podSubnet, "
                f"got {cluster.networking.pod_subnet or 'none'}",
                hint="pass --pod-network-cidr 10.244.0.0/16 (flannel's default) or set networking.podSubnet",
            )

    registration = init.node_registration
    normalize_names(init, cluster, origin)
    if registration.taints is None:
        registration.taints = [Taint(key=constants.CONTROL_PLANE_LABEL, effect="NoSchedule")]

    if cluster.etcd.local is None and cluster.etcd.external is None:
        cluster.etcd.local = LocalEtcd()
    if kbs.static_pod_path is None and kbs.reconciler.mode != "kubelet":  # kubelet: the installed kubelet's, found
        kbs.static_pod_path = kbs.kubernetes_dir / "manifests"  # at init (bootstrap.phases.kubelet)

    return KbsConfig(init=init, cluster=cluster, kbs=kbs, version=row, source=source, notes=tuple(notes))


def normalize_names(init: InitConfiguration, cluster: ClusterConfiguration, origin: Callable[[str, str], str]) -> None:
    """The node name and SANs as kubeadm v1.37.2 takes them: defaulted, trimmed, lower-cased where it does."""
    registration = init.node_registration
    if not registration.name:
        name = host.hostname()
        try:
            check_dns_subdomain(name)
        except ValueError as exc:
            raise ConfigError(
                f"the hostname is not usable as a node name: {exc}",
                hint="set nodeRegistration.name or --node-name",
            ) from None
        registration.name = name
    else:
        # kubeadm (GetHostname) trims the name and lower-cases it before validating it: `MyNode ` is `mynode`
        name = registration.name.strip().lower()
        try:
            if not name:
                raise ValueError("an empty (all-blank) name is invalid")
            check_dns_subdomain(name)
        except ValueError as exc:
            raise ConfigError(f"{origin(INIT_KIND, 'nodeRegistration.name')}: {exc}") from None
        registration.name = name
    # kubeadm (SetClusterDynamicDefaults) lower-cases apiServer.certSANs, so `Foo.Example.com` is `foo.example.com`
    cluster.api_server.cert_sans = [san.lower() for san in cluster.api_server.cert_sans]
    if cluster.etcd.local is not None:  # ... but not the etcd SANs: it refuses an upper-case name there
        for key, sans in (
            ("serverCertSANs", cluster.etcd.local.server_cert_sans),
            ("peerCertSANs", cluster.etcd.local.peer_cert_sans),
        ):
            for san in sans:
                if san != san.lower():
                    raise ConfigError(
                        f"{origin(CLUSTER_KIND, f'etcd.local.{key}')}: {san!r} is not a valid DNS name "
                        "(lower-case letters, digits, '-' and '.')",
                        hint=f"write it as {san.lower()!r}",
                    )


def fill_empty(cluster: ClusterConfiguration) -> None:
    """kubeadm (SetDefaults_ClusterConfiguration) treats an empty string like a missing field."""
    cluster.image_repository = cluster.image_repository or constants.DEFAULT_IMAGE_REPOSITORY
    cluster.certificates_dir = cluster.certificates_dir or str(constants.CERTIFICATES_DIR)
    cluster.cluster_name = cluster.cluster_name or constants.DEFAULT_CLUSTER_NAME
    cluster.networking.service_subnet = cluster.networking.service_subnet or constants.DEFAULT_SERVICE_SUBNET
    cluster.networking.dns_domain = cluster.networking.dns_domain or constants.DEFAULT_DNS_DOMAIN
    if cluster.etcd.local is not None:
        cluster.etcd.local.data_dir = cluster.etcd.local.data_dir or str(constants.ETCD_DATA_DIR)
