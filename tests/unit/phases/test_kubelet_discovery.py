"""--reconciler kubelet: the installed kubelet's staticPodPath read from its flags and files (a fake /proc and root),
the clear errors when it cannot be, and the kubelet client certificates `kbs reset` removes."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bootstrap.config import load_config
from bootstrap.config.overrides import Overrides
from bootstrap.errors import ConfigError
from bootstrap.phases import kubelet
from tests.unit.phases.conftest import make_cfg


def kubelet_process(root: Path, argv: list[str], pid: int = 42, cwd: str | None = None) -> Path:
    """`root`/proc with one process; `root` doubles as the machine's / for the files the kubelet names."""
    entry = root / "proc" / str(pid)
    entry.mkdir(parents=True)
    (entry / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
    if cwd is not None:
        os.symlink(cwd, entry / "cwd")
    return root / "proc"


def put(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_the_drop_in_directory_wins_over_the_config_file_and_the_last_drop_in_wins(tmp_path: Path) -> None:
    put(tmp_path, "/etc/kubelet.yaml", "staticPodPath: /from/config\n")
    put(tmp_path, "/etc/kubelet.conf.d/10-a.conf", "staticPodPath: /from/a\n")
    put(tmp_path, "/etc/kubelet.conf.d/20-b.conf", "staticPodPath: /from/b/\n")
    put(tmp_path, "/etc/kubelet.conf.d/30-c.conf", "maxPods: 10\n")
    put(tmp_path, "/etc/kubelet.conf.d/99-ignored.yaml", "staticPodPath: /not/a/drop-in\n")
    proc = kubelet_process(tmp_path, ["kubelet", "--config=/etc/kubelet.yaml", "--config-dir", "/etc/kubelet.conf.d"])
    found = kubelet.detect(None, proc=proc, root=tmp_path)
    assert found.path == Path("/from/b") and "/etc/kubelet.conf.d/20-b.conf" in found.source


def test_relative_config_and_static_pod_path_are_resolved_like_the_kubelet(tmp_path: Path) -> None:
    put(tmp_path, "/srv/node/kubelet.yaml", "staticPodPath: pods/\n")
    proc = kubelet_process(tmp_path, ["/usr/bin/kubelet", "-config", "kubelet.yaml"], pid=9, cwd="/srv/node")
    found = kubelet.detect(None, proc=proc, root=tmp_path)
    assert found.path == Path("/srv/node/pods")
    assert found.source == "staticPodPath in /srv/node/kubelet.yaml (kubelet --config, pid 9)"


def test_a_kubelet_config_that_is_not_yaml_names_the_file_and_the_field(tmp_path: Path) -> None:
    put(tmp_path, "/var/lib/kubelet/config.yaml", "staticPodPath: [\n")
    proc = kubelet_process(tmp_path, ["kubelet", "--config=/var/lib/kubelet/config.yaml"])
    with pytest.raises(ConfigError) as err:
        kubelet.detect(None, proc=proc, root=tmp_path)
    assert "/var/lib/kubelet/config.yaml is not valid YAML" in str(err.value) and "staticPodPath" in str(err.value)


def test_an_unreadable_kubelet_config_names_the_file(tmp_path: Path) -> None:
    proc = kubelet_process(tmp_path, ["kubelet", "--config=/etc/missing.yaml"])
    with pytest.raises(ConfigError) as err:
        kubelet.detect(None, proc=proc, root=tmp_path)
    assert "cannot read the kubelet's configuration /etc/missing.yaml" in str(err.value)


def test_a_static_pod_path_that_is_not_a_string_is_named(tmp_path: Path) -> None:
    put(tmp_path, "/etc/kubelet.yaml", "staticPodPath: [a, b]\n")
    proc = kubelet_process(tmp_path, ["kubelet", "--config=/etc/kubelet.yaml"])
    with pytest.raises(ConfigError, match=r"/etc/kubelet.yaml: staticPodPath must be a path"):
        kubelet.detect(None, proc=proc, root=tmp_path)


def test_a_running_kubelet_that_reads_no_static_pods_is_an_error(tmp_path: Path) -> None:
    put(tmp_path, "/etc/kubelet.yaml", "kind: KubeletConfiguration\n")
    put(tmp_path, "/var/lib/kubelet/config.yaml", "staticPodPath: /etc/kubernetes/manifests\n")
    proc = kubelet_process(tmp_path, ["kubelet", "--config=/etc/kubelet.yaml"], pid=77)
    with pytest.raises(ConfigError) as err:
        kubelet.detect(None, proc=proc, root=tmp_path)
    assert "pid 77, --config /etc/kubelet.yaml" in str(err.value) and "reads no static pods" in str(err.value)


def test_a_kubelet_not_running_yet_is_found_by_kubeadms_config(tmp_path: Path) -> None:
    put(tmp_path, "/var/lib/kubelet/config.yaml", "staticPodPath: /etc/kubernetes/manifests\n")
    found = kubelet.detect(None, proc=kubelet_process(tmp_path, ["/sbin/init"]), root=tmp_path)
    assert found.path == Path("/etc/kubernetes/manifests") and "not running yet" in found.source


def test_kubelet_mode_leaves_the_static_pod_path_to_discovery() -> None:
    found = load_config(None, Overrides(reconciler_mode="kubelet", node_name="n1"))
    assert found.kbs.static_pod_path is None
    bundled = load_config(None, Overrides(node_name="n1"))
    assert bundled.kbs.static_pod_path == bundled.kubernetes_dir / "manifests"


def test_resolve_keeps_an_explicit_path_and_leaves_other_modes_alone(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, mode="none")
    assert kubelet.resolve(cfg) == (cfg, None)
    explicit = load_config(None, Overrides(reconciler_mode="kubelet", node_name="n1", static_pod_path="/srv/pods"))
    resolved, found = kubelet.resolve(explicit)
    assert resolved.manifests_dir == Path("/srv/pods") and found is not None and "explicit" in found.source


def _certificate(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, ca: bool = False
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    own = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key((key if ca else own).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_client_certificates_of_the_cluster_are_found_with_their_current_link(tmp_path: Path) -> None:
    ca_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = _certificate("kubernetes", ca_name, ca_key, ca=True)
    ours = _certificate("system:node:n1", ca_name, ca_key)
    foreign = _certificate("system:node:n1", ca_name, other_key)  # same issuer name, another CA's signature
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "kubelet-client-2026-01-01-00-00-00.pem").write_bytes(_pem(ours))
    (pki / "kubelet-client-2025-01-01-00-00-00.pem").write_bytes(_pem(foreign))
    (pki / "kubelet.crt").write_bytes(_pem(ours))  # the serving certificate: the kubelet's own, never removed
    os.symlink(pki / "kubelet-client-2026-01-01-00-00-00.pem", pki / "kubelet-client-current.pem")
    found = kubelet.client_certificates_issued_by(_pem(ca), pki)
    assert [p.name for p in found] == ["kubelet-client-2026-01-01-00-00-00.pem", "kubelet-client-current.pem"]
    assert kubelet.client_certificates_issued_by(_pem(ca), tmp_path / "absent") == []


def test_the_kubelets_cert_dir_comes_from_its_flags(tmp_path: Path) -> None:
    assert kubelet.cert_dir(kubelet_process(tmp_path / "a", ["kubelet", "--root-dir=/data/kubelet"])) == Path(
        "/data/kubelet/pki"
    )
    assert kubelet.cert_dir(kubelet_process(tmp_path / "b", ["kubelet", "--cert-dir", "/pki"])) == Path("/pki")
    assert kubelet.cert_dir(kubelet_process(tmp_path / "c", ["/sbin/init"])) == kubelet.KUBELET_CERT_DIR
