"""`kbs images list|pull|load|save`: the control-plane images for the configured version and repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bootstrap.cli.options import with_config
from bootstrap.errors import KbsError

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


@click.group(name="images")
def images() -> None:
    """The images kbs runs: list them, pull them, or load them from an archive on an air-gapped machine.

    \b
    Examples:
      kbs images list
      kbs images list --kubernetes-version v1.36.3 --image-repository registry.example.com/k8s
      sudo kbs images pull
      kbs images save images.tar            # on a connected machine
      sudo kbs images load images.tar       # on the air-gapped one
    """


@images.command(name="list")
@with_config
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_images(*, cfg: KbsConfig, output: str) -> None:
    """Print the cluster's image references for the configured version and repository, one per line.

    The same list, in the same order, as `kubeadm config images list`: the control-plane components, kube-proxy
    and CoreDNS (unless disabled in the ClusterConfiguration), pause and etcd.

    \b
    Examples:
      kbs images list
      kbs images list -o json
    """
    refs = cfg.images()
    if output == "json":
        click.echo(json.dumps(refs, indent=2))
    else:
        click.echo("\n".join(refs.values()))


@images.command(name="pull")
@with_config
def pull(*, cfg: KbsConfig) -> None:
    """Pull every image that is not present yet (one at a time).

    \b
    Examples:
      sudo kbs images pull
    """
    from bootstrap.phases import images as ops

    missing = ops.missing(cfg)
    for ref in ops.references(cfg).values():
        if ref not in missing:
            click.echo(f"present {ref}")
    failures = ops.pull(cfg, missing)
    for ref in missing:
        click.echo(
            f"{'FAILED ' if ref in failures else 'pulled '} {ref}{': ' + failures[ref] if ref in failures else ''}"
        )
    if failures:
        raise KbsError(
            f"{len(failures)} image(s) could not be pulled",
            hint="check the registry and network, or bring the images with `kbs images save` / `kbs images load`",
        )


@images.command(name="load")
@with_config
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(*, cfg: KbsConfig, archive: Path) -> None:
    """Load images from a `docker save` archive (e.g. made by `kbs images save`), then say what is still missing.

    \b
    Examples:
      sudo kbs images load images.tar
    """
    from bootstrap.phases import images as ops

    for tag in ops.load(cfg, archive):
        click.echo(f"loaded {tag}")
    still = ops.missing(cfg)
    if still:
        raise KbsError(
            f"still missing after loading {archive}: {', '.join(still)}",
            hint="make the archive with `kbs images save` for the same version and repository",
        )
    click.echo("all images for this configuration are present")


@images.command(name="save")
@with_config
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
def save(*, cfg: KbsConfig, archive: Path) -> None:
    """Write every configured image into one archive for `kbs images load` on another machine.

    \b
    Examples:
      kbs images save images.tar
    """
    from bootstrap.phases import images as ops

    for ref in ops.save(cfg, archive):
        click.echo(f"saved {ref}")
    click.echo(f"wrote {archive}")
