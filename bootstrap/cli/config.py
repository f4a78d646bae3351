"""`kbs config`: show the effective configuration."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from bootstrap.cli.options import with_config

if TYPE_CHECKING:
    from bootstrap.config import KbsConfig


@click.group()
def config() -> None:
    """Inspect kbs's configuration (kubeadm v1beta4 documents plus kbs's KbsConfiguration).

    \b
    Examples:
      kbs config print-defaults
      kbs config print-defaults --config kubeadm.yaml -o json
    """


@config.command("print-defaults")
@with_config
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def print_defaults(cfg: KbsConfig, output: str) -> None:
    """Print the full effective configuration, every default filled in.

    Without --config these are kbs's defaults on this machine: the advertise address of the default-route
    interface, the lower-cased hostname as node name, the newest supported Kubernetes version. With --config and
    flags, the result of merging them. Bootstrap tokens and the certificate key are redacted.

    \b
    Examples:
      kbs config print-defaults > kubeadm.yaml     a starting point to edit
      kbs config print-defaults --config kubeadm.yaml --node-name cp-1
      kbs config print-defaults -o json | jq '.[1].networking'
    """
    docs = cfg.documents()
    if output == "json":
        click.echo(json.dumps(docs, indent=2, sort_keys=True))
        return
    from bootstrap.config.yamlio import dump_documents

    click.echo(dump_documents(docs), nl=False)
