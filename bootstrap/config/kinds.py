"""The apiVersion and kind of every document kbs reads (kept free of imports so the CLI can read it cheaply)."""

from __future__ import annotations

from typing import Final

KUBEADM_API_VERSION: Final = "kubeadm.k8s.io/v1beta4"
INIT_KIND: Final = "InitConfiguration"
CLUSTER_KIND: Final = "ClusterConfiguration"
KBS_API_VERSION: Final = "kbs.dev/v1alpha1"
KBS_KIND: Final = "KbsConfiguration"
