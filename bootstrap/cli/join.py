"""`kbs join phase control-plane-prepare download-certs`: the first step of joining a control plane, as kubeadm's.

Only this step exists so far; the logic is bootstrap.phases.download_certs.
"""

from __future__ import annotations

from pathlib import Path

import click

from bootstrap.cli.init import Printer


@click.group(name="join")
def join() -> None:
    """Join this node to a cluster (so far: download the shared control-plane certificates).

    \b
    Examples:
      sudo kbs join phase control-plane-prepare download-certs cp.example:6443 --control-plane \\
          --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:... --certificate-key ...
    """


@join.group(name="phase")
def phase() -> None:
    """Run one step of joining on its own.

    \b
    Examples:
      sudo kbs join phase control-plane-prepare download-certs --help
    """


@phase.group(name="control-plane-prepare")
def control_plane_prepare() -> None:
    """Prepare this machine to serve a control plane (so far: download-certs).

    \b
    Examples:
      sudo kbs join phase control-plane-prepare download-certs cp.example:6443 --control-plane --dry-run \\
          --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:... --certificate-key ...
    """


@control_plane_prepare.command(name="download-certs")
@click.argument("endpoint", metavar="ENDPOINT")
@click.option("--token", required=True, metavar="TOKEN", help="Bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}.")
@click.option(
    "--discovery-token-ca-cert-hash",
    "ca_hashes",
    multiple=True,
    required=True,
    metavar="sha256:HEX",
    help="Pin of the cluster CA's public key (from the join command).",
)
@click.option("--certificate-key", required=True, metavar="HEX", help="The key the certificates were uploaded with.")
@click.option("--control-plane", is_flag=True, help="This node will be a control plane (without it, nothing to do).")
@click.option("--cert-dir", type=click.Path(file_okay=False, path_type=Path), help="Write here, not certificatesDir.")
@click.option("--timeout", type=click.FloatRange(min=1), default=30.0, show_default=True, help="Per API call, seconds.")
@click.option(
    "--discovery-timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the API server and the token's signature (kubeadm's timeouts.discovery).",
)
@click.option("--dry-run", is_flag=True, help="Discover, download and decrypt; list the files, write nothing.")
def download_certs(
    *,
    endpoint: str,
    token: str,
    ca_hashes: tuple[str, ...],
    certificate_key: str,
    control_plane: bool,
    cert_dir: Path | None,
    timeout: float,
    discovery_timeout: float,
    dry_run: bool,
) -> None:
    """Download the CA, front-proxy CA, service-account and etcd CA files from kube-system/kubeadm-certs.

    ENDPOINT is the control plane's host:port, as in the join command. The token and the CA hash make the API
    server trusted (token discovery, as `kubeadm join`); the certificate key decrypts the files. They are written
    to the cluster's certificatesDir (keys 0600), or to --cert-dir. If the Secret has expired or was uploaded
    with another key, run `kbs init phase upload-certs --upload-certs` on a control plane and use its key.

    \b
    Examples:
      sudo kbs join phase control-plane-prepare download-certs 10.0.0.10:6443 --control-plane \\
          --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:1234... --certificate-key 5678...
    """
    printer = Printer()
    if not control_plane:
        printer.line("download-certs", "skipped: not a control plane (pass --control-plane)")
        return
    from bootstrap.phases.download_certs import DownloadRequest
    from bootstrap.phases.download_certs import download_certs as run

    request = DownloadRequest(
        endpoint, token, ca_hashes, certificate_key, cert_dir, dry_run, timeout, discovery_timeout
    )
    outcome = run(request, printer)
    click.echo(f"phase download-certs: {outcome.summary}")
