"""The certificate set as data: one row per certificate or kubeconfig, like kubeadm's certlist.go.

Each row says what kubeadm says about a file: its name (as in `kubeadm init phase certs <name>` and
`kubeadm certs renew <name>`), its file base, parent CA, subject, extended key usages and SAN rule. The code that
issues, checks, renews and lists certificates walks these rows; no certificate has code of its own.
`facts(ctx)` validates a PKIContext once and computes what the SAN rules and server URLs need from it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from bootstrap import constants
from bootstrap.errors import ConfigError, PKIError
from pki.altnames import (
    AltNames,
    first_service_ip,
    is_dns_name,
    parse_ip,
    parse_san,
    parse_sans,
    split_host_port,
)
from pki.context import PKIContext
from pki.keys import KeyAlgorithm, parse_algorithm

SERVER = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH
APISERVER, ETCD = constants.KUBE_APISERVER, constants.ETCD
KCM, SCHEDULER = constants.KUBE_CONTROLLER_MANAGER, constants.KUBE_SCHEDULER
NODE = "{node}"  # placeholder in a CN for the node name


class SANRule(enum.Enum):
    NONE = "none"
    CA = "ca"  # DNS = [CN], what Go's NewSelfSignedCACert does
    APISERVER = "apiserver"
    ETCD_SERVER = "etcd-server"
    ETCD_PEER = "etcd-peer"


class Endpoint(enum.Enum):
    CONTROL_PLANE = "control-plane"  # controlPlaneEndpoint if set, else the local API endpoint
    LOCAL = "local"  # always https://<advertiseAddress>:<bindPort>


@dataclass(frozen=True)
class CertSpec:
    name: str  # kubeadm's name: `init phase certs <name>`, `certs renew <name>`, check-expiration rows
    base: str  # file base under the certificates dir: <base>.crt, <base>.key
    cn: str
    ca: str | None = None  # parent CA name; None for a self-signed CA
    orgs: tuple[str, ...] = ()
    usages: tuple[ObjectIdentifier, ...] = ()
    sans: SANRule = SANRule.NONE
    etcd: bool = False  # only made with local etcd
    restarts: tuple[str, ...] = ()  # static pods that load it at start-up

    @property
    def is_ca(self) -> bool:
        return self.ca is None

    def common_name(self, node_name: str) -> str:
        return self.cn.replace(NODE, node_name)

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.name]

    def cert_path(self, cert_dir: Path) -> Path:
        return cert_dir / f"{self.base}.crt"

    def key_path(self, cert_dir: Path) -> Path:
        return cert_dir / f"{self.base}.key"


@dataclass(frozen=True)
class KubeconfigSpec:
    name: str  # the file name under the Kubernetes dir, also its name for renew and check-expiration
    cn: str  # the user and the client certificate's CN
    orgs: tuple[str, ...] = ()
    endpoint: Endpoint = Endpoint.CONTROL_PLANE
    renewable: bool = True  # kubelet.conf is not: the kubelet rotates its own client certificate
    restarts: tuple[str, ...] = ()
    ca: str = "ca"

    def common_name(self, node_name: str) -> str:
        return self.cn.replace(NODE, node_name)

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.name]

    def path(self, kubernetes_dir: Path) -> Path:
        return kubernetes_dir / self.name


# In the order `kubeadm init phase certs all` makes them. Columns: name, file base, CN, parent CA, O, EKU, SAN rule.
CERTS: tuple[CertSpec, ...] = (
    CertSpec("ca", "ca", "kubernetes", sans=SANRule.CA),
    CertSpec("apiserver", "apiserver", "kube-apiserver", ca="ca",
             usages=(SERVER,), sans=SANRule.APISERVER, restarts=(APISERVER,)),
    # No O since kubeadm v1.36 (kubernetes PR #138957; v1.35 wrote kubeadm:cluster-admins): the API server's access
    # to the kubelet API comes from the ClusterRoleBinding kubeadm:apiserver-kubelet-client -> system:kubelet-api-admin.
    CertSpec("apiserver-kubelet-client", "apiserver-kubelet-client", constants.APISERVER_KUBELET_CLIENT_CN, ca="ca",
             usages=(CLIENT,), restarts=(APISERVER,)),
    CertSpec("front-proxy-ca", "front-proxy-ca", "front-proxy-ca", sans=SANRule.CA),
    CertSpec("front-proxy-client", "front-proxy-client", "front-proxy-client", ca="front-proxy-ca",
             usages=(CLIENT,), restarts=(APISERVER,)),
    CertSpec("etcd-ca", "etcd/ca", "etcd-ca", sans=SANRule.CA, etcd=True),
    CertSpec("etcd-server", "etcd/server", NODE, ca="etcd-ca",
             usages=(SERVER, CLIENT), sans=SANRule.ETCD_SERVER, etcd=True, restarts=(ETCD,)),
    CertSpec("etcd-peer", "etcd/peer", NODE, ca="etcd-ca",
             usages=(SERVER, CLIENT), sans=SANRule.ETCD_PEER, etcd=True, restarts=(ETCD,)),
    CertSpec("etcd-healthcheck-client", "etcd/healthcheck-client", "kube-etcd-healthcheck-client", ca="etcd-ca",
             usages=(CLIENT,), etcd=True, restarts=(ETCD,)),
    CertSpec("apiserver-etcd-client", "apiserver-etcd-client", "kube-apiserver-etcd-client", ca="etcd-ca",
             usages=(CLIENT,), etcd=True, restarts=(APISERVER,)),
)  # fmt: skip

# kubeadm's wording for each item, used in messages (`kubeadm certs renew` prints "<description> renewed").
_EMBEDDED = "certificate embedded in the kubeconfig file"
DESCRIPTIONS: dict[str, str] = {
    "ca": "self-signed Kubernetes CA to provision identities for other Kubernetes components",
    "apiserver": "certificate for serving the Kubernetes API",
    "apiserver-kubelet-client": "certificate for the API server to connect to kubelet",
    "front-proxy-ca": "self-signed CA to provision identities for front proxy",
    "front-proxy-client": "certificate for the front proxy client",
    "etcd-ca": "self-signed CA to provision identities for etcd",
    "etcd-server": "certificate for serving etcd",
    "etcd-peer": "certificate for etcd nodes to communicate with each other",
    "etcd-healthcheck-client": "certificate for liveness probes to healthcheck etcd",
    "apiserver-etcd-client": "certificate the apiserver uses to access etcd",
    "sa": "service account token signing key pair",
    constants.ADMIN_KUBECONFIG: f"{_EMBEDDED} for the admin to use and for kubeadm itself",
    constants.SUPER_ADMIN_KUBECONFIG: f"{_EMBEDDED} for the super-admin",
    constants.KUBELET_KUBECONFIG: f"{_EMBEDDED} for the kubelet to use",
    constants.CONTROLLER_MANAGER_KUBECONFIG: f"{_EMBEDDED} for the controller manager to use",
    constants.SCHEDULER_KUBECONFIG: f"{_EMBEDDED} for the scheduler manager to use",
}

# In the order `kubeadm init phase kubeconfig all` writes them.
KUBECONFIGS: tuple[KubeconfigSpec, ...] = (
    KubeconfigSpec(constants.ADMIN_KUBECONFIG, "kubernetes-admin", orgs=("kubeadm:cluster-admins",)),
    KubeconfigSpec(constants.SUPER_ADMIN_KUBECONFIG, "kubernetes-super-admin", orgs=("system:masters",)),
    KubeconfigSpec(constants.KUBELET_KUBECONFIG, f"system:node:{NODE}", orgs=("system:nodes",),
                   endpoint=Endpoint.LOCAL, renewable=False),
    KubeconfigSpec(constants.CONTROLLER_MANAGER_KUBECONFIG, "system:kube-controller-manager",
                   endpoint=Endpoint.LOCAL, restarts=(KCM,)),
    KubeconfigSpec(constants.SCHEDULER_KUBECONFIG, "system:kube-scheduler",
                   endpoint=Endpoint.LOCAL, restarts=(SCHEDULER,)),
)  # fmt: skip

SA_NAME = "sa"  # the service-account key pair: sa.key (private) and sa.pub (PKIX public key), no certificate
SA_KEY, SA_PUB = "sa.key", "sa.pub"
SA_RESTARTS = (APISERVER, KCM)

CERTS_BY_NAME = {spec.name: spec for spec in CERTS}
KUBECONFIGS_BY_NAME = {spec.name: spec for spec in KUBECONFIGS}
# also accepted on the command line: the file base ("etcd/server") for a certificate
ALIASES = {spec.base: spec.name for spec in CERTS if spec.base != spec.name}


def canonical_name(name: str) -> str:
    """kubeadm's name for `name` (an alias such as `etcd/server` -> `etcd-server`), or a PKIError listing them."""
    name = ALIASES.get(name, name)
    if name in CERTS_BY_NAME or name in KUBECONFIGS_BY_NAME or name == SA_NAME:
        return name
    raise PKIError(f"unknown certificate {name!r}", hint=f"use one of: {', '.join(all_names())}")


