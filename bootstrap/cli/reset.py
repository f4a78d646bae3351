"""`kbs reset`: confirm, then undo `kbs init` on this node and list exactly what was removed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bootstrap.cli.options import with_config

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


@click.command(name="reset")
@with_config
@click.option(
    "-f", "--force", is_flag=True, help="Do not ask for confirmation; reset even when etcd would lose quorum."
)
def reset(*, cfg: KbsConfig, force: bool) -> None:
    """Stop the reconciler and remove the static pods, manifests, kubeconfigs, PKI and etcd data kbs created.

    On a control plane of a stacked etcd cluster, this node's etcd member is removed first; kbs refuses (without
    --force) when that would leave the other members without quorum.

    Only what kbs created is removed (it keeps a ledger); your own static pods' manifests, CNI files,
    iptables rules and $HOME/.kube/config are left alone.

    \b
    Examples:
      sudo kbs reset
      sudo kbs reset --force --config kbs.yaml
    """
    from bootstrap.errors import KbsError
    from bootstrap.phases import reset_etcd

    member = reset_etcd.check(cfg)
    if member.loses_quorum:
        if not force:
            raise KbsError(
                f"removing this node's etcd member would lose quorum: {member.loses_quorum}",
                hint="bring the other control-plane nodes back first, or pass --force to reset anyway",
            )
        click.echo(f"[reset] warning: {member.loses_quorum}; going on (--force)")
    if not force:
        click.confirm(
            f"This removes the control plane kbs set up on this node ({cfg.kubernetes_dir}, "
            f"{cfg.etcd_data_dir if cfg.local_etcd else 'no local etcd'}). Continue?",
            abort=True,
        )
    from bootstrap.phases.reset import reset as do_reset

    report = do_reset(cfg, member)
    for line in report.stopped:
        click.echo(f"[reset] {line}")
    for name in report.containers:
        click.echo(f"[reset] removed container {name}")
    if report.containers:
        click.echo(f"[reset] removed {len(report.containers)} container(s) of the static pods kbs's reconciler ran")
    for path in report.files:
        click.echo(f"[reset] removed {path}")
    for path in report.directories:
        click.echo(f"[reset] removed {path}")
    for path in report.emptied:
        click.echo(f"[reset] emptied {path}")
    for path in report.kept:
        click.echo(f"[reset] kept {path}")
    for note in report.notes:
        click.echo(f"[reset] note: {note}")
    total = len(report.containers) + len(report.files) + len(report.directories) + len(report.emptied)
    click.echo(f"kbs reset: removed {total} item(s)" if total else "kbs reset: nothing to remove")
