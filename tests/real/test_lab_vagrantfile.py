"""The Vagrantfile is valid for both providers, and its settings describe the lab the docs promise.

No hypervisor runs here, so `vagrant validate` (Debian's vagrant, installed by tests/tools.sh) is given what it
needs to check each provider's block without one:
- libvirt: LIBVIRT_DEFAULT_URI=test:///default, libvirt's built-in test driver (no daemon), which Debian's
  vagrant-libvirt plugin connects to while it validates;
- virtualbox: a stand-in VBoxManage on PATH that only answers `--version` (VirtualBox is not in Debian), so
  Vagrant counts the provider usable and validates its block.
Without these, `vagrant validate` stops at "cannot connect to libvirt" / "VirtualBox not detected", and
`--ignore-provider` would skip the provider blocks altogether.

Vagrant's state goes to temporary VAGRANT_HOME and VAGRANT_DOTFILE_PATH: nothing is left in the project or $HOME.
The settings and machine list come from lab/settings.rb, run here with Ruby (a dependency of vagrant).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bootstrap import versions

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run tests/tools.sh")
    return path


def _vagrant_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAGRANT_", "KBS_LAB_", "LIBVIRT_"))}
    env.update(VAGRANT_CWD=str(ROOT), VAGRANT_HOME=str(tmp_path / "home"), VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"))
    env.update(extra)
    return env


def _validate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("vagrant"), "validate"], check=False, env=env, capture_output=True, text=True, timeout=120
    )


def test_vagrantfile_validates_with_the_libvirt_provider(tmp_path: Path) -> None:
    env = _vagrant_env(tmp_path, VAGRANT_DEFAULT_PROVIDER="libvirt", LIBVIRT_DEFAULT_URI="test:///default")
    result = _validate(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully." in result.stdout


def test_vagrantfile_validates_with_the_virtualbox_provider(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    vboxmanage = fake_bin / "VBoxManage"
    vboxmanage.write_text('#!/bin/sh\n[ "$1" = --version ] && echo 7.0.14r161095 && exit 0\nexit 1\n')
    vboxmanage.chmod(0o755)
    env = _vagrant_env(tmp_path, VAGRANT_DEFAULT_PROVIDER="virtualbox", PATH=f"{fake_bin}:{os.environ['PATH']}")
    result = _validate(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully." in result.stdout


def test_vagrantfile_validates_with_the_docker_provider(tmp_path: Path) -> None:
    env = _vagrant_env(tmp_path, VAGRANT_DEFAULT_PROVIDER="docker")
    result = _validate(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully." in result.stdout


def test_other_providers_never_ask_docker(tmp_path: Path) -> None:
    """Vagrant evaluates every provider block: the docker one must not need Docker (nor its images) elsewhere."""
    env = _vagrant_env(tmp_path, VAGRANT_DEFAULT_PROVIDER="libvirt", LIBVIRT_DEFAULT_URI="test:///default")
    env.update(KBS_LAB_DOCKER_MASTER_IMAGE="kbs-lab-test/no-such-image:0", DOCKER_HOST="unix:///nonexistent.sock")
    result = _validate(env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_provider_refuses_a_missing_node_image_before_any_pull(tmp_path: Path) -> None:
    env = _vagrant_env(tmp_path, KBS_LAB_DOCKER_MASTER_IMAGE="kbs-lab-test/no-such-image:0")
    result = subprocess.run(
        [_tool("vagrant"), "up", "--provider=docker"], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "kbs lab (docker provider): no Docker image kbs-lab-test/no-such-image:0 on this machine" in result.stderr


def test_vagrantfile_refuses_bad_settings_with_a_message(tmp_path: Path) -> None:
    env = _vagrant_env(tmp_path, LIBVIRT_DEFAULT_URI="test:///default", KBS_LAB_WORKERS="two")
    result = _validate(env)
    assert result.returncode != 0
    assert 'kbs lab settings: KBS_LAB_WORKERS="two": expected a whole number' in result.stderr


def _plan(**env_overrides: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBS_LAB_")} | env_overrides
    result = subprocess.run(
        [_tool("ruby"), "-r", "./lab/settings.rb", "-e", "puts KbsLab.plan.to_json"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def test_default_lab_is_one_master_and_two_workers_on_fixed_private_addresses() -> None:
    nodes = _plan()["nodes"]
    assert [(n["name"], n["ip"]) for n in nodes] == [
        ("master-1", "192.168.56.10"),
        ("worker-1", "192.168.56.20"),
        ("worker-2", "192.168.56.21"),
    ]
    assert all(ipaddress.ip_address(n["ip"]).is_private for n in nodes)
    assert all(n["cpus"] >= 1 and n["memory"] >= 1024 for n in nodes)


def test_lab_runs_kbs_default_kubernetes_version_on_every_node() -> None:
    plan = _plan()
    default = versions.default().version
    assert plan["settings"]["kubernetes_version"] == default
    assert {n["env"]["KBS_LAB_KUBERNETES_VERSION"] for n in plan["nodes"]} == {default}


def test_only_the_first_master_runs_kbs_init_and_every_node_advertises_its_own_address() -> None:
    nodes = _plan(KBS_LAB_MASTERS="2", KBS_LAB_WORKERS="1")["nodes"]
    assert [n["name"] for n in nodes] == ["master-1", "master-2", "worker-1"]
    assert [n["env"].get("KBS_LAB_INIT") for n in nodes] == ["1", "0", None]
    assert all(n["env"]["KBS_LAB_ADDRESS"] == n["ip"] for n in nodes)
    assert {n["env"]["KBS_LAB_SHARED_DIR"] for n in nodes} == {"/vagrant/lab/out"}


def test_several_masters_share_an_endpoint_name_that_every_node_maps_to_master_1() -> None:
    one = _plan()["nodes"]
    assert {n["env"]["KBS_LAB_CONTROL_PLANE_ENDPOINT"] for n in one} == {""}
    assert {n["env"]["KBS_LAB_API_HOSTS_ENTRY"] for n in one} == {""}
    nodes = _plan(KBS_LAB_MASTERS="3")["nodes"]
    assert {n["env"]["KBS_LAB_CONTROL_PLANE_ENDPOINT"] for n in nodes} == {"kbs-lab-api:6443"}
    assert {n["env"]["KBS_LAB_API_HOSTS_ENTRY"] for n in nodes} == {"192.168.56.10 kbs-lab-api"}
    theirs = _plan(KBS_LAB_MASTERS="3", KBS_LAB_CONTROL_PLANE_ENDPOINT="lb.example:8443")["nodes"]
    assert {n["env"]["KBS_LAB_CONTROL_PLANE_ENDPOINT"] for n in theirs} == {"lb.example:8443"}
    assert {n["env"]["KBS_LAB_API_HOSTS_ENTRY"] for n in theirs} == {""}


def test_settings_file_named_by_kbs_lab_settings_overrides_the_defaults(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("workers: 0\nmaster_memory: 4096\nbox: debian/bookworm64\n")
    plan = _plan(KBS_LAB_SETTINGS=str(mine))
    assert [n["name"] for n in plan["nodes"]] == ["master-1"]
    assert plan["nodes"][0]["memory"] == 4096
    assert plan["settings"]["box"] == "debian/bookworm64"
