"""`@with_config`: the `--config FILE` option and the override flags shared by init, render and certs.

The flag names come from bootstrap.config.overrides.OVERRIDE_TARGETS (one home for each name); this module adds
only what the CLI needs: aliases that kubeadm users know, value types and help texts. The decorated command gets
`cfg: KbsConfig` instead of the raw flags, completed by what kbs recorded of the node's setup
(bootstrap.phases.node_setup: a node set up with `--reconciler kubelet` stays one without the flag); notes from
loading (ignored documents, fallbacks, the node's record) go to stderr.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import click

from bootstrap.config.overrides import OVERRIDE_TARGETS, Overrides

F = TypeVar("F", bound=Callable[..., Any])


class _Flag(NamedTuple):
    help: str
    aliases: tuple[str, ...] = ()
    type: Any = str
    metavar: str | None = None


# Overrides field -> how the flag looks on the command line; the primary name is OVERRIDE_TARGETS[field].flag.
_FLAGS: dict[str, _Flag] = {
    "kubernetes_version": _Flag("Kubernetes version (default: the newest supported).", metavar="VERSION"),
    "advertise_address": _Flag(
        "IP the API server advertises (default: the default-route interface's).",
        aliases=("--apiserver-advertise-address",),
        metavar="IP",
    ),
    "bind_port": _Flag("Port the API server listens on (default 6443).", type=click.IntRange(1, 65535)),
    "node_name": _Flag("Node name (default: the lower-cased hostname).", metavar="NAME"),
    "control_plane_endpoint": _Flag(
        "Stable host[:port] for the control plane (load balancer, DNS name).", metavar="HOST"
    ),
    "cert_dir": _Flag("Certificates directory (default /etc/kubernetes/pki).", metavar="DIR"),
    "apiserver_cert_extra_sans": _Flag("Extra API server certificate SANs, comma-separated.", metavar="SANS"),
    "service_cidr": _Flag("Service IP range (default 10.96.0.0/12).", metavar="CIDR"),
    "pod_network_cidr": _Flag("Pod IP range; enables node CIDR allocation.", metavar="CIDR"),
    "service_dns_domain": _Flag("Cluster DNS domain (default cluster.local).", metavar="DOMAIN"),
    "image_repository": _Flag("Registry for the control-plane images (default registry.k8s.io).", metavar="REPO"),
    "kubernetes_dir": _Flag("Kubernetes configuration directory (default /etc/kubernetes).", metavar="DIR"),
    "static_pod_path": _Flag(
        "Manifest directory, the staticPodPath (default <kubernetes-dir>/manifests).",
        aliases=("--manifest-dir",),
        metavar="DIR",
    ),
    "reconciler_mode": _Flag(
        "Who runs the static pods: bundled, kubelet or none.", type=click.Choice(["bundled", "kubelet", "none"])
    ),
    "pod_network": _Flag(
        "Pod network `kbs init` installs after the addons: flannel, or none (the default, as kubeadm).",
        type=click.Choice(["none", "flannel"]),
    ),
}


def with_config(func: F) -> F:
    """Add --config and the override flags to a click command, and call it with `cfg=<KbsConfig>`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bootstrap.config import load_config
        from bootstrap.phases import node_setup

        path: Path | None = kwargs.pop("config_file")
        given = {name: kwargs.pop(name) for name in OVERRIDE_TARGETS}
        sans = given["apiserver_cert_extra_sans"]
        if sans is not None:
            given["apiserver_cert_extra_sans"] = tuple(s.strip() for s in sans.split(",") if s.strip())
        cfg = node_setup.apply(load_config(path, Overrides(**given)))
        for note in cfg.notes:
            click.echo(f"note: {note}", err=True)
        return func(*args, cfg=cfg, **kwargs)

    decorated: Callable[..., Any] = wrapper
    for name in reversed(list(OVERRIDE_TARGETS)):
        flag = _FLAGS[name]
        decorated = click.option(
            OVERRIDE_TARGETS[name].flag, *flag.aliases, name, type=flag.type, metavar=flag.metavar, help=flag.help
        )(decorated)
    decorated = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="kubeadm v1beta4 InitConfiguration/ClusterConfiguration (+ KbsConfiguration) YAML file.",
    )(decorated)
    return decorated  # type: ignore[return-value]
