"""load_config: kubeadm v1beta4 files, kbs's own document, flags over the file, every default filled."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bootstrap import versions
from bootstrap.config import Overrides, load_config, pki_context
from bootstrap.errors import ConfigError
from tests.unit.config.conftest import WriteConfig

FULL = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 10.0.0.5
  bindPort: 6444
nodeRegistration:
  name: cp-1
  taints: []
timeouts:
  controlPlaneComponentHealthCheck: 2m
  etcdAPICall: 90s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: 1.36.3
controlPlaneEndpoint: cp.example.com:7443
networking:
  serviceSubnet: 10.100.0.0/16
  podSubnet: 10.244.0.0/16
  dnsDomain: corp.local
apiServer:
  certSANs: [api.example.com, 10.0.0.100]
  extraArgs:
  - {name: feature-gates, value: A=true}
  - {name: feature-gates, value: B=true}
  extraVolumes:
  - {name: audit, hostPath: /var/log/audit, mountPath: /var/log/audit, pathType: DirectoryOrCreate}
etcd:
  local:
    dataDir: /data/etcd
    serverCertSANs: [etcd.example.com]
imageRepository: mirror.example.com/k8s
certificatesDir: /srv/pki
clusterName: prod
encryptionAlgorithm: ECDSA-P256
certificateValidityPeriod: 720h
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
---
apiVersion: kbs.dev/v1alpha1
kind: KbsConfiguration
kubernetesDir: /srv/kubernetes
reconciler:
  mode: none
"""


def test_without_a_file_every_default_comes_from_the_machine_and_the_version_table() -> None:
    cfg = load_config()
    assert cfg.node_name == "node-a"
    assert cfg.advertise_address == "192.0.2.10"
    assert cfg.kubernetes_version == versions.default().version
    assert cfg.manifests_dir == Path("/etc/kubernetes/manifests")
    assert cfg.cert_dir == Path("/etc/kubernetes/pki")
    assert cfg.etcd_data_dir == Path("/var/lib/etcd")
    assert cfg.local_etcd
    assert cfg.kbs.reconciler.mode == "bundled"
    assert [t.key for t in cfg.taints] == ["node-role.kubernetes.io/control-plane"]
    assert cfg.image("etcd") == f"registry.k8s.io/etcd:{versions.default().etcd_tag}"


def test_a_kubeadm_file_shapes_every_field(write_config: WriteConfig) -> None:
    cfg = load_config(write_config(FULL))
    assert (cfg.node_name, cfg.advertise_address, cfg.bind_port) == ("cp-1", "10.0.0.5", 6444)
    assert cfg.kubernetes_version == "v1.36.3"
    assert cfg.version.etcd_tag == versions.lookup("v1.36.3").etcd_tag
    assert cfg.taints == []
    assert cfg.init.timeouts.control_plane_component_health_check == timedelta(minutes=2)
    assert [(a.name, a.value) for a in cfg.cluster.api_server.extra_args] == [
        ("feature-gates", "A=true"),
        ("feature-gates", "B=true"),
    ]
    assert cfg.image("kube-apiserver") == "mirror.example.com/k8s/kube-apiserver:v1.36.3"
    assert cfg.etcd_data_dir == Path("/data/etcd")
    assert cfg.manifests_dir == Path("/srv/kubernetes/manifests")
    assert cfg.api_server_url == "https://cp.example.com:7443"
    assert any("KubeletConfiguration" in note for note in cfg.notes)


def test_pki_context_carries_sans_paths_and_algorithms(write_config: WriteConfig) -> None:
    ctx = pki_context(load_config(write_config(FULL)))
    assert ctx.apiserver_cert_sans == ("api.example.com", "10.0.0.100")
    assert ctx.etcd_server_cert_sans == ("etcd.example.com",)
    assert ctx.cert_dir == Path("/srv/pki")
    assert ctx.kubernetes_dir == Path("/srv/kubernetes")
    assert ctx.encryption_algorithm == "ECDSA-P256"
    assert ctx.cert_validity == timedelta(hours=720)
    assert (ctx.service_subnet, ctx.dns_domain, ctx.cluster_name) == ("10.100.0.0/16", "corp.local", "prod")


