# registry.k8s.io/metrics-server/metrics-server, as metrics-server's own Dockerfile makes it: the static binary at
# /metrics-server (ENTRYPOINT) on a distroless static base (here: the test bed's minimal rootfs), user 65534.
# Its components.yaml mounts an emptyDir at /tmp for the self-signed serving certificate (--cert-dir=/tmp).
FROM scratch
COPY rootfs/ /
COPY bin/metrics-server /metrics-server
USER 65534
ENTRYPOINT ["/metrics-server"]
