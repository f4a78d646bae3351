"""kbs builds the addon objects the test bed's kubeadm creates, for each supported minor and parity configuration.

The configurations are test_render_kubeadm_parity's. kubeadm runs `init phase addon all --dry-run` against a
dry-run directory holding the CA and admin.conf it made itself (`init phase certs ca`, `init phase kubeconfig
admin`), and prints every object it would create; kbs builds its objects in process (bootstrap.phases.addon).
Objects are matched by kind/namespace/name and compared structurally. Normalized, because they are not part of
the object kubeadm sends: `status` (the dry-run client's echo) and empty maps (`resources: {}`, Go's zero
structs), and the Service's `metadata.resourceVersion: "0"` (kubeadm's update trick; kbs applies server-side).
A remaining difference fails unless docs/kubeadm-compatibility.md lists it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from bootstrap.config import load_config
from bootstrap.phases import addon
from bootstrap.phases.context import InitData
from tests.real.test_render_kubeadm_parity import (
    SCENARIOS,
    VERSIONS,
    _config_text,
    _environment,
    differences,
    scenario_config,
    unlisted_differences,
)

if TYPE_CHECKING:
    from tests.real.conftest import TestBed

MARK = "[dryrun] Attached object:"


class _Quiet:
    def line(self, phase: str, text: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


def _objects_in(output: str) -> list[dict[str, Any]]:
    """The YAML documents kubeadm's dry-run client prints after each `Attached object:` line."""
    found = []
    for block in output.split(MARK)[1:]:
        lines = []
        for line in block.splitlines()[1:]:
            if line.startswith("[") or (line and not line[0].isspace() and ":" not in line):
                break
            lines.append(line)
        found.append(yaml.safe_load("\n".join(lines)))
    return found


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items() if k != "status"}
        return {k: v for k, v in pruned.items() if v != {}}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}"


def kubeadm_addon_objects(binary: str, config: Path, out: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    out.mkdir()
    run_env = {**env, "KUBEADM_INIT_DRYRUN_DIR": str(out)}
    result = None
    for phase in (["certs", "ca"], ["kubeconfig", "admin"], ["addon", "all"]):
        result = subprocess.run(
            [binary, "init", "phase", *phase, "--config", str(config), "--dry-run"],
            env=run_env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"kubeadm init phase {' '.join(phase)} failed: {result.stderr}"
    assert result is not None
    objects = {}
    for printed in _objects_in(result.stdout):
        obj = _prune(printed)
        obj["metadata"].pop("resourceVersion", None)
        objects[_key(obj)] = obj
    return objects


def kbs_addon_objects(config: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    data = InitData(cfg=load_config(config), out=_Quiet())
    return {_key(o): o for o in [*addon.coredns_objects(data), *addon.kube_proxy_objects(data, environ=env)]}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kbs_addon_objects_match_kubeadm(testbed: TestBed, tmp_path: Path, scenario: str, version: str) -> None:
    config, env = scenario_config(tmp_path, scenario, version)
    theirs = kubeadm_addon_objects(testbed.kubeadm(version), config, tmp_path / "kubeadm-out", env)
    ours = kbs_addon_objects(config, env)
    assert sorted(ours) == sorted(theirs), "kbs and kubeadm made different sets of addon objects"
    unlisted = unlisted_differences(scenario, ours, theirs, prefix="addon:")
    assert not unlisted, "differences not listed in docs/kubeadm-compatibility.md:\n" + "\n".join(unlisted)


def test_kube_proxy_configuration_document_is_used_like_kubeadm(testbed: TestBed, tmp_path: Path) -> None:
    """A KubeProxyConfiguration in --config: kubeadm and kbs put the same effective config in the ConfigMap."""
    version = VERSIONS[0]
    config = tmp_path / "kubeadm.yaml"
    config.write_text(
        _config_text("pod-subnet", version, tmp_path)
        + "---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n"
        "nodePortAddresses: [10.0.0.0/8]\nconntrack:\n  tcpEstablishedTimeout: 1h\nipvs:\n  syncPeriod: 90s\n"
        "featureGates:\n  SomeGate: true\n"
    )
    env = _environment({})
    theirs = kubeadm_addon_objects(testbed.kubeadm(version), config, tmp_path / "kubeadm-out", env)
    ours = kbs_addon_objects(config, env)
    key = "ConfigMap kube-system/kube-proxy"
    assert "annotations" not in ours[key]["metadata"]  # an operator's document is not signed, as in kubeadm
    assert differences(ours[key], theirs[key]) == []
    assert ours[key]["data"]["config.conf"] == theirs[key]["data"]["config.conf"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kbs_images_list_matches_kubeadm_config_images_list(
    testbed: TestBed, tmp_path: Path, scenario: str, version: str
) -> None:
    config, env = scenario_config(tmp_path, scenario, version)
    listing = ["config", "images", "list", "--config", str(config)]
    theirs = subprocess.run([testbed.kubeadm(version), *listing], env=env, capture_output=True, text=True, check=False)
    assert theirs.returncode == 0, theirs.stderr
    ours = subprocess.run(
        [sys.executable, "-m", "bootstrap", "images", "list", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines() == theirs.stdout.splitlines()
