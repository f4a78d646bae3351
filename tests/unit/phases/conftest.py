"""Phase tests: a configuration whose every path is under tmp_path, an in-memory API server, a collecting reporter."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bootstrap.config import load_config
from bootstrap.config.effective import KbsConfig
from bootstrap.kube.memory import MemoryAPI
from bootstrap.phases.context import InitData, InitOptions
from tests.support.reporter import Collect

CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: {{advertiseAddress: 10.0.0.5}}
nodeRegistration: {{name: node1}}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
certificatesDir: {root}/etc/kubernetes/pki
etcd: {{local: {{dataDir: {root}/var/lib/etcd}}}}
---
apiVersion: kbs.dev/v1alpha1
kind: KbsConfiguration
kubernetesDir: {root}/etc/kubernetes
reconciler:
  mode: {mode}
  stateDir: {root}/var/lib/kbs
  runDir: {root}/run/kbs
  logDir: {root}/var/log/kbs
"""


def make_cfg(root: Path, mode: str = "none") -> KbsConfig:
    path = root / "kbs.yaml"
    path.write_text(CONFIG.format(root=root, mode=mode))
    return load_config(path)


def write_ca(cert_dir: Path) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_dir.mkdir(parents=True, exist_ok=True)
    (cert_dir / "ca.crt").write_bytes(pem)
    return pem


@pytest.fixture
def cfg(tmp_path: Path) -> KbsConfig:
    return make_cfg(tmp_path)


@pytest.fixture
def reporter() -> Collect:
    return Collect()


@pytest.fixture
def api() -> MemoryAPI:
    return MemoryAPI()


@pytest.fixture
def data(cfg: KbsConfig, reporter: Collect, api: MemoryAPI) -> InitData:
    return InitData(cfg=cfg, out=reporter, options=InitOptions(), _api=api)
