# A distroless-like image FROM scratch (no registry needed): a minimal rootfs plus static binaries, for the
# images whose upstream is distroless too (kube-apiserver, kube-controller-manager, kube-scheduler, etcd).
# testbed.sh builds it once per component, tagged exactly like the upstream image it stands in for, after
# replacing @WORKDIR@ and @ENTRYPOINT@ (exec-form ENTRYPOINT takes no build arguments).
FROM scratch
COPY rootfs/ /
COPY bin/ /usr/local/bin/
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR @WORKDIR@
ENTRYPOINT ["@ENTRYPOINT@"]
