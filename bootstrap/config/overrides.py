"""Command-line overrides of the configuration file, and the one table that says where each one lands.

`Overrides` is what the CLI passes to load_config. `OVERRIDE_TARGETS` maps each field to its flag name and to
the document field it sets, so the flags (bootstrap.cli.options), the merge (bootstrap.config.loader) and the
error messages ("--service-cidr: ...") all read the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final, NamedTuple

from bootstrap.config.kinds import CLUSTER_KIND, INIT_KIND, KBS_KIND


@dataclass(frozen=True)
class Overrides:
    """Values given on the command line; None means "not given, keep the file's value or the default"."""

    kubernetes_version: str | None = None
    advertise_address: str | None = None
    bind_port: int | None = None
    node_name: str | None = None
    control_plane_endpoint: str | None = None
    cert_dir: str | None = None
    apiserver_cert_extra_sans: tuple[str, ...] | None = None  # appended to apiServer.certSANs
    service_cidr: str | None = None
    pod_network_cidr: str | None = None
    service_dns_domain: str | None = None
    image_repository: str | None = None
    kubernetes_dir: str | None = None
    static_pod_path: str | None = None
    reconciler_mode: str | None = None
    pod_network: str | None = None

    def given(self) -> dict[str, object]:
        """The overrides that were set, by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


class Target(NamedTuple):
    flag: str  # the primary flag name
    kind: str  # the document it sets
    path: tuple[str, ...]  # camelCase field path inside that document
    append: bool = False  # lists: add to the file's items instead of replacing them


OVERRIDE_TARGETS: Final[dict[str, Target]] = {
    "kubernetes_version": Target("--kubernetes-version", CLUSTER_KIND, ("kubernetesVersion",)),
    "advertise_address": Target("--advertise-address", INIT_KIND, ("localAPIEndpoint", "advertiseAddress")),
    "bind_port": Target("--apiserver-bind-port", INIT_KIND, ("localAPIEndpoint", "bindPort")),
    "node_name": Target("--node-name", INIT_KIND, ("nodeRegistration", "name")),
    "control_plane_endpoint": Target("--control-plane-endpoint", CLUSTER_KIND, ("controlPlaneEndpoint",)),
    "cert_dir": Target("--cert-dir", CLUSTER_KIND, ("certificatesDir",)),
    "apiserver_cert_extra_sans": Target(
        "--apiserver-cert-extra-sans", CLUSTER_KIND, ("apiServer", "certSANs"), append=True
    ),
    "service_cidr": Target("--service-cidr", CLUSTER_KIND, ("networking", "serviceSubnet")),
    "pod_network_cidr": Target("--pod-network-cidr", CLUSTER_KIND, ("networking", "podSubnet")),
    "service_dns_domain": Target("--service-dns-domain", CLUSTER_KIND, ("networking", "dnsDomain")),
    "image_repository": Target("--image-repository", CLUSTER_KIND, ("imageRepository",)),
    "kubernetes_dir": Target("--kubernetes-dir", KBS_KIND, ("kubernetesDir",)),
    "static_pod_path": Target("--static-pod-path", KBS_KIND, ("staticPodPath",)),
    "reconciler_mode": Target("--reconciler", KBS_KIND, ("reconciler", "mode")),
    "pod_network": Target("--pod-network", KBS_KIND, ("podNetwork",)),
}
