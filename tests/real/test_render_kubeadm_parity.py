"""kbs renders the Pods the test bed's kubeadm writes, for each supported minor and a set of configurations.

For every scenario and minor, the same kubeadm v1beta4 file goes to kbs (render_manifests, in process) and to the
real kubeadm of that minor (`init phase control-plane all` and `init phase etcd local`, --dry-run with
KUBEADM_INIT_DRYRUN_DIR pointing at a temp dir, same environment). The Pods are compared structurally. A difference
fails the test unless docs/kubeadm-compatibility.md lists it (scenario, component, field) with its reason.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from bootstrap import versions
from bootstrap.config import load_config
from bootstrap.render import render_manifests

if TYPE_CHECKING:
    from tests.real.conftest import TestBed

DOC = Path(__file__).resolve().parents[2] / "docs" / "kubeadm-compatibility.md"
VERSIONS = [row.version for row in versions.supported()]

INIT = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: {address}
nodeRegistration:
  name: parity-node
"""
CLUSTER = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: {version}
certificatesDir: {pki}
"""

# name -> (InitConfiguration addition or replacement, ClusterConfiguration addition, extra environment)
SCENARIOS: dict[str, tuple[str | None, str, dict[str, str]]] = {
    "defaults": ("", "", {}),
    "machine-defaults": (None, "", {}),  # no InitConfiguration: both pick the default-route address and hostname
    "ipv6": (
        "  bindPort: 7443\n",
        "networking:\n  serviceSubnet: fd00:10::/108\n  podSubnet: fd00:20::/56\n",
        {},
    ),
    "dual-stack": (
        "",
        "networking:\n  serviceSubnet: 10.96.0.0/12,fd00:10::/108\n  podSubnet: 10.244.0.0/16,fd00:20::/56\n",
        {},
    ),
    "external-etcd": (
        "",
        "etcd:\n  external:\n    endpoints: [https://10.1.0.1:2379, https://10.1.0.2:2379]\n"
        "    caFile: /etc/etcd/pki/ca.crt\n    certFile: /etc/etcd/pki/client/c.crt\n    keyFile: /srv/etcd/c.key\n",
        {},
    ),
    "pod-subnet": ("", "networking:\n  podSubnet: 10.244.0.0/16\n  dnsDomain: corp.internal\nclusterName: prod\n", {}),
    "extra-args": (
        "",
        "apiServer:\n  extraArgs:\n"
        "  - {name: feature-gates, value: B=true}\n  - {name: feature-gates, value: A=true}\n"
        "  - {name: authorization-mode, value: 'Node,RBAC,Webhook'}\n  - {name: v, value: '- x: y # z'}\n"
        "controllerManager:\n  extraArgs:\n  - {name: bind-address, value: 0.0.0.0}\n"
        "  - {name: controllers, value: '*'}\n"
        "scheduler:\n  extraArgs:\n  - {name: bind-address, value: '::'}\n"
        "etcd:\n  local:\n    dataDir: /data/etcd/\n    extraArgs:\n"
        "    - {name: listen-metrics-urls, value: 'http://127.0.0.1:2399'}\n"
        "    - {name: advertise-client-urls, value: 'https://10.0.0.99:2379'}\n",
        {},
    ),
    "authorization-config": (
        "",
        "apiServer:\n  extraArgs:\n  - {name: authorization-config, value: /etc/authz.yaml}\n",
        {},
    ),
    "extra-volumes-envs": (
        "",
        "apiServer:\n  extraVolumes:\n"
        "  - {name: audit, hostPath: /var/log/audit, mountPath: /audit, pathType: DirectoryOrCreate}\n"
        "  - {name: ca-certs, hostPath: /opt/certs, mountPath: /etc/ssl/certs, readOnly: true}\n"
        "  extraEnvs:\n  - {name: ZZ, value: z}\n  - {name: HTTPS_PROXY, value: mine}\n"
        "scheduler:\n  extraVolumes:\n  - {name: cfg, hostPath: /etc/sched, mountPath: /etc/sched, readOnly: true}\n"
        "etcd:\n  local:\n    extraEnvs:\n    - {name: ETCD_X, value: '1'}\n",
        {"HTTPS_PROXY": "http://proxy.invalid:3128", "no_proxy": "localhost"},
    ),
    "control-plane-endpoint": (
        "",
        "controlPlaneEndpoint: cp.example.com:8443\nimageRepository: mirror.example.com/k8s\n",
        {},
    ),
    "etcd-35-image": (
        "",
        "etcd:\n  local:\n    imageTag: 3.5.21-0\n    imageRepository: quay.example.com/coreos\n",
        {},
    ),
    "timeouts": ("timeouts:\n  controlPlaneComponentHealthCheck: 95s\n", "", {}),
    # kubeadm takes an empty string for its default (SetDefaults_ClusterConfiguration)
    "empty-strings": (
        "",
        "imageRepository: ''\nclusterName: ''\nnetworking:\n  serviceSubnet: ''\n  dnsDomain: ''\n"
        "etcd:\n  local:\n    dataDir: ''\n",
        {},
    ),
    # kubeadm trims and lower-cases the node name (GetHostname) and lower-cases apiServer.certSANs
    "normalized-names": (
        "nodeRegistration:\n  name: ' Parity-Node '\n",
        "apiServer:\n  certSANs: [Parity.Example.COM, 10.0.0.77]\n",
        {},
    ),
}


def _config_text(name: str, version: str, tmp: Path) -> str:
    init, cluster, _ = SCENARIOS[name]
    address = "fd00::10" if name == "ipv6" else "10.0.0.10"
    cluster_doc = CLUSTER.format(version=version, pki=tmp / "pki") + cluster
    if init is None:
        return cluster_doc
    init_doc = INIT.format(address=address)
    if init.startswith("nodeRegistration:"):  # a replacement of the node registration
        init_doc = init_doc[: init_doc.index("nodeRegistration:")] + init
    elif init.startswith("  "):  # an addition under localAPIEndpoint
        init_doc = init_doc.replace("  advertiseAddress", init + "  advertiseAddress")
    else:
        init_doc += init
    return init_doc + "---\n" + cluster_doc


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


def _kubeadm(binary: str, config: Path, out: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    out.mkdir()
    for phase in (["control-plane", "all"], ["etcd", "local"]):
        result = subprocess.run(
            [binary, "init", "phase", *phase, "--config", str(config), "--dry-run"],
            env={**env, "KUBEADM_INIT_DRYRUN_DIR": str(out)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"kubeadm init phase {' '.join(phase)} failed: {result.stderr}"
    return {p.stem: yaml.safe_load(p.read_text()) for p in out.glob("*.yaml")}


def differences(ours: Any, theirs: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(field path, kbs value, kubeadm value) for every leaf or length that differs."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(ours) | set(theirs)):
            out += differences(ours.get(key), theirs.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        out = []
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            out += differences(a, b, f"{path}[{index}]")
        return out
    return [] if ours == theirs else [(path, ours, theirs)]


def listed_differences() -> list[tuple[str, str, str]]:
    """(scenario, component, field prefix) rows of the documented-differences table in the compatibility doc."""
    text = DOC.read_text()
    match = re.search(r"<!-- differences:start -->(.*?)<!-- differences:end -->", text, re.S)
    assert match, f"{DOC} has no differences table"
    rows = []
    for line in match[1].splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0] not in ("scenario", "") and not set(cells[0]) <= {"-", ":"}:
            rows.append((cells[0], cells[1], cells[2]))
    return rows


def _is_listed(scenario: str, component: str, field: str, rows: list[tuple[str, str, str]]) -> bool:
    return any(s in ("*", scenario) and c in ("*", component) and field.startswith(prefix) for s, c, prefix in rows)


def scenario_config(tmp_path: Path, scenario: str, version: str) -> tuple[Path, dict[str, str]]:
    """The scenario's kubeadm.yaml for `version`, written under tmp_path, and the environment both tools run in."""
    config = tmp_path / "kubeadm.yaml"
    config.write_text(_config_text(scenario, version, tmp_path))
    return config, _environment(SCENARIOS[scenario][2])


def unlisted_differences(scenario: str, ours: dict[str, Any], theirs: dict[str, Any], prefix: str = "") -> list[str]:
    """`component: field: kbs x != kubeadm y` for each difference the compatibility doc does not list (its component
    column names `prefix` + the key, e.g. `addon:Deployment kube-system/coredns`)."""
    rows = listed_differences()
    return [
        f"{component}: {field}: kbs {a!r} != kubeadm {b!r}"
        for component in ours
        for field, a, b in differences(ours[component], theirs[component])
        if not _is_listed(scenario, prefix + component, field, rows)
    ]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kbs_pods_match_kubeadm(testbed: TestBed, tmp_path: Path, scenario: str, version: str) -> None:
    config, env = scenario_config(tmp_path, scenario, version)
    theirs = _kubeadm(testbed.kubeadm(version), config, tmp_path / "kubeadm-out", env)
    ours = {name: yaml.safe_load(text) for name, text in render_manifests(load_config(config), environ=env).items()}
    assert sorted(ours) == sorted(theirs), "kbs and kubeadm wrote different sets of manifests"
    unlisted = unlisted_differences(scenario, ours, theirs)
    assert not unlisted, "differences not listed in docs/kubeadm-compatibility.md:\n" + "\n".join(unlisted)
