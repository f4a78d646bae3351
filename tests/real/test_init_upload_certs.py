"""controlPlaneEndpoint and `--upload-certs` against the test bed's stock kubeadm, both ways.

One sandboxed `kbs init --upload-certs` with controlPlaneEndpoint 127.0.0.1:6443 (an address that is not the
advertise address, so every place that must use the endpoint shows it) serves the module. The stock kubeadm
downloads kbs's kubeadm-certs with `kubeadm join phase control-plane-prepare download-certs`, chrooted (--rootfs)
into a temp dir so it writes nothing of the host's; and kbs's join-side library decrypts what the stock
`kubeadm init phase upload-certs` stores. Tests run in file order (the later ones re-upload).
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from bootstrap import constants
from bootstrap.errors import APIServerError, KbsError
from bootstrap.kube import clusterinfo, copycerts, discovery
from bootstrap.kube import token as tokens
from tests.real.conftest import TestBed
from tests.support.control_plane import Sandbox, exclusive_ports, sandbox
from tests.support.wait import wait_until

ENDPOINT = "127.0.0.1:6443"
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
KUBEADM_KEY = "a1" * 32
SHARED = (
    "ca.crt",
    "ca.key",
    "front-proxy-ca.crt",
    "front-proxy-ca.key",
    "sa.pub",
    "sa.key",
    "etcd/ca.crt",
    "etcd/ca.key",
)
JOIN = re.compile(
    r"kubeadm join (\S+) --token (\S+) \\\n\s+--discovery-token-ca-cert-hash (\S+) \\\n\s+--control-plane"
    r" --certificate-key (\S+)"
)


@dataclass
class Cluster:
    box: Sandbox
    init_output: str
    endpoint: str
    token: str
    ca_hash: str

    @property
    def pki(self) -> Path:
        return self.box.root / "etc/kubernetes/pki"


@pytest.fixture(scope="module")
def cluster(testbed: TestBed, control_plane_lock: None) -> Iterator[Cluster]:
    with exclusive_ports(), sandbox(testbed, endpoint=ENDPOINT) as box:
        out = box.kbs("init", "--upload-certs", "--certificate-key", KEY).stdout
        match = JOIN.search(out)
        assert match, out
        endpoint, token, ca_hash, key = match.groups()
        assert key == KEY
        yield Cluster(box, out, endpoint, token, ca_hash)


@pytest.fixture(scope="module", autouse=True)
def _host_state_dir_left_as_found() -> Iterator[None]:
    """`kbs join phase ... download-certs` without --config keeps its ledger in the host's default state dir: gone
    again after the module when it was not there before, so no later command on this machine reads it."""
    existed = constants.KBS_STATE_DIR.exists()
    yield
    if not existed:
        shutil.rmtree(constants.KBS_STATE_DIR, ignore_errors=True)


def _run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=180, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _server(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


def _kubeadm_download(cluster: Cluster, testbed: TestBed, rootfs: Path, key: str) -> subprocess.CompletedProcess[str]:
    """The stock kubeadm's download-certs, chrooted into `rootfs`: it writes under rootfs/<certificatesDir>."""
    return _run(
        testbed.bin("kubeadm"), "join", "phase", "control-plane-prepare", "download-certs", cluster.endpoint,
        "--token", cluster.token, "--discovery-token-ca-cert-hash", cluster.ca_hash,
        "--control-plane", "--certificate-key", key, "--rootfs", rootfs, "-v", "1",
        check=False,
    )  # fmt: skip


def test_init_prints_kubeadms_control_plane_join_command_for_the_endpoint(cluster: Cluster) -> None:
    assert cluster.endpoint == ENDPOINT
    assert cluster.ca_hash == clusterinfo.ca_cert_hash((cluster.pki / "ca.crt").read_bytes())
    assert "the certificate-key gives access to cluster sensitive data, keep it secret!" in cluster.init_output
    assert "[upload-certs] Using certificate key:" in cluster.init_output
    assert f"kubeadm join {ENDPOINT} --token {cluster.token} \\" in cluster.init_output  # the worker line too


