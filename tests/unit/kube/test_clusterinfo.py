"""cluster-info: the detached JWS kubeadm join verifies, and the CA pin."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bootstrap.kube import clusterinfo
from bootstrap.kube.token import parse
from tests.unit.phases.conftest import write_ca

TOKEN = parse("abcdef.0123456789abcdef")


def test_signature_header_is_serialised_like_go_jose() -> None:
    # go-jose writes the protected header with sorted keys and no spaces; kbs must match the bootstrapsigner byte for
    # byte (tests/real/test_init_control_plane.py checks it against kube-controller-manager's own signatures).
    content = "hello\n"
    jws = clusterinfo.detached_jws(content, TOKEN.token_id, TOKEN.secret)
    header, empty, _signature = jws.split(".")
    assert empty == ""  # detached: no payload
    assert header == "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9"  # {"alg":"HS256","kid":"abcdef"}
    assert clusterinfo.verify_detached_jws(jws, content, TOKEN)


def test_signature_does_not_verify_for_other_content_or_token() -> None:
    jws = clusterinfo.detached_jws("a", TOKEN.token_id, TOKEN.secret)
    assert not clusterinfo.verify_detached_jws(jws, "b", TOKEN)
    assert not clusterinfo.verify_detached_jws(jws, "a", parse("abcdef.ffffffffffffffff"))
    assert not clusterinfo.verify_detached_jws("garbage", "a", TOKEN)


def test_configmap_holds_a_user_less_kubeconfig_and_a_valid_signature(tmp_path: Path) -> None:
    ca = write_ca(tmp_path)
    cm = clusterinfo.configmap("https://10.0.0.5:6443", ca, [TOKEN])
    assert cm["metadata"] == {"name": "cluster-info", "namespace": "kube-public"}
    kubeconfig = yaml.safe_load(cm["data"]["kubeconfig"])  # type: ignore[index]
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://10.0.0.5:6443"
    assert kubeconfig["users"] == [] and kubeconfig["contexts"] == []
    assert clusterinfo.signature_for(cm, TOKEN)


def test_ca_hash_is_sha256_of_the_subject_public_key_info(tmp_path: Path) -> None:
    pem = write_ca(tmp_path)
    spki = (
        x509.load_pem_x509_certificate(pem).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    assert clusterinfo.ca_cert_hash(pem) == "sha256:" + hashlib.sha256(spki).hexdigest()
