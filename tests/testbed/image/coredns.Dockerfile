# registry.k8s.io/coredns/coredns, as CoreDNS's own Dockerfile makes it: /coredns on a distroless nonroot base
# (here: the test bed's minimal rootfs), user nonroot (65532), working directory /.
# Upstream also sets cap_net_bind_service on the binary; the CoreDNS Deployment adds NET_BIND_SERVICE and
# containerd lets pods bind low ports (enable_unprivileged_ports), so port 53 works without the file capability.
FROM scratch
COPY rootfs/ /
COPY bin/coredns /coredns
USER 65532:65532
WORKDIR /
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
