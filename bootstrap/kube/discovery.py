"""Token-based discovery, the way `kubeadm join ENDPOINT --token T --discovery-token-ca-cert-hash sha256:H` does it.

1. GET `kube-public/cluster-info` anonymously, without checking the server's certificate (nothing is trusted yet).
2. Trust its `kubeconfig` only if `jws-kubeconfig-<token id>` is a valid HS256 detached signature by the token's
   secret: whoever signed it knows the token.
3. Pin the CA found in it: the SHA-256 of its SubjectPublicKeyInfo must be one of the given hashes.
4. Read cluster-info again, now verifying the server against that CA, and require the same kubeconfig.

The result (server URL from cluster-info, CA) plus the token is what a joining node talks to the cluster with:
`bootstrap_api` builds that client, with the credentials kept in memory. Failures are `DiscoveryError`s worded
like kubeadm's, with a hint; a wrong hash or token is never retried.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from cryptography import x509

from bootstrap.errors import APIServerError, ConfigError, KbsError
from bootstrap.kube import clusterinfo
from bootstrap.kube.api import LightkubeAPI, Obj
from bootstrap.kube.token import BootstrapToken

CLUSTER_INFO_PATH = f"/api/v1/namespaces/{clusterinfo.NAMESPACE}/configmaps/{clusterinfo.NAME}"
DISCOVERY_RETRY_INTERVAL = 5.0  # seconds, kubeadm's DiscoveryRetryInterval
TOKEN_USER = "tls-bootstrap-token-user"  # kubeadm's name for the token user in the bootstrap kubeconfig
_HASH = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


class DiscoveryError(KbsError):
    """The API server at the endpoint cannot be trusted with the token and CA hash given."""


@dataclass(frozen=True)
class ClusterInfo:
    """What discovery establishes: the API server's URL as the cluster publishes it, and its pinned CA."""

    server: str
    ca_pem: bytes
    kubeconfig: str  # cluster-info's kubeconfig, exactly as signed


def parse_ca_hashes(hashes: Sequence[str]) -> frozenset[str]:
    """The lower-case hex digests of `--discovery-token-ca-cert-hash sha256:<hex>` values."""
    if not hashes:
        raise ConfigError(
            "--discovery-token-ca-cert-hash: at least one sha256:<hex> CA hash is needed to trust the API server",
            hint="`kbs init` prints it in the join command; or compute it from ca.crt on a control-plane node",
        )
    digests = set()
    for value in hashes:
        match = _HASH.match(value)
        if not match:
            raise ConfigError(
                f"--discovery-token-ca-cert-hash: {value!r} is not of the form sha256:<64 hex characters>",
                hint="copy it from the join command `kbs init` printed",
            )
        digests.add(match[1].lower())
    return frozenset(digests)


def validate(cm: Obj, token: BootstrapToken, pins: frozenset[str]) -> ClusterInfo:
    """Steps 2 and 3 on a cluster-info ConfigMap read without TLS verification: signature, then CA pin."""
    data = cm.get("data") or {}
    content = data.get(clusterinfo.KUBECONFIG_KEY)
    if not isinstance(content, str) or not content:
        raise DiscoveryError(
            f"there is no {clusterinfo.KUBECONFIG_KEY} key in the {clusterinfo.NAME} ConfigMap: this API server is "
            "not set up for token bootstrapping",
            hint="run `kbs init phase bootstrap-token` on a control-plane node",
        )
    jws = data.get(clusterinfo.JWS_KEY_PREFIX + token.token_id)
    if not isinstance(jws, str) or not jws:
        raise DiscoveryError(
            f"token id {token.token_id!r} is invalid for this cluster or it has expired",
            hint="create a new token on a control-plane node (`kubeadm token create`, or `kbs init phase "
            "bootstrap-token`) and use it",
        )
    if not clusterinfo.verify_detached_jws(jws, content, token):
        raise DiscoveryError(
            f"failed to verify the JWS signature of the {clusterinfo.NAME} ConfigMap with the token: "
            "can't trust this API server",
            hint="check the token's secret half (after the dot) against the join command",
        )
    server, ca_pem = _cluster(content)
    found = clusterinfo.ca_cert_hash(ca_pem)
    if found.removeprefix("sha256:") not in pins:
        raise DiscoveryError(
            f"cluster CA found in the {clusterinfo.NAME} ConfigMap is invalid: none of the public keys "
            f'"{found}" are pinned',
            hint="check --discovery-token-ca-cert-hash against the join command printed on the control plane",
        )
    return ClusterInfo(server=server, ca_pem=ca_pem, kubeconfig=content)


