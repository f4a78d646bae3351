"""`kbs upgrade plan|apply|node`: upgrade this node's control plane by one minor or patch (bootstrap/upgrade)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bootstrap.cli.options import with_config

if TYPE_CHECKING:
    from collections.abc import Callable

    from bootstrap.config.effective import KbsConfig


@click.group()
def upgrade() -> None:
    """Upgrade the control plane of this node, like `kubeadm upgrade` (one minor at a time).

    \b
    Examples:
      sudo kbs upgrade plan
      sudo kbs upgrade apply v1.37.2 --dry-run
      sudo kbs upgrade apply v1.37.2
      sudo kbs upgrade node          # then on each other control-plane node
    """


@upgrade.command(name="plan")
@with_config
def plan_command(cfg: KbsConfig) -> None:
    """Show the running version, the versions it may be upgraded to, and the manifests' changes for the next one.

    \b
    Examples:
      sudo kbs upgrade plan
      sudo kbs upgrade plan --config kbs.yaml
    """
    from bootstrap.upgrade.report import plan_text

    click.echo(plan_text(cfg), nl=False)


def _version_is_the_target(func: Callable[..., Any]) -> Callable[..., Any]:
    """VERSION becomes the configuration's kubernetesVersion (what with_config loads and renders with)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        version = kwargs["version"]
        given = kwargs.get("kubernetes_version")
        if given is not None and given != version:
            raise click.UsageError(f"--kubernetes-version {given} differs from VERSION {version}; give VERSION only")
        kwargs["kubernetes_version"] = version
        return func(*args, **kwargs)

    return wrapper


def _apply_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options `upgrade apply` and `upgrade node` share (kubeadm's names)."""
    options = [
        click.option("--dry-run", is_flag=True, help="Show what would change; write nothing."),
        click.option(
            "--etcd-upgrade", type=bool, default=True, show_default=True, metavar="true|false", help="Upgrade etcd too."
        ),
        click.option(
            "--certificate-renewal",
            type=bool,
            default=True,
            show_default=True,
            metavar="true|false",
            help="Renew each upgraded component's certificates, as kubeadm does.",
        ),
        click.option(
            "--timeout",
            type=click.IntRange(min=1),
            metavar="SECONDS",
            help="How long each component may take to become healthy (default: timeouts.upgradeManifests, 300).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@upgrade.command(name="apply")
@click.argument("version")
@_apply_options
@_version_is_the_target
@with_config
def apply_command(
    version: str, *, dry_run: bool, etcd_upgrade: bool, certificate_renewal: bool, timeout: int | None, cfg: KbsConfig
) -> None:
    """Upgrade this node's control plane to VERSION: backups, then etcd, kube-apiserver, kube-controller-manager,
    kube-scheduler one at a time, each rolled back with the ones before it if it does not become healthy.

    Pass the --config the cluster was made with. An interrupted upgrade is finished (or its rollback completed)
    by running the same command again.

    \b
    Examples:
      sudo kbs upgrade apply v1.37.2 --dry-run
      sudo kbs upgrade apply v1.37.2 --config kbs.yaml
      sudo kbs upgrade apply v1.37.2 --etcd-upgrade=false --timeout 120
    """
    from bootstrap.cli.init import Printer
    from bootstrap.upgrade.apply import ApplyOptions, apply

    options = ApplyOptions(
        target=version,
        dry_run=dry_run,
        etcd_upgrade=etcd_upgrade,
        certificate_renewal=certificate_renewal,
        timeout=float(timeout) if timeout else None,
    )
    click.echo(f"[upgrade] {apply(cfg, options, Printer())}")


@upgrade.command(name="node")
@_apply_options
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="This node's configuration (default: the one its reconciler runs with, /var/lib/kbs/config.yaml); "
    "its ClusterConfiguration is replaced by the cluster's.",
)
def node_command(
    *, dry_run: bool, etcd_upgrade: bool, certificate_renewal: bool, timeout: int | None, config_file: Path | None
) -> None:
    """Upgrade this control-plane node to the version of the cluster's configuration (kube-system/kubeadm-config),
    after `kbs upgrade apply VERSION` on the first control plane: etcd, kube-apiserver, kube-controller-manager,
    kube-scheduler one at a time, each rolled back with the ones before it if it does not become healthy.

    An interrupted run is finished (or its rollback completed) by running it again.

    \b
    Examples:
      sudo kbs upgrade node --dry-run
      sudo kbs upgrade node
      sudo kbs upgrade node --etcd-upgrade=false --timeout 120
    """
    from bootstrap.cli.init import Printer
    from bootstrap.upgrade.node import SAVED_CONFIG, NodeOptions, upgrade_node

    options = NodeOptions(
        dry_run=dry_run,
        etcd_upgrade=etcd_upgrade,
        certificate_renewal=certificate_renewal,
        timeout=float(timeout) if timeout else None,
    )
    click.echo(f"[upgrade] {upgrade_node(config_file or SAVED_CONFIG, options, Printer())}")
