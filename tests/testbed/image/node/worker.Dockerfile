# The test bed's worker node: what a kubeadm worker VM has (containerd, runc, the CNI plugins, kubelet,
# kubeadm, kubectl, crictl) on the Debian base, started by kbs-node. Run it as tests/support/nodes.py does.
FROM @BASE@
COPY bin/containerd bin/containerd-shim-runc-v2 bin/ctr bin/runc bin/crictl bin/kubelet bin/kubeadm bin/kubectl \
     bin/kbs-node /usr/local/bin/
COPY bin/cni/ /opt/cni/bin/
COPY bin/containerd.toml /etc/containerd/config.toml
COPY bin/crictl.yaml /etc/crictl.yaml
RUN mkdir -p /etc/cni/net.d /etc/kubernetes/manifests /var/lib/kubelet && : >/etc/machine-id
ENTRYPOINT ["/usr/local/bin/kbs-node", "worker"]
