"""`kbs token create|list|delete|generate`: kubeadm's `token` commands on the same bootstrap-token Secrets.

Click only: the checks, the Secret format and the join line live in bootstrap.kube.tokens.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bootstrap.cli.options import with_config

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig
    from bootstrap.kube.api import KubeAPI

_KUBECONFIG_HELP = "Kubeconfig to reach the API server with (default: admin.conf in the Kubernetes directory)."


def _kubeconfig(cfg: KbsConfig, given: Path | None) -> Path:
    from bootstrap import constants

    return given or cfg.kubeconfig(constants.ADMIN_KUBECONFIG)


def _api(path: Path) -> KubeAPI:
    from bootstrap.kube.api import LightkubeAPI

    return LightkubeAPI(path)


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    from bootstrap.config.types import parse_duration

    try:
        return parse_duration(value.strip())
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(f"{value!r} is not a duration like 24h0m0s, 30m or 0") from exc


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@click.group(name="token", context_settings={"help_option_names": ["-h", "--help"]})
def token() -> None:
    """Manage bootstrap tokens (the Secrets `kubeadm join --token` authenticates with), like `kubeadm token`.

    kbs and kubeadm read and write the same Secrets: either tool lists and deletes the other's tokens.

    \b
    Examples:
      sudo kbs token create --print-join-command
      sudo kbs token list
      sudo kbs token delete abcdef
      kbs token generate
    """


@token.command(name="create")
@with_config
@click.argument("value", metavar="[TOKEN]", required=False)
@click.option("--ttl", default="24h0m0s", show_default=True, callback=_duration, help="Lifetime; 0: never expires.")
@click.option("--usages", default="signing,authentication", show_default=True, help="Comma-separated usages.")
@click.option(
    "--groups",
    default="system:bootstrappers:kubeadm:default-node-token",
    show_default=True,
    help="Comma-separated extra groups the token authenticates as.",
)
@click.option("--description", default="", help="A human-readable note stored with the token.")
@click.option("--print-join-command", is_flag=True, help="Print the whole `kubeadm join` line, not just the token.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help=_KUBECONFIG_HELP)
def create(
    *,
    cfg: KbsConfig,
    value: str | None,
    ttl: timedelta,
    usages: str,
    groups: str,
    description: str,
    print_join_command: bool,
    kubeconfig: Path | None,
) -> None:
    """Create a bootstrap token (TOKEN as given, or a random one) and print it.

    \b
    Examples:
      sudo kbs token create
      sudo kbs token create abcdef.0123456789abcdef --ttl 2h --description "for worker-3"
      sudo kbs token create --ttl 0 --print-join-command
    """
    from bootstrap.kube import tokens

    wanted = tokens.requested(value, ttl=ttl, usages=_split(usages), groups=_split(groups), description=description)
    path = _kubeconfig(cfg, kubeconfig)
    line = tokens.join_command(path, wanted) if print_join_command else wanted.value  # before writing: no half-done
    api = _api(path)
    try:
        tokens.create(api, wanted)
    finally:
        api.close()
    click.echo(line)


@token.command(name="list")
@with_config
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help=_KUBECONFIG_HELP)
def list_(*, cfg: KbsConfig, output: str, kubeconfig: Path | None) -> None:
    """List the bootstrap tokens in the cluster (kbs's, kubeadm's, anyone's), as `kubeadm token list` does.

    \b
    Examples:
      sudo kbs token list
      sudo kbs token list -o json
    """
    from bootstrap.kube import tokens

    api = _api(_kubeconfig(cfg, kubeconfig))
    try:
        found = tokens.listed(api)
    finally:
        api.close()
    if output == "text":
        rows = tokens.table(found)
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            click.echo("   ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip())
        return
    objects: list[Any] = [tokens.output_object(t) for t in found]
    if output == "json":
        for obj in objects:
            click.echo(json.dumps(obj, indent=4))
    else:
        import yaml

        click.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)


@token.command(name="delete")
@with_config
@click.argument("values", metavar="TOKEN|ID...", nargs=-1, required=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help=_KUBECONFIG_HELP)
def delete(*, cfg: KbsConfig, values: tuple[str, ...], kubeconfig: Path | None) -> None:
    """Delete bootstrap tokens, given by id (abcdef) or whole (abcdef.0123456789abcdef).

    \b
    Examples:
      sudo kbs token delete abcdef
      sudo kbs token delete abcdef.0123456789abcdef ghijkl
    """
    from bootstrap.kube import tokens

    ids = [tokens.token_id(v) for v in values]  # every argument checked before anything is deleted
    api = _api(_kubeconfig(cfg, kubeconfig))
    try:
        for tid in tokens.delete(api, ids):
            click.echo(f'bootstrap token "{tid}" deleted')
    finally:
        api.close()


@token.command(name="generate")
def generate() -> None:
    """Print a random token, for `kbs init` / `kbs token create`'s TOKEN; nothing is written anywhere.

    \b
    Examples:
      kbs token generate
    """
    from bootstrap.kube.token import generate as make

    click.echo(make(None).value)
