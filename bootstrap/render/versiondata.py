"""What changes in the manifests from one Kubernetes (and etcd) release to the next, as data.

Templates never compare versions. They read `v`, a ManifestFacts resolved here for the configured Kubernetes
version and etcd image tag: the first row is how the oldest supported release renders, each later row lists only
what changed in that release (kubeadm.md section 1.6, checked against the real kubeadm of each supported minor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from bootstrap.versions import KubernetesVersion, parse


@dataclass(frozen=True)
class Probes:
    """HTTP paths of one component's probes; None: kubeadm writes no such probe."""

    liveness: str
    readiness: str | None
    startup: str


@dataclass(frozen=True)
class ManifestFacts:
    named_probe_port: bool  # probes use `port: probe-port` and the container declares it (v1.34, PR #132776)
    creation_timestamp_null: bool  # metadata.creationTimestamp: null was written (gone in v1.35)
    etcd_probes: Probes
    scheduler_probes: Probes
    apiserver_probes: Probes
    controller_manager_probes: Probes
    kcm_flexvolume_dir: bool  # the controller-manager mounts the flexvolume plugin dir
    etcd_flags: dict[str, str]  # version-dependent etcd flags (names changed with etcd 3.6)
    etcd_flags_follow_image_tag: bool  # True: etcd_flags depend on the etcd image tag, False: on Kubernetes only


_ETCD_35_FLAGS: Final = {
    "experimental-initial-corrupt-check": "true",
    "experimental-watch-progress-notify-interval": "5s",
}
_ETCD_36_FLAGS: Final = {
    "feature-gates": "InitialCorruptCheck=true",
    "watch-progress-notify-interval": "5s",
}

# How the oldest release kbs knows renders; the rows below change it release by release.
_BASE: Final = ManifestFacts(
    named_probe_port=False,
    creation_timestamp_null=True,
    etcd_probes=Probes("/health?exclude=NOSPACE&serializable=true", None, "/health?serializable=false"),
    scheduler_probes=Probes("/healthz", None, "/healthz"),
    apiserver_probes=Probes("/livez", "/readyz", "/livez"),
    controller_manager_probes=Probes("/healthz", None, "/healthz"),
    kcm_flexvolume_dir=True,
    etcd_flags=_ETCD_35_FLAGS,
    etcd_flags_follow_image_tag=True,
)

# (Kubernetes minor, changes). Keep in release order.
KUBERNETES_CHANGES: Final[list[tuple[tuple[int, int], dict[str, Any]]]] = [
    ((1, 31), {"etcd_probes": Probes("/livez", "/readyz", "/readyz")}),
    ((1, 32), {"scheduler_probes": Probes("/livez", "/readyz", "/livez")}),
    ((1, 34), {"named_probe_port": True}),
    ((1, 35), {"creation_timestamp_null": False}),
    # Seen in the real kubeadm v1.36.3 and v1.37.2 (not in the reference table): no flexvolume-dir mount for the
    # controller-manager, and the etcd 3.6 flag names whatever the etcd image tag (v1.35.4 still follows the tag).
    ((1, 36), {"kcm_flexvolume_dir": False, "etcd_flags_follow_image_tag": False}),
]

# (etcd version, changes) applied while etcd_flags_follow_image_tag is True.
ETCD_CHANGES: Final[list[tuple[tuple[int, int, int], dict[str, Any]]]] = [
    ((3, 6, 0), {"etcd_flags": _ETCD_36_FLAGS}),
]

_ETCD_TAG = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def etcd_version(tag: str) -> tuple[int, int, int] | None:
    """`3.6.6-0` -> (3, 6, 6); None for a tag that is not a version (a digest, `latest`)."""
    match = _ETCD_TAG.match(tag)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def facts(version: KubernetesVersion, etcd_tag: str | None = None) -> ManifestFacts:
    """The manifest facts for Kubernetes `version` with the etcd image tag `etcd_tag` (default: the table's)."""
    minor = parse(version.version)[:2]
    result = _BASE
    for since, changes in KUBERNETES_CHANGES:
        if minor >= since:
            result = replace(result, **changes)
    if result.etcd_flags_follow_image_tag:
        etcd = etcd_version(etcd_tag or version.etcd_tag) or version.etcd_version
        for since3, changes in ETCD_CHANGES:
            if etcd >= since3:
                result = replace(result, **changes)
    else:
        result = replace(result, etcd_flags=_ETCD_36_FLAGS)
    return result


FACT_NAMES: Final = tuple(f.name for f in fields(ManifestFacts))
