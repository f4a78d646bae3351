# ghcr.io/flannel-io/flannel, as flannel's images/Dockerfile makes it: /opt/bin/flanneld (ENTRYPOINT) and
# /opt/bin/install-conf (kube-flannel.yml's install-cni init container), with iproute2, iptables and nftables,
# on the test bed's Debian base instead of Alpine.
FROM @BASE@
COPY bin/flanneld bin/install-conf /opt/bin/
ENTRYPOINT ["/opt/bin/flanneld"]
