# The labs' API server load balancer: Debian's HAProxy on the test bed's Debian base (no registry needed).
# bin/kbs-lb writes haproxy.cfg from BACKENDS ("host:port ..."), health-checking each API server's /readyz.
FROM @BASE@
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/*
COPY bin/kbs-lb /usr/local/bin/kbs-lb
ENTRYPOINT ["/usr/local/bin/kbs-lb"]
