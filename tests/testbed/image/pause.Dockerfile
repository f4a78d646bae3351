# registry.k8s.io/pause, as kubernetes' build/pause/Dockerfile makes it: the static binary at /pause, run as
# 65535:65535.
FROM scratch
COPY bin/pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
