"""The supported Kubernetes versions, read from versions.toml (the table the test bed builds from).

Version-dependent facts live here as data; templates and phases read them, they do not compare versions
themselves.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bootstrap.errors import ConfigError

_TABLE = Path(__file__).with_name("versions.toml")
_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class KubernetesVersion:
    """One supported Kubernetes release and the images kubeadm pairs with it."""

    version: str  # "v1.37.2"
    etcd_tag: str  # "3.7.0-0"
    pause_tag: str  # "3.10.2"
    coredns_tag: str

    @property
    def minor(self) -> int:
        return parse(self.version)[1]

    @property
    def etcd_version(self) -> tuple[int, int, int]:
        major, minor, patch = self.etcd_tag.split("-")[0].split(".")
        return int(major), int(minor), int(patch)


def parse(version: str) -> tuple[int, int, int]:
    """`v1.37.2` -> (1, 37, 2); anything else is a ConfigError."""
    match = _SEMVER.match(version)
    if not match:
        raise ConfigError(f"kubernetesVersion {version!r} is not a version like v1.37.2")
    return int(match[1]), int(match[2]), int(match[3])


@functools.cache
def _load() -> tuple[str, dict[str, KubernetesVersion]]:
    with _TABLE.open("rb") as handle:
        table = tomllib.load(handle)
    rows = {
        version: KubernetesVersion(version, row["etcd"], row["pause"], row["coredns"])
        for version, row in table["versions"].items()
    }
    return table["default"], rows


@dataclass(frozen=True)
class PodNetworkImages:
    image: str
    cni_plugin_image: str


@functools.cache
def pod_network(name: str) -> PodNetworkImages:
    """The images of a pod network kbs can install (versions.toml's [pod_networks.NAME])."""
    with _TABLE.open("rb") as handle:
        row = tomllib.load(handle)["pod_networks"][name]
    return PodNetworkImages(row["image"], row["cni_plugin_image"])


def default() -> KubernetesVersion:
    name, rows = _load()
    return rows[name]


def supported() -> list[KubernetesVersion]:
    """Newest first."""
    return sorted(_load()[1].values(), key=lambda v: parse(v.version), reverse=True)


def lookup(version: str) -> KubernetesVersion:
    """The row for `version`: any patch of a supported minor (with that minor's etcd and pause tags).

    A minor outside the table is a ConfigError that lists the supported versions.
    """
    _, rows = _load()
    if version in rows:
        return rows[version]
    wanted = parse(version)[:2]
    for row in rows.values():
        if parse(row.version)[:2] == wanted:
            return KubernetesVersion(version, row.etcd_tag, row.pause_tag, row.coredns_tag)
    names = ", ".join(v.version for v in supported())
    raise ConfigError(
        f"Kubernetes {version} is not supported by this kbs",
        hint=f"use one of {names} (set kubernetesVersion or --kubernetes-version)",
    )