def test_the_endpoint_is_where_kubeadm_puts_it(cluster: Cluster) -> None:
    kdir = cluster.box.root / "etc/kubernetes"
    apiserver = x509.load_pem_x509_certificate((cluster.pki / "apiserver.crt").read_bytes())
    sans = apiserver.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    assert _server(kdir / "admin.conf") == _server(kdir / "super-admin.conf") == f"https://{ENDPOINT}"
    for local in ("controller-manager.conf", "scheduler.conf", "kubelet.conf"):
        assert _server(kdir / local) != f"https://{ENDPOINT}", local  # the node's own API server, as kubeadm
    cm = cluster.box.kubectl_json("get", "configmap", "-n", "kube-public", "cluster-info")
    assert yaml.safe_load(cm["data"]["kubeconfig"])["clusters"][0]["cluster"]["server"] == f"https://{ENDPOINT}"
    uploaded = cluster.box.kubectl_json("get", "configmap", "-n", "kube-system", "kubeadm-config")
    assert yaml.safe_load(uploaded["data"]["ClusterConfiguration"])["controlPlaneEndpoint"] == ENDPOINT


def test_the_secret_has_kubeadms_layout_owner_and_rbac(cluster: Cluster) -> None:
    secret = cluster.box.kubectl_json("get", "secret", "-n", "kube-system", "kubeadm-certs")
    assert sorted(secret["data"]) == sorted(copycerts.data_key(name) for name in SHARED)
    (owner,) = secret["metadata"]["ownerReferences"]
    token_secret = cluster.box.kubectl_json("get", "secret", "-n", "kube-system", owner["name"])
    assert owner["uid"] == token_secret["metadata"]["uid"] and owner["controller"] is True
    assert sorted(token_secret["data"]) == ["description", "expiration", "token-id", "token-secret"]
    token = tokens.from_secret(token_secret)
    assert token is not None and token.description == copycerts.TOKEN_DESCRIPTION
    can = cluster.box.kubectl(
        "auth", "can-i", "get", "secret/kubeadm-certs", "-n", "kube-system",
        "--as", "system:bootstrap:abcdef", "--as-group", tokens.DEFAULT_GROUP, check=False,
    )  # fmt: skip
    assert can.stdout.strip() == "yes"