def test_flags_override_the_file(write_config: WriteConfig) -> None:
    overrides = Overrides(
        kubernetes_version="v1.35.4",
        advertise_address="fd00::5",
        node_name="cp-2",
        service_cidr="fd00:10::/108",
        apiserver_cert_extra_sans=("extra.example.com",),
        static_pod_path="/tmp/manifests",
    )
    cfg = load_config(write_config(FULL), overrides)
    assert cfg.kubernetes_version == "v1.35.4"
    assert cfg.advertise_address == "fd00::5" and cfg.ipv6 and cfg.loopback == "::1"
    assert cfg.node_name == "cp-2"
    assert cfg.cluster.networking.service_subnet == "fd00:10::/108"
    assert cfg.cluster.api_server.cert_sans == ["api.example.com", "10.0.0.100", "extra.example.com"]
    assert cfg.manifests_dir == Path("/tmp/manifests")


def test_external_etcd_replaces_local(write_config: WriteConfig) -> None:
    cfg = load_config(
        write_config(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
            "etcd:\n  external:\n    endpoints: [https://10.0.0.9:2379]\n    caFile: /e/ca.crt\n"
        )
    )
    assert not cfg.local_etcd
    assert "etcd" not in cfg.images()
    assert pki_context(cfg).local_etcd is False


def test_print_defaults_documents_redact_secrets(write_config: WriteConfig) -> None:
    cfg = load_config(
        write_config(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
            "bootstrapTokens:\n- token: abcdef.0123456789abcdef\n"
            f"certificateKey: {'a' * 64}\n"
        )
    )
    init = cfg.documents()[0]
    assert init["bootstrapTokens"][0]["token"] == "<redacted>"
    assert init["certificateKey"] == "<redacted>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  podSubnets: 10.0.0.0/8\n",
            "(ClusterConfiguration): networking.podSubnets: unknown field; did you mean 'podSubnet'?",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    a: b\n",
            "(ClusterConfiguration): apiServer.extraArgs: expected a list of {name: ..., value: ...}",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.0.0.1/8\n",
            "networking.podSubnet: '10.0.0.1/8' is not a valid CIDR",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  bindPort: many\n",
            "(InitConfiguration): localAPIEndpoint.bindPort: expected an integer, got 'many'",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nencryptionAlgorithm: RSA-1024\n",
            "encryptionAlgorithm: invalid value 'RSA-1024'; one of RSA-2048, RSA-3072, RSA-4096, ECDSA-P256",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  external: {caFile: /x}\n",
            "(ClusterConfiguration): etcd.external.endpoints: required field is missing",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
            "etcd: {local: {}, external: {endpoints: [a]}}\n",
            "(ClusterConfiguration): etcd: etcd.local and etcd.external are mutually exclusive",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  bindPort: 70000\n",
            "localAPIEndpoint.bindPort: expected an integer <= 65535, got 70000",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.20.0\n",
            "supported: v1.37",
        ),
        ("apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n", "v1beta3 is not supported"),
        ("apiVersion: apps/v1\nkind: Deployment\n", "no InitConfiguration, ClusterConfiguration or KbsConfiguration"),
        ("a: [1\n", "malformed YAML"),
        ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nclusterName: a\nclusterName: b\n", "twice"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_files_fail_with_one_line_naming_document_and_field(
    write_config: WriteConfig, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    assert expected in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("field", "value"),
    [("certificateKey", "0123456789abcdef0123"), ("bootstrapTokens", "[{token: abcdef.0123456789}]")],
)
def test_a_malformed_secret_is_refused_without_echoing_it(write_config: WriteConfig, field: str, value: str) -> None:
    text = f"apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n{field}: {value}\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    assert "expected a string matching regex" in caught.value.message
    assert "0123456789" not in caught.value.message
    assert caught.value.hint


