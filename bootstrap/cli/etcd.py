"""`kbs etcd snapshot save|list|delete|restore`: backup and restore of the local etcd member (bootstrap/etcd)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bootstrap.cli.options import with_config

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


@click.group()
def etcd() -> None:
    """Day-two operations on the local etcd member.

    \b
    Examples:
      sudo kbs etcd snapshot save
      sudo kbs etcd snapshot list
    """


@etcd.group()
def snapshot() -> None:
    """Snapshots of the local etcd, like `k3s etcd-snapshot`.

    Snapshots live in etcdSnapshots.dir of the KbsConfiguration (default <reconciler.stateDir>/etcd-snapshots,
    /var/lib/kbs/etcd-snapshots), each with a `<name>.sha256` beside it.

    \b
    Examples:
      sudo kbs etcd snapshot save                  on-demand-<node>-<unix time>
      sudo kbs etcd snapshot save before-upgrade
      sudo kbs etcd snapshot list -o json
      sudo kbs etcd snapshot restore before-upgrade
    """


@snapshot.command()
@click.argument("name", required=False)
@with_config
def save(name: str | None, cfg: KbsConfig) -> None:
    """Take a snapshot of the local etcd member, verify it and write its checksum.

    NAME defaults to on-demand-<node>-<unix time>; the file is written under a temporary name, checked with
    `etcdutl snapshot status` and renamed only then.

    \b
    Examples:
      sudo kbs etcd snapshot save
      sudo kbs etcd snapshot save before-upgrade --config kbs.yaml
    """
    from bootstrap.etcd.save import save as do_save

    saved = do_save(cfg, name)
    click.echo(
        f"[etcd] saved {saved.path} ({saved.size} bytes, revision {saved.status.get('revision', '?')}, "
        f"{saved.status.get('totalKey', '?')} keys); sha256 in {saved.checksum_file.name}"
    )


@snapshot.command(name="list")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@with_config
def list_(output: str, cfg: KbsConfig) -> None:
    """List the snapshots: name, size, time and whether the checksum matches.

    \b
    Examples:
      sudo kbs etcd snapshot list
      sudo kbs etcd snapshot list -o json
    """
    from bootstrap.etcd.snapshots import list_snapshots

    found = list_snapshots(cfg.etcd_snapshot_dir)
    if output == "json":
        click.echo(json.dumps([s.to_json() for s in found], indent=2))
        return
    if not found:
        click.echo(f"no snapshots in {cfg.etcd_snapshot_dir}")
        return
    width = max(len("NAME"), *(len(s.name) for s in found))
    click.echo(f"{'NAME':{width}}  {'SIZE':>10}  {'CREATED':20}  CHECKSUM")
    for s in found:
        click.echo(f"{s.name:{width}}  {s.size:>10}  {s.created.strftime('%Y-%m-%dT%H:%M:%SZ'):20}  {s.checksum}")


@snapshot.command()
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@with_config
def delete(names: tuple[str, ...], cfg: KbsConfig) -> None:
    """Delete snapshots and their checksum files.

    \b
    Examples:
      sudo kbs etcd snapshot delete before-upgrade
      sudo kbs etcd snapshot delete on-demand-cp1-1700000000 scheduled-cp1-1700043200
    """
    from bootstrap.etcd.snapshots import delete as do_delete

    for name in names:
        for path in do_delete(cfg.etcd_snapshot_dir, name):
            click.echo(f"[etcd] removed {path}")


@snapshot.command()
@click.argument("file", metavar="FILE|NAME")
@click.option(
    "--cluster-reset",
    is_flag=True,
    help="On HA: restore even though etcd still lists other members; this member becomes a one-member cluster "
    "and the others must `kbs reset --force` and `kbs join --control-plane` again.",
)
@with_config
def restore(file: str, cluster_reset: bool, cfg: KbsConfig) -> None:
    """Restore a snapshot into the local etcd member; the cluster becomes this member alone.

    Verifies the checksum and the snapshot, stops etcd (its manifest leaves the staticPodPath), moves the data
    dir aside to <dataDir>-old-<timestamp> (kept), restores, starts etcd again and waits for the API server.
    An interrupted restore is finished by running the same command again. On HA, take the other control-plane
    nodes out first (`kbs reset --force`), or pass --cluster-reset when they are gone; they rejoin afterwards.

    \b
    Examples:
      sudo kbs etcd snapshot restore before-upgrade
      sudo kbs etcd snapshot restore /backup/on-demand-cp1-1700000000
      sudo kbs etcd snapshot restore before-upgrade --cluster-reset
    """
    from bootstrap.etcd.restore import Restorer
    from bootstrap.etcd.snapshots import resolve

    path = resolve(cfg.etcd_snapshot_dir, file)
    restorer = Restorer(cfg, say=lambda line: click.echo(f"[etcd] {line}"), cluster_reset=cluster_reset)
    journal = restorer.run(Path(path))
    click.echo(f"[etcd] restored {journal.snapshot}; the previous data is in {journal.old_dir}")
