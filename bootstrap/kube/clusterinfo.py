"""The `kube-public/cluster-info` ConfigMap and the trust a stock `kubeadm join` builds from it.

`kubeadm join --token T --discovery-token-ca-cert-hash sha256:H` reads cluster-info anonymously, checks the
detached JWS `jws-kubeconfig-<token id>` over its `kubeconfig` key with the token secret (HS256, kid = token
id), then pins the CA it finds there against H, the SHA-256 of the CA's DER SubjectPublicKeyInfo.

kube-controller-manager's bootstrapsigner maintains those signatures; kbs writes the same value itself when
it creates the ConfigMap, so join works the moment init ends. The protected header is serialised exactly as
go-jose does (keys sorted, no spaces), which makes kbs's signature byte-identical to the controller's and
keeps the controller from rewriting it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bootstrap.kube.token import BootstrapToken

NAMESPACE = "kube-public"
NAME = "cluster-info"
KUBECONFIG_KEY = "kubeconfig"
JWS_KEY_PREFIX = "jws-kubeconfig-"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def detached_jws(content: str, token_id: str, token_secret: str) -> str:
    """`<protected header>..<signature>`: a compact JWS (HS256, kid = token id) whose payload is left out."""
    header = json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":"), sort_keys=True).encode()
    signing_input = f"{_b64url(header)}.{_b64url(content.encode())}"
    signature = hmac.new(token_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{_b64url(header)}..{_b64url(signature)}"


def verify_detached_jws(jws: str, content: str, token: BootstrapToken) -> bool:
    """True when `jws` is a valid HS256 detached signature of `content` by `token` (what kubeadm join checks)."""
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "":
        return False
    try:
        header = json.loads(_b64url_decode(parts[0]))
        signature = _b64url_decode(parts[2])
    except ValueError:
        return False
    if not isinstance(header, dict) or header.get("alg") != "HS256" or header.get("kid") != token.token_id:
        return False
    signing_input = f"{parts[0]}.{_b64url(content.encode())}".encode()
    expected = hmac.new(token.secret.encode(), signing_input, hashlib.sha256).digest()
    return hmac.compare_digest(expected, signature)


def ca_cert_hash(ca_pem: bytes) -> str:
    """`sha256:<hex>` of the CA certificate's SubjectPublicKeyInfo (`--discovery-token-ca-cert-hash`)."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def discovery_kubeconfig(server: str, ca_pem: bytes) -> str:
    """The kubeconfig kept in cluster-info: one unnamed cluster (server + CA), no users, no contexts."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "",
                "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
            }
        ],
        "contexts": [],
        "current-context": "",
        "preferences": {},
        "users": [],
    }
    return yaml.safe_dump(document, sort_keys=True)


def configmap(server: str, ca_pem: bytes, signing_tokens: list[BootstrapToken]) -> dict[str, object]:
    """The cluster-info ConfigMap, with a JWS for each token that has the `signing` usage."""
    content = discovery_kubeconfig(server, ca_pem)
    data = {KUBECONFIG_KEY: content}
    for token in signing_tokens:
        if "signing" in token.usages:
            data[JWS_KEY_PREFIX + token.token_id] = detached_jws(content, token.token_id, token.secret)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": data,
    }


def signature_for(cm: Mapping[str, object], token: BootstrapToken) -> bool:
    """True when the cluster-info ConfigMap `cm` carries a valid signature by `token` over its kubeconfig."""
    data = cm.get("data")
    if not isinstance(data, Mapping):
        return False
    content, jws = data.get(KUBECONFIG_KEY), data.get(JWS_KEY_PREFIX + token.token_id)
    return isinstance(content, str) and isinstance(jws, str) and verify_detached_jws(jws, content, token)