def test_a_bad_flag_is_named_by_its_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--advertise-address: 'not-an-ip' is not an IP address"):
        load_config(None, Overrides(advertise_address="not-an-ip"))


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("address", "subnets", "ok"),
    [
        ("192.0.2.7", "fd00:10:96::/112", False),
        ("192.0.2.7", "fd00:10:96::/112,10.96.0.0/12", False),
        ("2001:db8::7", "10.96.0.0/12", False),
        ("192.0.2.7", "10.96.0.0/12,fd00:10:96::/112", True),
        ("2001:db8::7", "fd00:10:96::/112,10.96.0.0/12", True),
    ],
)
def test_the_first_service_subnet_must_have_the_advertise_address_family(address: str, subnets: str, ok: bool) -> None:
    # kube-apiserver v1.37.2 exits with: service IP family "fd00:10:96::/112" must match public address family
    overrides = Overrides(advertise_address=address, service_cidr=subnets)
    if ok:
        assert load_config(None, overrides).cluster.networking.service_subnet == subnets
        return
    with pytest.raises(ConfigError, match=r"^--service-cidr: the first service subnet .* kube-apiserver refuses"):
        load_config(None, overrides)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_loopback_advertise_address_is_refused_before_kube_apiserver_would(address: str) -> None:
    with pytest.raises(ConfigError, match=r"--advertise-address: .* is a loopback address") as caught:
        load_config(None, Overrides(advertise_address=address))
    assert caught.value.hint is not None and "--advertise-address" in caught.value.hint


def test_no_default_route_means_an_explicit_advertise_address_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    from bootstrap.config import host

    monkeypatch.setattr(host, "default_route_address", lambda *a, **k: ("127.0.0.1", "no default route"))
    with pytest.raises(ConfigError, match="loopback"):
        load_config(None)
    assert load_config(None, Overrides(advertise_address="192.0.2.7")).advertise_address == "192.0.2.7"


def test_node_name_is_trimmed_and_lower_cased_and_cert_sans_lower_cased_like_kubeadm(
    write_config: WriteConfig,
) -> None:
    cfg = load_config(
        write_config(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  name: ' CP-1 '\n"
            "---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
            "apiServer:\n  certSANs: [API.Example.COM, '*.Apps.Example.com', 10.0.0.9]\n"
        )
    )
    assert cfg.node_name == "cp-1"
    assert cfg.cluster.api_server.cert_sans == ["api.example.com", "*.apps.example.com", "10.0.0.9"]
    with pytest.raises(ConfigError, match=r"nodeRegistration\.name"):
        load_config(
            write_config(
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  name: '  '\n"
            )
        )


@pytest.mark.parametrize(
    ("cluster", "field"),
    [
        ("controlPlaneEndpoint: CP.example.com:6443\n", "controlPlaneEndpoint"),
        ("etcd:\n  local:\n    serverCertSANs: [Etcd.Example.com]\n", "etcd.local.serverCertSANs"),
        ("etcd:\n  local:\n    peerCertSANs: [Peer.Example.com]\n", "etcd.local.peerCertSANs"),
    ],
)
def test_upper_case_names_kubeadm_refuses_are_refused(write_config: WriteConfig, cluster: str, field: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(field)):
        load_config(write_config("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n" + cluster))


def test_empty_strings_take_kubeadm_s_defaults(write_config: WriteConfig) -> None:
    cfg = load_config(
        write_config(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nimageRepository: ''\n"
            "certificatesDir: ''\nclusterName: ''\nnetworking: {serviceSubnet: '', dnsDomain: ''}\n"
            "etcd: {local: {dataDir: ''}}\n"
        )
    )
    assert cfg.image("kube-apiserver").startswith("registry.k8s.io/kube-apiserver:")
    assert (cfg.cluster.certificates_dir, cfg.cluster.cluster_name) == ("/etc/kubernetes/pki", "kubernetes")
    assert (cfg.cluster.networking.service_subnet, cfg.cluster.networking.dns_domain) == (
        "10.96.0.0/12",
        "cluster.local",
    )
    assert cfg.etcd_data_dir == Path("/var/lib/etcd")


@pytest.mark.parametrize("repository", ["registry.k8s.io/", "Mirror.example.com/K8s", "mirror example"])
def test_image_repositories_kubeadm_refuses_are_refused(write_config: WriteConfig, repository: str) -> None:
    with pytest.raises(ConfigError, match="imageRepository"):
        load_config(
            write_config(
                f"apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nimageRepository: '{repository}'\n"
            )
        )