def _cluster(content: str) -> tuple[str, bytes]:
    malformed = f"malformed kubeconfig in the {clusterinfo.NAME} ConfigMap"
    try:
        doc = yaml.safe_load(content)
        cluster = doc["clusters"][0]["cluster"]
        server, ca_pem = str(cluster["server"]), base64.b64decode(cluster["certificate-authority-data"])
        x509.load_pem_x509_certificate(ca_pem)
    except (yaml.YAMLError, KeyError, IndexError, TypeError, binascii.Error, ValueError) as exc:
        raise DiscoveryError(f"{malformed}: {exc}", hint="run `kbs init phase bootstrap-token` again") from exc
    return server, ca_pem


def fetch_cluster_info(endpoint: str, ca_pem: bytes | None, timeout: float, transport: Any = None) -> Obj:
    """GET cluster-info anonymously from `https://endpoint`; TLS verified against `ca_pem` when given."""
    import httpx2

    verify: ssl.SSLContext | bool = False
    if ca_pem is not None:
        verify = ssl.create_default_context(cadata=ca_pem.decode())
    url = f"https://{endpoint}{CLUSTER_INFO_PATH}"
    try:
        with httpx2.Client(verify=verify, timeout=timeout, trust_env=False, transport=transport) as client:
            response = client.get(url)
    except httpx2.HTTPError as exc:
        raise APIServerError(
            f"cannot read the {clusterinfo.NAME} ConfigMap from {endpoint}: {exc}",
            hint="check the endpoint (host:port of the control plane) and that its API server is up",
        ) from exc
    if response.status_code != 200:
        raise APIServerError(
            f"the API server at {endpoint} refused to show the {clusterinfo.NAME} ConfigMap (HTTP "
            f"{response.status_code})",
            hint="run `kbs init phase bootstrap-token` on a control-plane node (it lets anonymous users read it)",
            status=response.status_code,
        )
    try:
        body: Obj = json.loads(response.text)
    except ValueError as exc:
        raise DiscoveryError(f"{endpoint} did not answer with a ConfigMap: {exc}") from exc
    return body


def _signed_cluster_info(
    endpoint: str, token: BootstrapToken, *, wait: float, timeout: float, transport: Any, sleep: Callable[[float], None]
) -> Obj:
    """Step 1, polled like kubeadm's: until cluster-info answers and carries this token's signature, or `wait` ends.

    kube-controller-manager's bootstrapsigner adds the signature of a new token a moment after the token exists.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            cm = fetch_cluster_info(endpoint, None, timeout, transport)
            if (cm.get("data") or {}).get(clusterinfo.JWS_KEY_PREFIX + token.token_id):
                return cm
        except APIServerError:
            if time.monotonic() >= deadline:
                raise
        else:
            if time.monotonic() >= deadline:
                return cm  # validate() says what is missing
        sleep(DISCOVERY_RETRY_INTERVAL)


def discover(
    endpoint: str,
    token: BootstrapToken,
    ca_hashes: Sequence[str],
    *,
    timeout: float = 30.0,
    wait: float = 0.0,
    transport: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ClusterInfo:
    """Steps 1-4: the validated cluster-info of the control plane at `endpoint` (`host:port`).

    `wait`: how long to keep asking while the API server does not answer or the token's signature is not there yet
    (kubeadm's timeouts.discovery, 5 minutes); a wrong signature or CA hash fails at once.
    """
    pins = parse_ca_hashes(ca_hashes)
    insecure = _signed_cluster_info(endpoint, token, wait=wait, timeout=timeout, transport=transport, sleep=sleep)
    info = validate(insecure, token, pins)
    secure = fetch_cluster_info(endpoint, info.ca_pem, timeout, transport)
    if (secure.get("data") or {}).get(clusterinfo.KUBECONFIG_KEY) != info.kubeconfig:
        raise DiscoveryError(
            f"the second {clusterinfo.NAME} read (over verified TLS) differs from the first",
            hint="something between this node and the API server changed the answer; check the endpoint",
        )
    return info


def bootstrap_kubeconfig(info: ClusterInfo, token: BootstrapToken) -> dict[str, Any]:
    """An in-memory kubeconfig: cluster-info's server and CA, authenticated by the bootstrap token."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kubernetes",
                "cluster": {
                    "server": info.server,
                    "certificate-authority-data": base64.b64encode(info.ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": TOKEN_USER, "user": {"token": token.value}}],
        "contexts": [{"name": "bootstrap", "context": {"cluster": "kubernetes", "user": TOKEN_USER}}],
        "current-context": "bootstrap",
    }


def bootstrap_api(info: ClusterInfo, token: BootstrapToken, timeout: float = 30.0) -> LightkubeAPI:
    """A client acting as the bootstrap token (what `kubeadm join` downloads kubeadm-config and kubeadm-certs with)."""
    return LightkubeAPI(
        bootstrap_kubeconfig(info, token), timeout=timeout, who=f"bootstrap token {token.token_id} at {info.server}"
    )
