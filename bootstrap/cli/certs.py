"""`kbs certs`: generate, check-expiration and renew the PKI, over the `pki` package's public API.

Each subcommand takes --config and the same address and name flags as `kbs init` (bootstrap.cli.options), turns
the configuration into a PKIContext and calls one pki function. Errors are KbsErrors (exit 1); an unknown
certificate name or output format is a usage error (exit 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bootstrap.cli.options import with_config

if TYPE_CHECKING:
    from bootstrap.config import KbsConfig
    from pki.results import Result

ALL = "all"


@click.group()
def certs() -> None:
    """Certificates, keys and kubeconfig files, compatible with kubeadm's.

    \b
    Examples:
      sudo kbs certs generate                      the whole tree and the five kubeconfig files
      sudo kbs certs check-expiration -o yaml      when each certificate expires
      sudo kbs certs renew all                     new validity for every leaf and kubeconfig
      kbs certs certificate-key                    a key for `kbs init --upload-certs --certificate-key`
    """


@certs.command("certificate-key")
def certificate_key() -> None:
    """Print a new random certificate key (32 bytes, 64 hex characters), as `kubeadm certs certificate-key`.

    It encrypts the certificates `kbs init --upload-certs` stores in kube-system/kubeadm-certs; a control plane
    joining with `--certificate-key` decrypts them. `kbs init --upload-certs` without a key makes and prints one.
    Keep it secret: with a bootstrap token it gives the cluster's CA keys.

    \b
    Examples:
      KEY=$(kbs certs certificate-key)
      sudo kbs init --upload-certs --certificate-key "$KEY"
    """
    from bootstrap.kube.copycerts import generate_key

    click.echo(generate_key())


@certs.command()
@click.argument("name", default=ALL, metavar="[NAME|all]")
@with_config
def generate(name: str, cfg: KbsConfig) -> None:
    """Create missing certificates and kubeconfig files; keep valid ones.

    NAME is kubeadm's name (ca, apiserver, etcd-server, sa, admin.conf, ...; `etcd/server` works too).
    Re-running changes nothing. An existing file that does not fit the configuration (other CA, missing SAN,
    key mismatch) is reported, never overwritten. With ca.crt but no ca.key (external CA) kbs signs nothing
    and checks that the files it would sign are present and valid.

    \b
    Examples:
      sudo kbs certs generate
      sudo kbs certs generate apiserver --apiserver-cert-extra-sans lb.example.com,10.0.0.100
      kbs certs generate --config kubeadm.yaml --cert-dir /tmp/pki --kubernetes-dir /tmp/k8s
    """
    import pki
    from bootstrap.config import pki_context

    only = None if name == ALL else _canonical(name)
    results = pki.generate(pki_context(cfg), only)
    _print_results(results)


@certs.command("check-expiration")
@click.option(
    "-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True,
    help="Output format; json and yaml follow kubeadm's CertificateExpirationInfo.",
)  # fmt: skip
@with_config
def check_expiration(output: str, cfg: KbsConfig) -> None:
    """Show when each certificate and CA expires, like `kubeadm certs check-expiration`.

    \b
    Examples:
      sudo kbs certs check-expiration
      kbs certs check-expiration --cert-dir /tmp/pki --kubernetes-dir /tmp/k8s -o json
    """
    import json

    import yaml

    import pki
    from bootstrap.config import pki_context
    from pki.expiration import as_document, render_text
    from pki.issue import now

    infos = pki.check_expiration(pki_context(cfg))
    at = now()
    if output == "text":
        click.echo(render_text(infos, at), nl=False)
        from bootstrap.autorenew.report import next_renewal_text

        click.echo(next_renewal_text(cfg, at))
    elif output == "json":
        click.echo(json.dumps(as_document(infos, at), indent=4))
    else:
        click.echo(yaml.safe_dump(as_document(infos, at), sort_keys=False), nl=False)


@certs.command()
@click.argument("name", metavar="NAME|all")
@with_config
def renew(name: str, cfg: KbsConfig) -> None:
    """Renew a certificate (or all) with the same subject and SANs and a new validity period.

    Renews leaves and the certificates embedded in admin.conf, super-admin.conf, controller-manager.conf and
    scheduler.conf, with a new key of the same type. CAs are never renewed; kubelet.conf is rotated by the
    kubelet. Afterwards, restart the static pods listed at the end.

    \b
    Examples:
      sudo kbs certs renew all
      sudo kbs certs renew apiserver
      sudo kbs certs renew admin.conf --config kubeadm.yaml
    """
    import pki
    from bootstrap.config import pki_context

    target = ALL if name == ALL else _canonical(name)
    results = pki.renew(pki_context(cfg), target)
    for result in results:
        if result.action == "skipped":
            click.echo(f"[renew] skipped {result.name}: {result.detail}")
        else:
            click.echo(f"[renew] {result.detail}")
    restarts = pki.restarts_needed(results)
    if restarts:
        names = ", ".join(restarts[:-1]) + (" and " if len(restarts) > 1 else "") + restarts[-1]
        click.echo(
            f"\nDone renewing certificates. You must restart the {names}, so that they can use the new certificates."
        )


def _canonical(name: str) -> str:
    from bootstrap.errors import PKIError
    from pki.table import canonical_name

    try:
        return canonical_name(name)
    except PKIError as exc:
        raise click.BadParameter(f"{exc.message}; {exc.hint}", param_hint="NAME") from None


def _print_results(results: list[Result]) -> None:
    from pki.table import KUBECONFIGS_BY_NAME

    for result in results:
        phase = "kubeconfig" if result.name in KUBECONFIGS_BY_NAME else "certs"
        files = ", ".join(str(f) for f in result.files)
        detail = f" ({result.detail})" if result.detail else ""
        click.echo(f"[{phase}] {result.action:<7} {result.name}: {files}{detail}")
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    changed = sum(r.changed for r in results)
    click.echo(f"{changed} created, {len(results) - changed} kept")
