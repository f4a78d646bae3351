"""kubeadm's `kubeadm.k8s.io/v1beta4` InitConfiguration and ClusterConfiguration, as pydantic models.

The field names, nesting and static defaults follow kubeadm's v1beta4 types so an operator's existing kubeadm file
loads unchanged. Defaults that depend on the machine (advertise address, node name) or on the version table are
filled later, by bootstrap.config.defaults, so an empty value here still means "not set".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from bootstrap import constants
from bootstrap.config.kinds import CLUSTER_KIND, INIT_KIND, KUBEADM_API_VERSION
from bootstrap.config.types import (
    SAN,
    Arg,
    CIDRs,
    DNSName,
    Document,
    Duration,
    Endpoint,
    EnvVar,
    HostPathMount,
    Port,
    Text,
    check_cidrs,
    check_ip,
)

EncryptionAlgorithm = Literal["RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"]


def _ip_or_empty(value: str) -> str:
    return check_ip(value) if value else value


def _cidrs_or_empty(value: str) -> str:
    return check_cidrs(value) if value else value


# --- InitConfiguration -----------------------------------------------------------------------------------------
class BootstrapToken(Document):
    token: Annotated[str, Field(pattern=r"^[a-z0-9]{6}\.[a-z0-9]{16}$")] | None = None
    description: str | None = None
    ttl: Duration | None = None
    expires: str | None = None
    usages: list[str] | None = None
    groups: list[str] | None = None


class Taint(Document):
    key: Text
    value: Text | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
    time_added: str | None = None


class NodeRegistration(Document):
    name: str = ""  # default: the lower-cased hostname (bootstrap.config.defaults)
    cri_socket: str | None = None
    taints: list[Taint] | None = None  # None -> the control-plane NoSchedule taint; [] -> no taint
    kubelet_extra_args: list[Arg] = Field(default_factory=list)
    ignore_preflight_errors: list[str] = Field(default_factory=list)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_serial: bool = True


class APIEndpoint(Document):
    advertise_address: Annotated[str, AfterValidator(_ip_or_empty)] = ""  # default: the default-route IP
    bind_port: Port = constants.APISERVER_PORT


class Patches(Document):
    directory: str | None = None


class Timeouts(Document):
    control_plane_component_health_check: Duration = timedelta(minutes=4)
    kubelet_health_check: Duration = timedelta(minutes=4)
    kubernetes_api_call: Duration = Field(default=timedelta(minutes=1), alias="kubernetesAPICall")
    etcd_api_call: Duration = Field(default=timedelta(minutes=2), alias="etcdAPICall")
    tls_bootstrap: Duration = timedelta(minutes=5)
    discovery: Duration = timedelta(minutes=5)
    upgrade_manifests: Duration = timedelta(minutes=5)


class InitConfiguration(Document):
    api_version: Literal["kubeadm.k8s.io/v1beta4"] = KUBEADM_API_VERSION
    kind: Literal["InitConfiguration"] = INIT_KIND
    bootstrap_tokens: list[BootstrapToken] | None = None
    dry_run: bool = False
    node_registration: NodeRegistration = Field(default_factory=NodeRegistration)
    local_api_endpoint: APIEndpoint = Field(default_factory=APIEndpoint, alias="localAPIEndpoint")
    certificate_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    skip_phases: list[str] = Field(default_factory=list)
    patches: Patches | None = None
    timeouts: Timeouts = Field(default_factory=Timeouts)


# --- ClusterConfiguration --------------------------------------------------------------------------------------
class ControlPlaneComponent(Document):
    extra_args: list[Arg] = Field(default_factory=list)
    extra_volumes: list[HostPathMount] = Field(default_factory=list)
    extra_envs: list[EnvVar] = Field(default_factory=list)


class APIServer(ControlPlaneComponent):
    cert_sans: list[SAN] = Field(default_factory=list, alias="certSANs")


class LocalEtcd(Document):
    image_repository: Text = ""
    image_tag: Text = ""
    data_dir: Annotated[Text, Field(min_length=1)] = str(constants.ETCD_DATA_DIR)
    extra_args: list[Arg] = Field(default_factory=list)
    extra_envs: list[EnvVar] = Field(default_factory=list)
    server_cert_sans: list[SAN] = Field(default_factory=list, alias="serverCertSANs")
    peer_cert_sans: list[SAN] = Field(default_factory=list, alias="peerCertSANs")


class ExternalEtcd(Document):
    endpoints: Annotated[list[Text], Field(min_length=1)]
    ca_file: Text = ""
    cert_file: Text = ""
    key_file: Text = ""
    http_endpoints: list[Text] = Field(default_factory=list)


class Etcd(Document):
    local: LocalEtcd | None = None
    external: ExternalEtcd | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Etcd:
        if self.local is not None and self.external is not None:
            raise ValueError("etcd.local and etcd.external are mutually exclusive: set one of them")
        return self


class Networking(Document):
    service_subnet: CIDRs = constants.DEFAULT_SERVICE_SUBNET
    pod_subnet: Annotated[str, AfterValidator(_cidrs_or_empty)] = ""
    dns_domain: DNSName = constants.DEFAULT_DNS_DOMAIN


class DNS(Document):
    image_repository: Text = ""
    image_tag: Text = ""
    disabled: bool = False


class Proxy(Document):
    disabled: bool = False


class ClusterConfiguration(Document):
    api_version: Literal["kubeadm.k8s.io/v1beta4"] = KUBEADM_API_VERSION
    kind: Literal["ClusterConfiguration"] = CLUSTER_KIND
    etcd: Etcd = Field(default_factory=Etcd)
    networking: Networking = Field(default_factory=Networking)
    kubernetes_version: str = ""  # default: the version table's default (bootstrap.versions)
    control_plane_endpoint: Endpoint = ""
    api_server: APIServer = Field(default_factory=APIServer)
    controller_manager: ControlPlaneComponent = Field(default_factory=ControlPlaneComponent)
    scheduler: ControlPlaneComponent = Field(default_factory=ControlPlaneComponent)
    dns: DNS = Field(default_factory=DNS)
    proxy: Proxy = Field(default_factory=Proxy)
    certificates_dir: Annotated[Text, Field(min_length=1)] = str(constants.CERTIFICATES_DIR)
    image_repository: Annotated[Text, Field(min_length=1)] = constants.DEFAULT_IMAGE_REPOSITORY
    feature_gates: dict[str, bool] = Field(default_factory=dict)
    cluster_name: Annotated[Text, Field(min_length=1)] = constants.DEFAULT_CLUSTER_NAME
    encryption_algorithm: EncryptionAlgorithm = "RSA-2048"
    certificate_validity_period: Duration = timedelta(hours=8760)
    ca_certificate_validity_period: Duration = timedelta(hours=87600)
