# The test bed's control-plane node: a Docker engine and Python on the Debian base (Debian's docker.io and
# python3, from Debian's packages), kbs's dependencies in /opt/kbs (from the package index, as pyproject.toml
# lists them), kubeadm and kubectl; kbs's own source is mounted at /kbs and run by /usr/local/bin/kbs.
FROM @BASE@
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
COPY bin/pyproject.toml /tmp/pyproject.toml
RUN python3 -m venv /opt/kbs \
    && /opt/kbs/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"]))' >/tmp/requirements.txt \
    && /opt/kbs/bin/pip install -q --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt /tmp/pyproject.toml
COPY bin/kubeadm bin/kubectl bin/kbs-node /usr/local/bin/
RUN printf '#!/bin/sh\nexec env PYTHONPATH=/kbs /opt/kbs/bin/python -m bootstrap "$@"\n' >/usr/local/bin/kbs \
    && chmod 755 /usr/local/bin/kbs && : >/etc/machine-id
ENTRYPOINT ["/usr/local/bin/kbs-node", "control-plane"]
