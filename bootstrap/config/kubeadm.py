"""kubeadm's `kubeadm.k8s.io/v1beta4` InitConfiguration and ClusterConfiguration, as msgspec Structs.

The field names, nesting and static defaults follow kubeadm's v1beta4 types so an operator's existing kubeadm file
loads unchanged. Defaults that depend on the machine (advertise address, node name) or on the version table are
filled later, by bootstrap.config.defaults, so an empty value here still means "not set".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import msgspec
from msgspec import field

from bootstrap import constants
from bootstrap.config.kinds import CLUSTER_KIND, INIT_KIND, KUBEADM_API_VERSION
from bootstrap.config.types import (
    SAN,
    Arg,
    Document,
    Duration,
    Endpoint,
    EnvVar,
    HostPathMount,
    ImageRepository,
    OptionalCIDRs,
    OptionalDNSName,
    OptionalIPAddress,
    Port,
    Text,
)

EncryptionAlgorithm = Literal["RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"]


# --- InitConfiguration -----------------------------------------------------------------------------------------
class BootstrapToken(Document):
    token: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]{6}\.[a-z0-9]{16}$")] | None = None
    description: str | None = None
    ttl: Duration | None = None
    expires: str | None = None
    usages: list[str] | None = None
    groups: list[str] | None = None


class Taint(Document, kw_only=True):  # kw_only again: mypy does not inherit it, `effect` follows a default
    key: Text
    value: Text | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
    time_added: str | None = None


class NodeRegistration(Document):
    name: str = ""  # default: the lower-cased hostname (bootstrap.config.defaults)
    cri_socket: str | None = None
    taints: list[Taint] | None = None  # None -> the control-plane NoSchedule taint; [] -> no taint
    kubelet_extra_args: list[Arg] = field(default_factory=list)
    ignore_preflight_errors: list[str] = field(default_factory=list)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_serial: bool = True


class APIEndpoint(Document):
    advertise_address: OptionalIPAddress = ""  # default: the default-route IP
    bind_port: Port = constants.APISERVER_PORT


class Patches(Document):
    directory: str | None = None


class Timeouts(Document):
    control_plane_component_health_check: Duration = timedelta(minutes=4)
    kubelet_health_check: Duration = timedelta(minutes=4)
    kubernetes_api_call: Duration = field(default=timedelta(minutes=1), name="kubernetesAPICall")
    etcd_api_call: Duration = field(default=timedelta(minutes=2), name="etcdAPICall")
    tls_bootstrap: Duration = timedelta(minutes=5)
    discovery: Duration = timedelta(minutes=5)
    upgrade_manifests: Duration = timedelta(minutes=5)


class InitConfiguration(Document):
    api_version: Literal["kubeadm.k8s.io/v1beta4"] = KUBEADM_API_VERSION
    kind: Literal["InitConfiguration"] = INIT_KIND
    bootstrap_tokens: list[BootstrapToken] | None = None
    dry_run: bool = False
    node_registration: NodeRegistration = field(default_factory=NodeRegistration)
    local_api_endpoint: APIEndpoint = field(default_factory=APIEndpoint, name="localAPIEndpoint")
    certificate_key: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")] | None = None
    skip_phases: list[str] = field(default_factory=list)
    patches: Patches | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)


# --- ClusterConfiguration --------------------------------------------------------------------------------------
class ControlPlaneComponent(Document):
    extra_args: list[Arg] = field(default_factory=list)
    extra_volumes: list[HostPathMount] = field(default_factory=list)
    extra_envs: list[EnvVar] = field(default_factory=list)


class APIServer(ControlPlaneComponent):
    cert_sans: list[SAN] = field(default_factory=list, name="certSANs")


class LocalEtcd(Document):
    image_repository: ImageRepository = ""
    image_tag: Text = ""
    data_dir: Text = str(constants.ETCD_DATA_DIR)  # "" -> the default, as kubeadm
    extra_args: list[Arg] = field(default_factory=list)
    extra_envs: list[EnvVar] = field(default_factory=list)
    server_cert_sans: list[SAN] = field(default_factory=list, name="serverCertSANs")
    peer_cert_sans: list[SAN] = field(default_factory=list, name="peerCertSANs")


class ExternalEtcd(Document):
    endpoints: Annotated[list[Text], msgspec.Meta(min_length=1)]
    ca_file: Text = ""
    cert_file: Text = ""
    key_file: Text = ""
    http_endpoints: list[Text] = field(default_factory=list)


class Etcd(Document):
    local: LocalEtcd | None = None
    external: ExternalEtcd | None = None

    def __post_init__(self) -> None:
        if self.local is not None and self.external is not None:
            raise ValueError("etcd.local and etcd.external are mutually exclusive: set one of them")


class Networking(Document):
    service_subnet: OptionalCIDRs = constants.DEFAULT_SERVICE_SUBNET  # "" -> the default, as kubeadm
    pod_subnet: OptionalCIDRs = ""
    dns_domain: OptionalDNSName = constants.DEFAULT_DNS_DOMAIN  # "" -> the default, as kubeadm


class DNS(Document):
    image_repository: ImageRepository = ""
    image_tag: Text = ""
    disabled: bool = False


class Proxy(Document):
    disabled: bool = False


class ClusterConfiguration(Document):
    api_version: Literal["kubeadm.k8s.io/v1beta4"] = KUBEADM_API_VERSION
    kind: Literal["ClusterConfiguration"] = CLUSTER_KIND
    etcd: Etcd = field(default_factory=Etcd)
    networking: Networking = field(default_factory=Networking)
    kubernetes_version: str = ""  # default: the version table's default (bootstrap.versions)
    control_plane_endpoint: Endpoint = ""
    api_server: APIServer = field(default_factory=APIServer)
    controller_manager: ControlPlaneComponent = field(default_factory=ControlPlaneComponent)
    scheduler: ControlPlaneComponent = field(default_factory=ControlPlaneComponent)
    dns: DNS = field(default_factory=DNS)
    proxy: Proxy = field(default_factory=Proxy)
    certificates_dir: Text = str(constants.CERTIFICATES_DIR)  # "" -> the default, as kubeadm (also below)
    image_repository: ImageRepository = constants.DEFAULT_IMAGE_REPOSITORY
    feature_gates: dict[str, bool] = field(default_factory=dict)
    cluster_name: Text = constants.DEFAULT_CLUSTER_NAME
    encryption_algorithm: EncryptionAlgorithm = "RSA-2048"
    certificate_validity_period: Duration = timedelta(hours=8760)
    ca_certificate_validity_period: Duration = timedelta(hours=87600)
