"""Token discovery as `kubeadm join` does it: signature, CA pin, second read over verified TLS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from bootstrap.errors import APIServerError, ConfigError
from bootstrap.kube import clusterinfo, discovery
from bootstrap.kube.token import parse
from tests.unit.phases.conftest import write_ca

TOKEN = parse("abcdef.0123456789abcdef")
SERVER = "https://10.0.0.9:6443"


@pytest.fixture
def ca(tmp_path: Path) -> bytes:
    return write_ca(tmp_path)


def _cm(ca: bytes, tokens: list[Any] | None = None) -> dict[str, Any]:
    return clusterinfo.configmap(SERVER, ca, [TOKEN] if tokens is None else tokens)


def test_a_signed_cluster_info_with_the_pinned_ca_is_trusted(ca: bytes) -> None:
    pins = discovery.parse_ca_hashes([clusterinfo.ca_cert_hash(ca).upper().replace("SHA256", "sha256")])
    info = discovery.validate(_cm(ca), TOKEN, pins)
    assert info.server == SERVER and info.ca_pem == ca


def test_a_wrong_ca_hash_is_refused_naming_the_real_one(ca: bytes) -> None:
    with pytest.raises(discovery.DiscoveryError) as caught:
        discovery.validate(_cm(ca), TOKEN, discovery.parse_ca_hashes(["sha256:" + "0" * 64]))
    assert caught.value.message == (
        "cluster CA found in the cluster-info ConfigMap is invalid: none of the public keys "
        f'"{clusterinfo.ca_cert_hash(ca)}" are pinned'
    )


def test_an_unknown_token_id_is_refused_like_kubeadm(ca: bytes) -> None:
    pins = discovery.parse_ca_hashes([clusterinfo.ca_cert_hash(ca)])
    with pytest.raises(discovery.DiscoveryError, match="token id 'abcdef' is invalid for this cluster or it has"):
        discovery.validate(_cm(ca, tokens=[]), TOKEN, pins)


def test_a_wrong_token_secret_fails_the_signature(ca: bytes) -> None:
    pins = discovery.parse_ca_hashes([clusterinfo.ca_cert_hash(ca)])
    with pytest.raises(discovery.DiscoveryError, match="failed to verify the JWS signature"):
        discovery.validate(_cm(ca), parse("abcdef.ffffffffffffffff"), pins)


def test_cluster_info_without_a_kubeconfig_is_not_set_up_for_bootstrapping(ca: bytes) -> None:
    with pytest.raises(discovery.DiscoveryError, match="not set up for token bootstrapping"):
        discovery.validate({"data": {}}, TOKEN, frozenset({"0" * 64}))


@pytest.mark.parametrize("value", ["0" * 64, "sha1:" + "0" * 64, "sha256:abc", "sha256:" + "g" * 64])
def test_a_malformed_ca_hash_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="is not of the form sha256:<64 hex characters>"):
        discovery.parse_ca_hashes([value])


def test_no_ca_hash_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        discovery.parse_ca_hashes([])


def _transport(answers: list[dict[str, Any]], seen: list[str]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        assert "authorization" not in request.headers  # discovery is anonymous
        return httpx2.Response(200, text=json.dumps(answers.pop(0)))

    return httpx2.MockTransport(handler)


def test_discover_reads_twice_and_requires_the_same_kubeconfig(ca: bytes) -> None:
    seen: list[str] = []
    cm = _cm(ca)
    info = discovery.discover(
        "127.0.0.1:6443", TOKEN, [clusterinfo.ca_cert_hash(ca)], transport=_transport([cm, cm], seen)
    )
    assert info.server == SERVER
    assert seen == ["https://127.0.0.1:6443/api/v1/namespaces/kube-public/configmaps/cluster-info"] * 2

    other = clusterinfo.configmap("https://10.9.9.9:6443", ca, [TOKEN])
    with pytest.raises(discovery.DiscoveryError, match="second cluster-info read"):
        pins = [clusterinfo.ca_cert_hash(ca)]
        discovery.discover("127.0.0.1:6443", TOKEN, pins, transport=_transport([cm, other], []))


def test_a_refused_read_is_an_api_server_error() -> None:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(403, text="{}"))
    with pytest.raises(APIServerError, match="HTTP 403"):
        discovery.discover("127.0.0.1:6443", TOKEN, ["sha256:" + "0" * 64], transport=transport)


def test_the_bootstrap_kubeconfig_uses_cluster_infos_server_and_the_token(ca: bytes) -> None:
    info = discovery.ClusterInfo(server=SERVER, ca_pem=ca, kubeconfig="")
    config = discovery.bootstrap_kubeconfig(info, TOKEN)
    assert config["clusters"][0]["cluster"]["server"] == SERVER
    assert config["users"][0]["user"]["token"] == TOKEN.value
    api = discovery.bootstrap_api(info, TOKEN)
    api.close()


def test_discovery_waits_for_the_tokens_signature_but_not_for_a_wrong_hash(ca: bytes) -> None:
    unsigned, signed = _cm(ca, tokens=[]), _cm(ca)
    naps: list[float] = []
    pins = [clusterinfo.ca_cert_hash(ca)]
    transport = _transport([unsigned, unsigned, signed, signed], [])
    info = discovery.discover("127.0.0.1:6443", TOKEN, pins, wait=3600, transport=transport, sleep=naps.append)
    assert info.server == SERVER and naps == [5.0, 5.0]

    naps.clear()
    with pytest.raises(discovery.DiscoveryError, match="none of the public keys"):
        discovery.discover(
            "127.0.0.1:6443",
            TOKEN,
            ["sha256:" + "0" * 64],
            wait=3600,
            transport=_transport([signed], []),
            sleep=naps.append,
        )
    assert naps == []


def test_without_wait_a_missing_signature_fails_at_once(ca: bytes) -> None:
    naps: list[float] = []
    with pytest.raises(discovery.DiscoveryError, match="is invalid for this cluster"):
        discovery.discover(
            "127.0.0.1:6443",
            TOKEN,
            [clusterinfo.ca_cert_hash(ca)],
            transport=_transport([_cm(ca, [])], []),
            sleep=naps.append,
        )
    assert naps == []