def test_stock_kubeadm_downloads_and_decrypts_kbs_certificates(
    cluster: Cluster, testbed: TestBed, tmp_path: Path
) -> None:
    result = _kubeadm_download(cluster, testbed, tmp_path, KEY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[download-certs] Saving the certificates to the folder" in result.stdout
    got = tmp_path / str(cluster.pki).lstrip("/")
    for name in SHARED:
        assert (got / name).read_bytes() == (cluster.pki / name).read_bytes(), name
        # kubeadm's download writes sa.pub 0644 (a PEM it parses as public), where its init and kbs write 0600
        assert (got / name).stat().st_mode & 0o777 == (0o644 if name.endswith((".crt", ".pub")) else 0o600), name
    written = sorted(str(p.relative_to(got)) for p in got.rglob("*") if p.is_file())
    assert written == sorted(SHARED)


def test_stock_kubeadm_refuses_a_wrong_certificate_key(cluster: Cluster, testbed: TestBed, tmp_path: Path) -> None:
    result = _kubeadm_download(cluster, testbed, tmp_path, "00" * 32)
    assert result.returncode != 0
    assert "error decoding secret data with provided key" in result.stderr
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_kbs_discovery_trusts_the_cluster_and_downloads_with_the_token(cluster: Cluster, tmp_path: Path) -> None:
    token = tokens.parse(cluster.token)
    info = discovery.discover(cluster.endpoint, token, [cluster.ca_hash])
    assert info.server == f"https://{ENDPOINT}"
    api = discovery.bootstrap_api(info, token)
    try:
        plain = copycerts.download(api, copycerts.parse_key(KEY))
        with pytest.raises(APIServerError) as forbidden:  # the token reads kubeadm-certs and nothing else secret
            api.get("v1", "Secret", f"bootstrap-token-{token.token_id}", "kube-system")
        assert forbidden.value.status == 403
    finally:
        api.close()
    files = copycerts.shared_files(tmp_path)
    copycerts.write_files(plain, files)
    for name in SHARED:
        assert (tmp_path / name).read_bytes() == (cluster.pki / name).read_bytes(), name


def test_kbs_discovery_refuses_a_wrong_ca_hash_and_a_wrong_token(cluster: Cluster) -> None:
    token = tokens.parse(cluster.token)
    with pytest.raises(discovery.DiscoveryError, match="none of the public keys") as wrong_hash:
        discovery.discover(cluster.endpoint, token, ["sha256:" + "0" * 64])
    assert cluster.ca_hash in wrong_hash.value.message
    with pytest.raises(discovery.DiscoveryError, match="is invalid for this cluster or it has expired"):
        discovery.discover(cluster.endpoint, tokens.parse("zzzzzz.0123456789abcdef"), [cluster.ca_hash])
    forged = tokens.parse(f"{token.token_id}.{'0' * 16}")
    with pytest.raises(discovery.DiscoveryError, match="failed to verify the JWS signature"):
        discovery.discover(cluster.endpoint, forged, [cluster.ca_hash])


def test_discovery_waits_for_the_controller_to_sign_a_new_token(cluster: Cluster) -> None:
    value = cluster.box.kubeadm("token", "create").strip()  # the stock kubeadm; kube-controller-manager signs it
    token = tokens.parse(value)
    try:
        info = discovery.discover(cluster.endpoint, token, [cluster.ca_hash], wait=120)
        assert info.server == f"https://{ENDPOINT}"
    finally:
        cluster.box.kubeadm("token", "delete", token.token_id)


def test_a_wrong_certificate_key_fails_clearly(cluster: Cluster) -> None:
    token = tokens.parse(cluster.token)
    api = discovery.bootstrap_api(discovery.discover(cluster.endpoint, token, [cluster.ca_hash]), token)
    try:
        with pytest.raises(copycerts.CertificateKeyError) as caught:
            copycerts.download(api, bytes(32))
    finally:
        api.close()
    assert "the key is wrong" in caught.value.message
    assert caught.value.hint and "kbs init phase upload-certs --upload-certs" in caught.value.hint


def _kbs_download(
    cluster: Cluster, cert_dir: Path | None, key: str, ca_hash: str = ""
) -> subprocess.CompletedProcess[str]:
    return _run(
        sys.executable, "-m", "bootstrap", "join", "phase", "control-plane-prepare", "download-certs",
        cluster.endpoint, "--token", cluster.token, "--discovery-token-ca-cert-hash", ca_hash or cluster.ca_hash,
        "--certificate-key", key, "--control-plane", *(["--cert-dir", str(cert_dir)] if cert_dir else []),
        check=False,
    )  # fmt: skip


def test_kbs_join_download_certs_writes_the_shared_files(cluster: Cluster, tmp_path: Path) -> None:
    result = _kbs_download(cluster, tmp_path / "pki", KEY)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in SHARED:
        assert (tmp_path / "pki" / name).read_bytes() == (cluster.pki / name).read_bytes(), name
        assert (tmp_path / "pki" / name).stat().st_mode & 0o777 == (cluster.pki / name).stat().st_mode & 0o777
    assert KEY not in result.stdout + result.stderr and cluster.token not in result.stdout + result.stderr
    again = _kbs_download(cluster, tmp_path / "pki", KEY)
    assert again.returncode == 0 and "0 written, 8 unchanged" in again.stdout


def test_without_cert_dir_the_files_go_to_the_clusters_certificates_dir(cluster: Cluster) -> None:
    before = {name: (cluster.pki / name).stat().st_mtime_ns for name in SHARED}
    result = _kbs_download(cluster, None, KEY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 written, 8 unchanged" in result.stdout  # the sandbox's own pki: the same files, left untouched
    assert {name: (cluster.pki / name).stat().st_mtime_ns for name in SHARED} == before


def test_kbs_join_download_certs_refuses_a_wrong_hash_or_key_and_writes_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    wrong_hash = _kbs_download(cluster, tmp_path, KEY, ca_hash="sha256:" + "1" * 64)
    assert wrong_hash.returncode == 1
    assert "cluster CA found in the cluster-info ConfigMap is invalid" in wrong_hash.stderr
    wrong_key = _kbs_download(cluster, tmp_path, "2" * 64)
    assert wrong_key.returncode == 1
    assert "error: the certificate key does not decrypt the Secret kube-system/kubeadm-certs" in wrong_key.stderr
    assert "hint: run `kbs init phase upload-certs --upload-certs` on a control-plane node" in wrong_key.stderr
    assert not list(tmp_path.iterdir())


def test_a_second_upload_with_the_same_key_changes_nothing(cluster: Cluster) -> None:
    before = cluster.box.kubectl_json("get", "secret", "-n", "kube-system", "kubeadm-certs")
    out = cluster.box.kbs("init", "phase", "upload-certs", "--upload-certs", "--certificate-key", KEY).stdout
    assert "Secret kube-system/kubeadm-certs unchanged" in out and "nothing changed" in out
    after = cluster.box.kubectl_json("get", "secret", "-n", "kube-system", "kubeadm-certs")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_kbs_decrypts_what_stock_kubeadm_uploads_and_reuploads_over_it(
    cluster: Cluster, testbed: TestBed, tmp_path: Path
) -> None:
    config = tmp_path / "kubeadm.yaml"
    config.write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration", "certificateKey": KUBEADM_KEY},
                {
                    "apiVersion": "kubeadm.k8s.io/v1beta4",
                    "kind": "ClusterConfiguration",
                    "certificatesDir": str(cluster.pki),
                    "controlPlaneEndpoint": ENDPOINT,
                    "kubernetesVersion": "v1.37.2",
                },
            ]
        )
    )
    out = _run(
        testbed.bin("kubeadm"), "init", "phase", "upload-certs", "--upload-certs",
        "--config", config, "--kubeconfig", cluster.box.admin,
    ).stdout  # fmt: skip
    assert "[upload-certs] Storing the certificates in Secret" in out
    secret = cluster.box.kubectl_json("get", "secret", "-n", "kube-system", "kubeadm-certs")
    kubeadm_owner = secret["metadata"]["ownerReferences"]
    # kubeadm's Secret and owner token look exactly like kbs's: same data keys, type, owner fields, token keys
    assert sorted(secret["data"]) == sorted(copycerts.data_key(name) for name in SHARED)
    assert secret["type"] == "Opaque" and len(kubeadm_owner) == 1
    assert {k: v for k, v in kubeadm_owner[0].items() if k not in ("name", "uid")} == {
        "apiVersion": "v1", "kind": "Secret", "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip
    kubeadm_token = cluster.box.kubectl_json("get", "secret", "-n", "kube-system", kubeadm_owner[0]["name"])
    assert sorted(kubeadm_token["data"]) == ["description", "expiration", "token-id", "token-secret"]
    assert base64.b64decode(kubeadm_token["data"]["description"]).decode() == copycerts.TOKEN_DESCRIPTION

    token = tokens.parse(cluster.token)
    api = discovery.bootstrap_api(discovery.discover(cluster.endpoint, token, [cluster.ca_hash]), token)
    try:
        plain = copycerts.download(api, copycerts.parse_key(KUBEADM_KEY))
    finally:
        api.close()
    assert plain == {copycerts.data_key(n): (cluster.pki / n).read_bytes() for n in SHARED}

    # kbs uploads over kubeadm's Secret: one owner (its own new token), kbs's key opens it, kubeadm's no longer does
    cluster.box.kbs("init", "phase", "upload-certs", "--upload-certs", "--certificate-key", KEY)
    secret = cluster.box.kubectl_json("get", "secret", "-n", "kube-system", "kubeadm-certs")
    assert len(secret["metadata"]["ownerReferences"]) == 1 and secret["metadata"]["ownerReferences"] != kubeadm_owner
    decoded = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert copycerts.decrypt_secret({"data": secret["data"]}, copycerts.parse_key(KEY)).keys() == decoded.keys()
    with pytest.raises(copycerts.CertificateKeyError):
        copycerts.decrypt_secret({"data": secret["data"]}, copycerts.parse_key(KUBEADM_KEY))


def test_the_certificates_go_when_their_owner_token_goes(cluster: Cluster, tmp_path: Path) -> None:
    secret = cluster.box.kubectl_json("get", "secret", "-n", "kube-system", "kubeadm-certs")
    (owner,) = secret["metadata"]["ownerReferences"]
    cluster.box.kubectl("delete", "secret", "-n", "kube-system", owner["name"])  # what tokencleaner does at expiry
    wait_until(
        "the garbage collector to delete kubeadm-certs",
        lambda: cluster.box.kubectl("get", "secret", "-n", "kube-system", "kubeadm-certs", check=False).returncode,
        timeout=120,
    )
    token = tokens.parse(cluster.token)
    api = discovery.bootstrap_api(discovery.discover(cluster.endpoint, token, [cluster.ca_hash]), token)
    try:
        with pytest.raises(KbsError, match="was not found") as gone:
            copycerts.download(api, copycerts.parse_key(KEY))
    finally:
        api.close()
    assert gone.value.hint and "upload-certs --upload-certs" in gone.value.hint


def test_the_certificate_keys_are_nowhere_on_disk_nor_in_dry_run_output(cluster: Cluster) -> None:
    dry = cluster.box.kbs("init", "phase", "upload-certs", "--upload-certs", "--certificate-key", KEY, "--dry-run")
    shutil.rmtree(dry.stdout.split("writing everything under ")[1].split()[0])
    assert KEY not in dry.stdout + dry.stderr and "would create Secret kube-system/kubeadm-certs" in dry.stdout
    # logs, the reconciler's config, the ledger, etcd's data: no file kbs or the cluster wrote holds a key
    for path in cluster.box.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            raw = path.read_bytes()
            assert KEY.encode() not in raw and KUBEADM_KEY.encode() not in raw, path