def all_names() -> list[str]:
    return [*(s.name for s in CERTS), SA_NAME, *(k.name for k in KUBECONFIGS)]


def certs_for(ctx: PKIContext) -> tuple[CertSpec, ...]:
    return tuple(s for s in CERTS if ctx.local_etcd or not s.etcd)


# --- facts a PKIContext implies, validated once -------------------------------------------------------------------

F_NODE = "InitConfiguration.nodeRegistration.name"
F_ADDRESS = "InitConfiguration.localAPIEndpoint.advertiseAddress"
F_PORT = "InitConfiguration.localAPIEndpoint.bindPort"
F_CPE = "ClusterConfiguration.controlPlaneEndpoint"
F_SERVICES = "ClusterConfiguration.networking.serviceSubnet"
F_DOMAIN = "ClusterConfiguration.networking.dnsDomain"
F_API_SANS = "ClusterConfiguration.apiServer.certSANs"
F_ETCD_SERVER_SANS = "ClusterConfiguration.etcd.local.serverCertSANs"
F_ETCD_PEER_SANS = "ClusterConfiguration.etcd.local.peerCertSANs"
F_CERT_VALIDITY = "ClusterConfiguration.certificateValidityPeriod"
F_CA_VALIDITY = "ClusterConfiguration.caCertificateValidityPeriod"
LOOPBACKS = (parse_ip("127.0.0.1", ""), parse_ip("::1", ""))


