"""`kbs render`: write (or, with --dry-run, print and diff) the control-plane static pod manifests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bootstrap import constants
from bootstrap.cli.options import with_config

if TYPE_CHECKING:
    from bootstrap.config import KbsConfig


@click.command()
@with_config
@click.option("--dry-run", is_flag=True, help="Write nothing; print the manifests and a diff against those on disk.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write the manifests here instead of the staticPodPath.",
)
@click.option(
    "--component",
    "components",
    multiple=True,
    type=click.Choice(constants.ALL_COMPONENTS),
    help="Only this component (repeatable). Default: all four (three with external etcd).",
)
@click.option(
    "--templates-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Templates that replace the built-in ones file by file (<component>.yaml.j2, _macros.j2).",
)
def render(
    cfg: KbsConfig, dry_run: bool, output_dir: Path | None, components: tuple[str, ...], templates_dir: Path | None
) -> None:
    """Render the static pod manifests kubeadm would write for this configuration.

    Every manifest is checked against the Kubernetes schema of the target version and the static-pod rules
    before anything is written; files are replaced atomically (0600, directory 0700).

    \b
    Examples:
      kbs render --dry-run                         review what would be written, with a diff
      kbs render --config kubeadm.yaml             write into the staticPodPath
      kbs render --component kube-apiserver --output-dir /tmp/m
      kbs render --dry-run --kubernetes-version v1.35.4 --pod-network-cidr 10.244.0.0/16
    """
    from bootstrap.render import as_stream, diff_manifests, render_manifests, write_manifests

    manifests = render_manifests(cfg, components or None, templates_dir)
    target = output_dir or cfg.manifests_dir
    if dry_run:
        click.echo(as_stream(manifests), nl=False)
        diff = diff_manifests(manifests, target)
        if diff:
            click.echo(f"# differences from the manifests in {target}:", err=True)
            click.echo(diff, err=True, nl=False)
        return
    for change in write_manifests(manifests, target):
        click.echo(f"[render] {change.change.value:<9} {change.path}")
