"""For the default configuration kbs writes byte for byte what the real kubeadm of each supported minor wrote.

The golden files are kubeadm's own output (`init phase control-plane all` + `init phase etcd local`, v1.37.2,
v1.36.3, v1.35.4) for advertiseAddress 10.0.0.10 and node name node-a.
"""

from __future__ import annotations

import pytest

from bootstrap import versions
from bootstrap.config import Overrides
from tests.unit.render.conftest import GOLDEN, Render

VERSIONS = [row.version for row in versions.supported()]


@pytest.mark.parametrize("version", VERSIONS)
def test_default_manifests_are_byte_identical_to_kubeadm(render: Render, version: str) -> None:
    manifests = render(Overrides(kubernetes_version=version))
    assert sorted(manifests) == sorted(p.stem for p in (GOLDEN / version).glob("*.yaml"))
    for component, text in manifests.items():
        assert text == (GOLDEN / version / f"{component}.yaml").read_text(), component


def test_same_config_gives_the_same_bytes(render: Render) -> None:
    assert render(Overrides(pod_network_cidr="10.244.0.0/16")) == render(Overrides(pod_network_cidr="10.244.0.0/16"))
