# The test bed's control-plane node: a Docker engine and Python on the Debian base (Debian's docker.io and
# python3, from Debian's packages), kbs's dependencies in /opt/kbs (wheels testbed.sh fetched on the host from
# the package index, as pyproject.toml lists them: no network is needed inside the build), kubeadm and kubectl;
# kbs's own source is mounted at /kbs and run by /usr/local/bin/kbs.
FROM @BASE@
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
COPY bin/wheels/ /tmp/wheels/
RUN python3 -m venv /opt/kbs \
    && /opt/kbs/bin/pip install -q --no-cache-dir --no-index --find-links /tmp/wheels -r /tmp/wheels/requirements.txt \
    && rm -rf /tmp/wheels
COPY bin/kubeadm bin/kubectl bin/kbs-node /usr/local/bin/
RUN printf '#!/bin/sh\nexec env PYTHONPATH=/kbs PYTHONDONTWRITEBYTECODE=1 /opt/kbs/bin/python -m bootstrap "$@"\n' >/usr/local/bin/kbs \
    && chmod 755 /usr/local/bin/kbs && : >/etc/machine-id
ENTRYPOINT ["/usr/local/bin/kbs-node", "control-plane"]
