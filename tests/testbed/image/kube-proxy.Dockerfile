# registry.k8s.io/kube-proxy: /usr/local/bin/kube-proxy and /go-runner (ENTRYPOINT) as kubernetes'
# build/server-image makes it, on a base with the iptables/nftables/conntrack userland kube-proxy calls
# (upstream: distroless-iptables; here: the test bed's Debian base).
FROM @BASE@
COPY bin/kube-proxy /usr/local/bin/kube-proxy
COPY bin/go-runner /go-runner
ENTRYPOINT ["/go-runner"]