@dataclass(frozen=True)
class Facts:
    """What the table's rules need from a PKIContext, validated."""

    algorithm: KeyAlgorithm
    node_name: str
    sans: dict[SANRule, AltNames]
    control_plane_url: str
    local_url: str
    cert_validity: timedelta
    ca_validity: timedelta

    def alt_names(self, spec: CertSpec) -> AltNames:
        if spec.sans is SANRule.CA:
            return AltNames(dns=(spec.common_name(self.node_name),))
        return self.sans.get(spec.sans, AltNames())

    def server_url(self, spec: KubeconfigSpec) -> str:
        return self.local_url if spec.endpoint is Endpoint.LOCAL else self.control_plane_url


def facts(ctx: PKIContext) -> Facts:
    """Validate `ctx` and derive the SANs and URLs; a bad value is a ConfigError naming its field."""
    algorithm = parse_algorithm(ctx.encryption_algorithm)
    if not is_dns_name(ctx.node_name) or ctx.node_name.startswith("*"):
        raise ConfigError(
            f"{F_NODE}: {ctx.node_name!r} is not a valid node name", hint="use a lower-case DNS name such as node-1"
        )
    address = parse_ip(ctx.advertise_address, F_ADDRESS)
    if not 0 < ctx.bind_port < 65536:
        raise ConfigError(f"{F_PORT}: {ctx.bind_port} is not a port", hint="use a port in 1-65535")
    for value, field in ((ctx.cert_validity, F_CERT_VALIDITY), (ctx.ca_validity, F_CA_VALIDITY)):
        if value <= timedelta(0):
            raise ConfigError(f"{field}: {value} is not a positive duration", hint="use e.g. 8760h0m0s")
    if not is_dns_name(ctx.dns_domain) or ctx.dns_domain.startswith("*"):
        raise ConfigError(f"{F_DOMAIN}: {ctx.dns_domain!r} is not a DNS domain", hint="use e.g. cluster.local")

    local_url = f"https://{_host_port(str(address), ctx.bind_port)}"
    api = AltNames(
        dns=(
            ctx.node_name,
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            f"kubernetes.default.svc.{ctx.dns_domain}",
        ),
        ips=(first_service_ip(ctx.service_subnet, F_SERVICES), address),
    )
    control_plane_url = local_url
    if ctx.control_plane_endpoint:
        host, port = split_host_port(ctx.control_plane_endpoint, F_CPE)
        api = api.plus((parse_san(host, F_CPE),))
        control_plane_url = f"https://{_host_port(host, port or ctx.bind_port)}"
    api = api.plus(parse_sans(ctx.apiserver_cert_sans, F_API_SANS))
    etcd = AltNames(dns=(ctx.node_name, "localhost"), ips=(address, *LOOPBACKS))
    sans = {
        SANRule.APISERVER: api.normalized(),
        SANRule.ETCD_SERVER: etcd.plus(parse_sans(ctx.etcd_server_cert_sans, F_ETCD_SERVER_SANS)).normalized(),
        SANRule.ETCD_PEER: etcd.plus(parse_sans(ctx.etcd_peer_cert_sans, F_ETCD_PEER_SANS)).normalized(),
    }
    return Facts(algorithm, ctx.node_name, sans, control_plane_url, local_url, ctx.cert_validity, ctx.ca_validity)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
