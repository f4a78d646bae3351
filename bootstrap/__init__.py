"""kbs: bootstrap a Kubernetes control plane from static pods, the way kubeadm does.

Layers, upstream to downstream (nothing reaches back):
config -> pki and render -> files in the staticPodPath -> reconciler -> Docker and the API server.
"""

__version__ = "0.1.0"
