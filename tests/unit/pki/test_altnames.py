"""kubeadm's SAN rules (GetAPIServerAltNames, GetEtcdAltNames) for IPv4, IPv6 and dual stack, and bad SANs."""

from __future__ import annotations

import ipaddress

import pytest

from bootstrap.errors import ConfigError
from pki.altnames import AltNames, split_host_port
from pki.table import SANRule, facts
from tests.unit.pki.conftest import MakeContext


def ips(*values: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    return tuple(ipaddress.ip_address(v) for v in values)


def test_apiserver_sans_by_default_are_node_kubernetes_names_service_ip_and_advertise_address(
    make_ctx: MakeContext,
) -> None:
    sans = facts(make_ctx()).sans[SANRule.APISERVER]
    assert sans.dns == (
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "node-a",
    )
    assert sans.ips == ips("10.96.0.1", "192.0.2.10")


def test_apiserver_sans_add_endpoint_host_and_extra_sans_sorted_and_deduplicated(make_ctx: MakeContext) -> None:
    ctx = make_ctx(
        control_plane_endpoint="cp.example.com:7443",
        dns_domain="corp.internal",
        service_subnet="10.100.0.0/16",
        apiserver_cert_sans=("1.2.3.4", "*.wild.example", "node-a", "192.0.2.10", "fd00::1", "a.example"),
    )
    sans = facts(ctx).sans[SANRule.APISERVER]
    assert sans.dns == (
        "*.wild.example",
        "a.example",
        "cp.example.com",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.corp.internal",
        "node-a",
    )
    assert sans.ips == ips("10.100.0.1", "192.0.2.10", "1.2.3.4", "fd00::1")


def test_an_ip_control_plane_endpoint_is_an_ip_san(make_ctx: MakeContext) -> None:
    sans = facts(make_ctx(control_plane_endpoint="203.0.113.7:6443")).sans[SANRule.APISERVER]
    assert "203.0.113.7" not in sans.dns
    assert sans.ips[-1] == ipaddress.ip_address("203.0.113.7")


def test_ipv6_control_plane(make_ctx: MakeContext) -> None:
    ctx = make_ctx(
        advertise_address="fd00:1::10", service_subnet="fd00:10:96::/112", control_plane_endpoint="[fd00:1::1]:6443"
    )
    f = facts(ctx)
    assert f.sans[SANRule.APISERVER].ips == ips("fd00:10:96::1", "fd00:1::10", "fd00:1::1")
    assert f.sans[SANRule.ETCD_SERVER].ips == ips("fd00:1::10", "127.0.0.1", "::1")
    assert f.local_url == "https://[fd00:1::10]:6443"
    assert f.control_plane_url == "https://[fd00:1::1]:6443"


def test_dual_stack_uses_the_first_service_subnet_only_like_kubeadm(make_ctx: MakeContext) -> None:
    ctx = make_ctx(service_subnet="10.96.0.0/12,fd00:10:96::/112")
    assert facts(ctx).sans[SANRule.APISERVER].ips == ips("10.96.0.1", "192.0.2.10")


def test_etcd_sans_include_loopbacks_and_their_own_extra_sans(make_ctx: MakeContext) -> None:
    ctx = make_ctx(etcd_server_cert_sans=("etcd.example", "10.0.0.5"), etcd_peer_cert_sans=("peer.example",))
    f = facts(ctx)
    assert f.sans[SANRule.ETCD_SERVER] == AltNames(
        ("etcd.example", "localhost", "node-a"), ips("192.0.2.10", "127.0.0.1", "::1", "10.0.0.5")
    )
    assert f.sans[SANRule.ETCD_PEER].dns == ("localhost", "node-a", "peer.example")


def test_endpoint_port_overrides_bind_port_in_kubeconfig_urls(make_ctx: MakeContext) -> None:
    f = facts(make_ctx(control_plane_endpoint="lb.example:8443", bind_port=7443))
    assert (f.control_plane_url, f.local_url) == ("https://lb.example:8443", "https://192.0.2.10:7443")
    assert facts(make_ctx(control_plane_endpoint="lb.example")).control_plane_url == "https://lb.example:6443"


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("host", ("host", None)),
        ("host:1234", ("host", 1234)),
        ("[fd00::1]:443", ("fd00::1", 443)),
        ("[fd00::1]", ("fd00::1", None)),
        ("fd00::1", ("fd00::1", None)),
    ],
)
def test_split_host_port(endpoint: str, expected: tuple[str, int | None]) -> None:
    assert split_host_port(endpoint, "field") == expected


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"apiserver_cert_sans": ("bad name",)}, "apiServer.certSANs: 'bad name'"),
        ({"apiserver_cert_sans": ("under_score.example",)}, "apiServer.certSANs"),
        ({"etcd_server_cert_sans": ("-x",)}, "etcd.local.serverCertSANs"),
        ({"etcd_peer_cert_sans": ("a..b",)}, "etcd.local.peerCertSANs"),
        ({"advertise_address": "not-an-ip"}, "localAPIEndpoint.advertiseAddress"),
        ({"service_subnet": "10.96.0.0/40"}, "networking.serviceSubnet"),
        ({"control_plane_endpoint": "lb.example:99999"}, "controlPlaneEndpoint"),
        ({"node_name": "Node_A"}, "nodeRegistration.name"),
        ({"encryption_algorithm": "RSA-1024"}, "encryptionAlgorithm: unknown key algorithm 'RSA-1024'"),
    ],
)
def test_bad_values_are_config_errors_naming_the_field(
    make_ctx: MakeContext, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        facts(make_ctx(**overrides))
    assert field in info.value.message
    assert "\n" not in info.value.message
    assert info.value.hint


def test_wildcards_cover_names_when_checking_existing_certificates() -> None:
    cert = AltNames(("*.example.com", "node-a"), ips("10.0.0.1"))
    wanted = AltNames(("api.example.com", "node-a", "a.b.example.com"), ips("10.0.0.1", "10.0.0.2"))
    assert wanted.missing_from(cert) == ["a.b.example.com", "10.0.0.2"]
