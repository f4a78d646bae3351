"""kbs's certificate tree against the real tools: openssl, and the test bed's kubeadm.

For the same kubeadm configuration file, `kbs certs generate` must write what `kubeadm init phase certs all` +
`kubeadm init phase kubeconfig all` write: the same files and modes, and certificates whose x509 fields are equal
except serials, keys and times (tests/unit/pki/fields.py says exactly what is compared). Each tool must also take
the other's tree as its own: kubeadm reports "Using existing" for everything in kbs's tree, kbs keeps kubeadm's.
Everything happens in pytest tmp dirs; `kubeadm certs check-expiration` runs chrooted (--rootfs) into one.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.real.conftest import TestBed
from tests.unit.pki.fields import fields, key_identifiers, kubeconfig_cert, kubeconfig_shape, load

KUBECONFIGS = ("admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf")
LEAF_PURPOSES = {
    "apiserver": ("ca", ["sslserver"]),
    "apiserver-kubelet-client": ("ca", ["sslclient"]),
    "front-proxy-client": ("front-proxy-ca", ["sslclient"]),
    "etcd/server": ("etcd/ca", ["sslserver", "sslclient"]),
    "etcd/peer": ("etcd/ca", ["sslserver", "sslclient"]),
    "etcd/healthcheck-client": ("etcd/ca", ["sslclient"]),
    "apiserver-etcd-client": ("etcd/ca", ["sslclient"]),
}

# Two clusters that exercise every SAN rule: IPv4 with an endpoint, extra SANs and dual-stack services; IPv6.
NETWORKS = {
    "ipv4": {
        "address": "10.1.2.3",
        "endpoint": "cp.example.com:7443",
        "sans": ["1.2.3.4", "foo.example", "*.wild.example", "fd00::1"],
        "services": "10.96.0.0/12,fd00:10:96::/112",
    },
    "ipv6": {"address": "fd00:1::10", "endpoint": "[fd00:1::1]:6443", "sans": [], "services": "fd00:10:96::/112"},
}


def kubeadm_config(cert_dir: str, algorithm: str, network: str) -> str:
    net = NETWORKS[network]
    init = {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "InitConfiguration",
        "localAPIEndpoint": {"advertiseAddress": net["address"], "bindPort": 6443},
        "nodeRegistration": {"name": "node-a"},
    }
    cluster = {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": "v1.37.2",
        "clusterName": "kbs-test",
        "certificatesDir": cert_dir,
        "encryptionAlgorithm": algorithm,
        "controlPlaneEndpoint": net["endpoint"],
        "apiServer": {"certSANs": net["sans"]},
        "etcd": {"local": {"serverCertSANs": ["etcd.example"], "peerCertSANs": ["10.9.9.9"]}},
        "networking": {"serviceSubnet": net["services"], "dnsDomain": "corp.internal"},
    }
    return yaml.safe_dump_all([init, cluster], sort_keys=False)


def run(*args: str | Path) -> str:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def kbs(*args: str | Path) -> str:
    return run(sys.executable, "-m", "bootstrap", *args)


def make_tree(tool: str, testbed: TestBed, root: Path, algorithm: str, network: str) -> Path:
    """Write the tree with `tool` (kbs or kubeadm) under root/etc/kubernetes; returns that directory."""
    kdir = root / "etc" / "kubernetes"
    kdir.mkdir(parents=True)
    config = root / "kubeadm.yaml"
    config.write_text(kubeadm_config(str(kdir / "pki"), algorithm, network))
    if tool == "kubeadm":
        run(testbed.bin("kubeadm"), "init", "phase", "certs", "all", "--config", config)
        run(testbed.bin("kubeadm"), "init", "phase", "kubeconfig", "all", "--config", config, "--kubeconfig-dir", kdir)
    else:
        kbs("certs", "generate", "--config", config, "--kubernetes-dir", kdir)
    return kdir


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def tree_files(kdir: Path) -> dict[str, int]:
    return {str(p.relative_to(kdir)): p.stat().st_mode & 0o7777 for p in kdir.rglob("*") if p.is_file()}


def masked(text: str) -> str:
    return re.sub(r"(-data: ).*", r"\1<data>", text)


@pytest.mark.parametrize(
    ("algorithm", "network"),
    [
        ("RSA-2048", "ipv4"),
        ("RSA-3072", "ipv6"),
        ("RSA-4096", "ipv4"),
        ("ECDSA-P256", "ipv6"),
        ("ECDSA-P256", "ipv4"),
        ("ECDSA-P384", "ipv4"),
    ],
)
def test_kbs_writes_the_certificates_and_kubeconfigs_kubeadm_writes(
    testbed: TestBed, tmp_path: Path, algorithm: str, network: str
) -> None:
    theirs = make_tree("kubeadm", testbed, tmp_path / "kubeadm", algorithm, network)
    ours = make_tree("kbs", testbed, tmp_path / "kbs", algorithm, network)

    assert tree_files(ours) == tree_files(theirs)  # same files, same modes
    for name in tree_files(theirs):
        path = Path(name)
        if path.suffix == ".crt":
            assert fields(load(ours / path)) == fields(load(theirs / path)), name
        elif path.suffix in (".key", ".pub"):
            assert (ours / path).read_text().splitlines()[0] == (theirs / path).read_text().splitlines()[0], name
        else:
            assert kubeconfig_shape(ours / path) == kubeconfig_shape(theirs / path), name
            assert masked((ours / path).read_text()) == masked((theirs / path).read_text()), name

    # kbs's additions: every certificate has an SKID, and its AKID is the issuer's SKID
    cas = {ca: load(ours / "pki" / f"{ca}.crt") for ca in ("ca", "front-proxy-ca", "etcd/ca")}
    for ca in cas.values():
        assert key_identifiers(ca)[0] is not None
        assert key_identifiers(ca)[1] == key_identifiers(ca)[0]
    for leaf, (ca_name, _) in LEAF_PURPOSES.items():
        ski, aki = key_identifiers(load(ours / "pki" / f"{leaf}.crt"))
        assert ski is not None
        assert aki == key_identifiers(cas[ca_name])[0]


@pytest.mark.parametrize("algorithm", ["RSA-2048", "ECDSA-P384"])
def test_openssl_verifies_every_certificate_against_its_ca(testbed: TestBed, tmp_path: Path, algorithm: str) -> None:
    kdir = make_tree("kbs", testbed, tmp_path, algorithm, "ipv4")
    pki_dir = kdir / "pki"
    for ca in ("ca", "front-proxy-ca", "etcd/ca"):
        out = run("openssl", "verify", "-x509_strict", "-CAfile", pki_dir / f"{ca}.crt", pki_dir / f"{ca}.crt")
        assert out.strip() == f"{pki_dir / ca}.crt: OK"
    for leaf, (ca, purposes) in LEAF_PURPOSES.items():
        for purpose in purposes:
            cmd = ["openssl", "verify", "-x509_strict", "-purpose", purpose, "-CAfile", f"{pki_dir / ca}.crt"]
            out = run(*cmd, pki_dir / f"{leaf}.crt")
            assert out.strip() == f"{pki_dir / leaf}.crt: OK"
    for conf in KUBECONFIGS:
        extracted = tmp_path / f"{conf}.pem"
        extracted.write_bytes(
            base64.b64decode(yaml.safe_load((kdir / conf).read_text())["users"][0]["user"]["client-certificate-data"])
        )
        out = run(
            "openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", pki_dir / "ca.crt", extracted
        )
        assert out.strip() == f"{extracted}: OK"
        assert kubeconfig_cert(kdir / conf).issuer == load(pki_dir / "ca.crt").subject


def test_kubeadm_check_expiration_reads_the_kbs_tree(testbed: TestBed, tmp_path: Path) -> None:
    kdir = make_tree("kbs", testbed, tmp_path, "ECDSA-P256", "ipv4")
    # the same configuration as kubeadm sees it inside the chroot
    (tmp_path / "chroot.yaml").write_text(kubeadm_config("/etc/kubernetes/pki", "ECDSA-P256", "ipv4"))
    check = [testbed.bin("kubeadm"), "certs", "check-expiration", "--rootfs", str(tmp_path), "--config", "/chroot.yaml"]
    result = subprocess.run(check, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower()
    assert "MISSING" not in result.stdout
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    names = ["admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client", "controller-manager.conf",
             "etcd-healthcheck-client", "etcd-peer", "etcd-server", "front-proxy-client", "scheduler.conf",
             "super-admin.conf", "ca", "etcd-ca", "front-proxy-ca"]  # fmt: skip
    for name in names:
        assert rows[name].rstrip().endswith("no"), rows[name]
    doc = json.loads(run(*check, "-o", "json"))
    assert len(doc["certificates"]) == 11
    assert len(doc["certificateAuthorities"]) == 3
    assert not [c for c in doc["certificates"] + doc["certificateAuthorities"] if c["missing"]]
    assert {c["caName"] for c in doc["certificates"]} == {"ca", "etcd-ca", "front-proxy-ca"}
    # and kbs's own table says the same
    ours = json.loads(kbs("certs", "check-expiration", "--config", tmp_path / "kubeadm.yaml",
                          "--kubernetes-dir", kdir, "-o", "json"))  # fmt: skip
    assert [(c["name"], c["expirationDate"]) for c in ours["certificates"]] == [
        (c["name"], c["expirationDate"]) for c in doc["certificates"]
    ]


def test_kubeadm_takes_the_kbs_tree_as_existing_and_changes_nothing(testbed: TestBed, tmp_path: Path) -> None:
    kdir = make_tree("kbs", testbed, tmp_path, "RSA-2048", "ipv4")
    before = snapshot(kdir)
    config = tmp_path / "kubeadm.yaml"
    out = run(testbed.bin("kubeadm"), "init", "phase", "certs", "all", "--config", config)
    out += run(
        testbed.bin("kubeadm"), "init", "phase", "kubeconfig", "all", "--config", config, "--kubeconfig-dir", kdir
    )
    assert "Generating" not in out
    assert "Writing" not in out
    assert out.count("Using existing") == 10 + 5
    assert snapshot(kdir) == before


def test_kbs_keeps_a_tree_made_by_kubeadm_byte_for_byte(testbed: TestBed, tmp_path: Path) -> None:
    kdir = make_tree("kubeadm", testbed, tmp_path, "ECDSA-P256", "ipv6")
    before = snapshot(kdir)
    out = kbs("certs", "generate", "--config", tmp_path / "kubeadm.yaml", "--kubernetes-dir", kdir)
    assert out.splitlines()[-1] == "0 created, 16 kept"
    assert snapshot(kdir) == before


def test_kubeadm_renews_a_kbs_tree_and_kbs_renews_a_kubeadm_tree(testbed: TestBed, tmp_path: Path) -> None:
    ours = make_tree("kbs", testbed, tmp_path / "kbs", "ECDSA-P256", "ipv4")
    (tmp_path / "kbs" / "chroot.yaml").write_text(kubeadm_config("/etc/kubernetes/pki", "ECDSA-P256", "ipv4"))
    run(testbed.bin("kubeadm"), "certs", "renew", "all", "--rootfs", tmp_path / "kbs", "--config", "/chroot.yaml")
    out = kbs("certs", "generate", "--config", tmp_path / "kbs" / "kubeadm.yaml", "--kubernetes-dir", ours)
    assert out.splitlines()[-1] == "0 created, 16 kept"

    theirs = make_tree("kubeadm", testbed, tmp_path / "kubeadm", "ECDSA-P256", "ipv4")
    before = fields(load(theirs / "pki" / "apiserver.crt"))
    out = kbs("certs", "renew", "all", "--config", tmp_path / "kubeadm" / "kubeadm.yaml", "--kubernetes-dir", theirs)
    assert "You must restart the etcd, kube-apiserver, kube-controller-manager and kube-scheduler" in out
    assert fields(load(theirs / "pki" / "apiserver.crt")) == before
    kubeadm_config_path = tmp_path / "kubeadm" / "kubeadm.yaml"
    out = run(testbed.bin("kubeadm"), "init", "phase", "certs", "all", "--config", kubeadm_config_path)
    assert "Generating" not in out
