# ghcr.io/flannel-io/flannel: /opt/bin/flanneld (ENTRYPOINT) with iptables and the shell tools that
# kube-flannel.yml's install-cni init container uses (cp), on the test bed's Debian base.
FROM @BASE@
COPY bin/flanneld /opt/bin/flanneld
ENTRYPOINT ["/opt/bin/flanneld"]
