# ghcr.io/flannel-io/flannel-cni-plugin: the `flannel` CNI binary at /flannel, copied to the node's
# /opt/cni/bin by kube-flannel.yml's install-cni-plugin init container (`cp -f /flannel /opt/cni/bin/flannel`).
FROM @BASE@
COPY bin/flannel /flannel
