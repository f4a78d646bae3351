"""kbs's Kubernetes API layer: a small client interface (lightkube underneath), bootstrap tokens, cluster-info.

api          KubeAPI (the interface), LightkubeAPI (the real one), Change, contains()
memory       MemoryAPI: dry-run client and unit-test seam, records Actions
token        BootstrapToken: generate, parse, the Secret it lives in
clusterinfo  kube-public/cluster-info, its detached JWS and the CA pin `kubeadm join` checks
"""

from bootstrap.kube.api import Change, KubeAPI, LightkubeAPI, Obj, contains, describe
from bootstrap.kube.memory import Action, MemoryAPI

__all__ = ["Action", "Change", "KubeAPI", "LightkubeAPI", "MemoryAPI", "Obj", "contains", "describe"]
