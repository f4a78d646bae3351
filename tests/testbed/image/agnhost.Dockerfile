# registry.k8s.io/e2e-test-images/agnhost, laid out as kubernetes' test/images/agnhost/Dockerfile makes it
# (/agnhost, the agnhost-2 link, /uploads, porter's localhost.crt/key, the user and group e2e tests expect,
# ENTRYPOINT /agnhost, CMD pause), on the test bed's Debian base instead of Alpine (curl, nc, ip, dig, bash).
FROM @BASE@
COPY bin/agnhost /agnhost
COPY bin/localhost.crt bin/localhost.key /
RUN ln -s agnhost /agnhost-2 && mkdir /uploads \
    && groupadd -g 50000 group-defined-in-image \
    && useradd -u 1000 -M -G group-defined-in-image user-defined-in-image
WORKDIR /
EXPOSE 80 8080 8081 9376 5000
ENTRYPOINT ["/agnhost"]
CMD ["pause"]
