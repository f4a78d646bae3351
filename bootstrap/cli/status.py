"""`kbs status`: the control plane's health at a glance; exit status 1 when something is unhealthy."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from bootstrap.cli.options import with_config

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


@click.command(name="status")
@with_config
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(*, cfg: KbsConfig, output: str) -> None:
    """Show each component's health, version, restarts and uptime, certificate expiry and the reconciler.

    Exits 1 when a component is unhealthy, the bundled reconciler is down or a certificate has expired.

    \b
    Examples:
      kbs status
      kbs status -o json | jq .components
      kbs status --config kbs.yaml
    """
    from bootstrap.phases.status import EXPIRY_WARNING_DAYS, gather, human_duration

    result = gather(cfg)
    if output == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(f"node {result.node}, reconciler {result.reconciler_mode}: {result.reconciler_detail}")
        click.echo("")
        click.echo(f"{'COMPONENT':24} {'HEALTH':9} {'VERSION':10} {'RESTARTS':>8} {'UPTIME':>7}  DETAIL")
        for c in result.components:
            restarts = "-" if c.restarts is None else str(c.restarts)
            click.echo(
                f"{c.name:24} {'healthy' if c.healthy else 'UNHEALTHY':9} {c.version or '-':10} {restarts:>8} "
                f"{human_duration(c.uptime_seconds):>7}  {c.health}"
            )
        click.echo("")
        if result.certificates:
            leaf = [x for x in result.certificates if not x.ca]
            cas = [x for x in result.certificates if x.ca]
            soonest = min(leaf or result.certificates, key=lambda x: x.days_left)
            click.echo(
                f"certificates: {len(leaf)} leaf, {len(cas)} CA; "
                f"next to expire: {soonest.name} in {soonest.days_left}d ({soonest.expires})"
            )
            for cert in result.certificates:
                if cert.days_left < EXPIRY_WARNING_DAYS:
                    click.echo(f"  {cert.name} expires in {cert.days_left}d ({cert.expires}): `kbs certs renew`")
        else:
            click.echo(f"certificates: none in {cfg.cert_dir}")
        from bootstrap.autorenew.report import ca_warnings, last_run_text

        for warning in ca_warnings(result.certificates):
            click.echo(f"warning: {warning}")
        if renewal := last_run_text(cfg):
            click.echo(renewal)
        from bootstrap.etcd.schedule import summary

        if snapshots := summary(cfg):
            click.echo(snapshots)
        for problem in result.problems:
            click.echo(f"problem: {problem}", err=True)
    if not result.healthy:
        raise SystemExit(1)
