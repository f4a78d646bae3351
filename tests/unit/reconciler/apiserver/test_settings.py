"""ApiServerSettings: the usual kubeadm-style wiring."""

from __future__ import annotations

from pathlib import Path

from bootstrap.reconciler.apiserver import ApiServerSettings


def test_kubeadm_layout_uses_kubelet_conf_and_issues_the_serving_certificate_from_the_cluster_ca() -> None:
    settings = ApiServerSettings.kubeadm_layout(
        kubernetes_dir=Path("/etc/kubernetes"),
        cert_dir=Path("/etc/kubernetes/pki"),
        node_name="node1",
        advertise_address="10.0.0.1",
        state_dir=Path("/var/lib/kbs/reconciler"),
    )
    assert settings.kubeconfig == Path("/etc/kubernetes/kubelet.conf")
    assert settings.read_api_port == 10250
    assert settings.serving_cert == Path("/var/lib/kbs/reconciler/pki/serving.crt")
    assert settings.pki is not None and settings.pki.cert_dir == Path("/etc/kubernetes/pki")
    assert settings.pki.node_name == "node1" and settings.pki.advertise_address == "10.0.0.1"


def test_from_config_follows_the_kbs_configuration(tmp_path: Path) -> None:
    from bootstrap.config import load_config

    path = tmp_path / "kbs.yaml"
    path.write_text(
        f"""\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration: {{name: node1}}
localAPIEndpoint: {{advertiseAddress: 10.0.0.1}}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
certificatesDir: {tmp_path}/pki
encryptionAlgorithm: ECDSA-P256
---
apiVersion: kbs.dev/v1alpha1
kind: KbsConfiguration
kubernetesDir: {tmp_path}/k8s
reconciler: {{port: 20250, stateDir: {tmp_path}/state}}
"""
    )
    settings = ApiServerSettings.from_config(load_config(path))
    assert settings.kubeconfig == tmp_path / "k8s/kubelet.conf"
    assert settings.read_api_port == 20250
    assert settings.serving_key == tmp_path / "state/reconciler/pki/serving.key"
    assert settings.pki is not None and settings.pki.encryption_algorithm == "ECDSA-P256"
    assert settings.pki.cert_dir == tmp_path / "pki" and settings.pki.advertise_address == "10.0.0.1"
