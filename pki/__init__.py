"""kbs's PKI: a kubeadm-compatible certificate tree and kubeconfig files, made with `cryptography`."""

from pki.context import PKIContext

__all__ = ["PKIContext"]
