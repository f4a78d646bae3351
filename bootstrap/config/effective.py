"""KbsConfig: the effective configuration (every default filled in) and typed accessors the other layers use.

Phases, the PKI and the renderer ask KbsConfig for facts (`cfg.cert_dir`, `cfg.image("etcd")`) instead of walking
the kubeadm documents themselves, so a default or a path is computed in exactly one place.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap import constants
from bootstrap.config.kbs import KbsConfiguration
from bootstrap.config.kubeadm import ClusterConfiguration, ExternalEtcd, InitConfiguration, LocalEtcd, Taint
from bootstrap.config.types import split_host_port, to_data
from bootstrap.versions import KubernetesVersion

REDACTED = "<redacted>"
KEEP_EMPTY = frozenset({"taints"})  # an empty list here means something (no taint), unlike an absent one


@dataclass(frozen=True)
class KbsConfig:
    init: InitConfiguration
    cluster: ClusterConfiguration
    kbs: KbsConfiguration
    version: KubernetesVersion  # the row of bootstrap.versions for cluster.kubernetes_version
    source: Path | None = None  # the --config file, if any
    notes: tuple[str, ...] = field(default=())  # things the operator should know (ignored documents, fallbacks)
    # the KubeProxyConfiguration document of --config, as given (bootstrap.config.kubeproxy builds the effective one)
    kube_proxy: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    # a joining etcd member: (name, peer URL) of every member, itself included (`kbs join --control-plane`);
    # None: a new one-member cluster, as `kbs init` makes
    etcd_initial_cluster: tuple[tuple[str, str], ...] | None = None
    # the KbsConfiguration fields the file or the flags set, dotted ("reconciler.mode"); the others are defaults
    kbs_given: frozenset[str] = frozenset()

    # --- node identity and endpoints ----------------------------------------------------------------------------
    @property
    def node_name(self) -> str:
        return self.init.node_registration.name

    @property
    def advertise_address(self) -> str:
        return self.init.local_api_endpoint.advertise_address

    @property
    def bind_port(self) -> int:
        return self.init.local_api_endpoint.bind_port

    @property
    def ipv6(self) -> bool:
        """True when the advertise address is IPv6 (loopback URLs and probe hosts follow it, like kubeadm)."""
        return ipaddress.ip_address(self.advertise_address).version == 6

    @property
    def loopback(self) -> str:
        return "::1" if self.ipv6 else "127.0.0.1"

    @property
    def control_plane_endpoint(self) -> str | None:
        return self.cluster.control_plane_endpoint or None

    @property
    def api_server_url(self) -> str:
        """The URL kubeconfig files and clients use: controlPlaneEndpoint (default port P) else A:P."""
        if self.control_plane_endpoint:
            host, port = split_host_port(self.control_plane_endpoint)
            return f"https://{host_port(host, port or self.bind_port)}"
        return f"https://{host_port(self.advertise_address, self.bind_port)}"

    @property
    def taints(self) -> list[Taint]:
        taints = self.init.node_registration.taints
        if taints is None:
            return [Taint(key=constants.CONTROL_PLANE_LABEL, effect="NoSchedule")]
        return taints

    # --- versions and images --------------------------------------------------------------------------------
    @property
    def kubernetes_version(self) -> str:
        return self.version.version

    def image(self, component: str) -> str:
        """The image reference kubeadm would use for `component` (etcd, kube-*, pause, coredns)."""
        repo = self.cluster.image_repository
        if component == constants.ETCD:
            local = self.cluster.etcd.local or LocalEtcd()
            return f"{local.image_repository or repo}/etcd:{local.image_tag or self.version.etcd_tag}"
        if component == "pause":
            return f"{repo}/pause:{self.version.pause_tag}"
        if component == "coredns":
            dns = self.cluster.dns
            dns_repo = dns.image_repository or repo
            path = "coredns/coredns" if dns_repo == constants.DEFAULT_IMAGE_REPOSITORY else "coredns"
            return f"{dns_repo}/{path}:{dns.image_tag or self.version.coredns_tag}"
        return f"{repo}/{component}:{self.kubernetes_version.replace('+', '_')}"

    def images(self) -> dict[str, str]:
        """Every image of the cluster by short name, in `kubeadm config images list` order: the control-plane
        components, kube-proxy and CoreDNS unless disabled, pause, etcd with local etcd."""
        names = list(constants.CONTROL_PLANE_COMPONENTS)
        if not self.cluster.proxy.disabled:
            names.append(constants.KUBE_PROXY)
        if not self.cluster.dns.disabled:
            names.append(constants.COREDNS)
        names.append("pause")
        if self.local_etcd:
            names.append(constants.ETCD)
        return {name: self.image(name) for name in names}

    # --- paths ------------------------------------------------------------------------------------------------
    @property
    def cert_dir(self) -> Path:
        return Path(self.cluster.certificates_dir)

    @property
    def kubernetes_dir(self) -> Path:
        return self.kbs.kubernetes_dir

    @property
    def manifests_dir(self) -> Path:
        """The staticPodPath: where the control-plane manifests are written and watched."""
        return self.kbs.static_pod_path or self.kbs.kubernetes_dir / "manifests"

    @property
    def etcd_data_dir(self) -> Path:
        return Path((self.cluster.etcd.local or LocalEtcd()).data_dir)

    @property
    def etcd_snapshot_dir(self) -> Path:
        return self.kbs.etcd_snapshots.dir or self.kbs.reconciler.state_dir / constants.ETCD_SNAPSHOT_DIR_NAME

    def kubeconfig(self, name: str) -> Path:
        """`name` is one of the constants.*_KUBECONFIG file names."""
        return self.kubernetes_dir / name

    # --- etcd ---------------------------------------------------------------------------------------------------
    @property
    def local_etcd(self) -> bool:
        return self.cluster.etcd.external is None

    @property
    def external_etcd(self) -> ExternalEtcd | None:
        return self.cluster.etcd.external

    # --- output -----------------------------------------------------------------------------------------------
    def documents(self, *, redact: bool = True) -> list[dict[str, Any]]:
        """The three documents as plain data (camelCase, None left out), secrets redacted unless asked."""
        init = _prune(to_data(self.init))
        if redact:
            for token in init.get("bootstrapTokens", []):
                if "token" in token:
                    token["token"] = REDACTED
            if "certificateKey" in init:
                init["certificateKey"] = REDACTED
        cluster, kbs = _prune(to_data(self.cluster)), _prune(to_data(self.kbs))
        kbs["staticPodPath"] = str(self.manifests_dir)
        return [init, cluster, kbs]


def _prune(doc: dict[str, Any]) -> dict[str, Any]:
    """Leave out unset (None) fields and empty strings, lists and maps, like kubeadm's `omitempty` output."""
    out: dict[str, Any] = {}
    for key, raw in doc.items():
        value = raw
        if isinstance(raw, dict):
            value = _prune(raw)
        elif isinstance(raw, list):
            value = [_prune(v) if isinstance(v, dict) else v for v in raw]
        if value is None or (value in ("", [], {}) and key not in KEEP_EMPTY):
            continue
        out[key] = value
    return out


def host_port(host: str, port: int) -> str:
    """`host:port`, with brackets around an IPv6 literal."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
