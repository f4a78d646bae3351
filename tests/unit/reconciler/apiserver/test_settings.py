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
