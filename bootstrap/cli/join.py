"""`kbs join ENDPOINT --control-plane ...` and `kbs join phase <name>`: parse flags, build the join data, run.

The phase commands are generated from bootstrap.phases.join.JOIN (kubeadm's join phase names); everything they do
lives in bootstrap/phases. Workers are kubeadm's business (a kubelet joins them), so `kbs join` without
--control-plane refuses and says so.
"""

from __future__ import annotations

import inspect
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bootstrap.cli.init import Printer, _print_dry_run
from bootstrap.cli.phasecmds import OrderedGroup, phase_list, register

if TYPE_CHECKING:
    from collections.abc import Callable


def _join_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("endpoint", metavar="[ENDPOINT]", required=False),
        click.option("--control-plane", is_flag=True, help="Make this node a control plane (kbs joins only those)."),
        click.option("--token", metavar="TOKEN", help="Bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}."),
        click.option(
            "--discovery-token-ca-cert-hash",
            "ca_hashes",
            multiple=True,
            metavar="sha256:HEX",
            help="Pin of the cluster CA's public key (from the join command).",
        ),
        click.option(
            "--certificate-key",
            metavar="HEX",
            help="Decrypts the certificates `kbs init --upload-certs` stored.",
        ),
        click.option(
            "--apiserver-advertise-address",
            "advertise_address",
            metavar="IP",
            help="This node's address for its API server and etcd (default: the default-route interface's).",
        ),
        click.option("--apiserver-bind-port", "bind_port", type=click.IntRange(1, 65535), help="Default 6443."),
        click.option("--node-name", metavar="NAME", help="Node name (default: the lower-cased hostname)."),
        click.option(
            "--cert-dir",
            type=click.Path(file_okay=False),
            metavar="DIR",
            help="Certificates directory (default: the cluster's certificatesDir).",
        ),
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="FILE",
            help="kubeadm v1beta4 JoinConfiguration (+ KbsConfiguration) YAML; flags win over it.",
        ),
        click.option("--dry-run", is_flag=True, help="Change nothing: write into a temporary directory and show it."),
        click.option(
            "--ignore-preflight-errors",
            multiple=True,
            metavar="NAMES",
            help="Preflight checks whose errors become warnings, comma-separated, or 'all'.",
        ),
        click.option(
            "--timeout",
            type=click.IntRange(min=1),
            metavar="SECONDS",
            help="How long wait-control-plane waits.",
        ),
        click.option(
            "--discovery-timeout",
            type=click.FloatRange(min=0),
            default=300.0,
            show_default=True,
            help="Seconds to wait for the API server and the token's signature.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(*, skip: tuple[str, ...] = (), only: str | None = None, **flags: Any) -> None:
    from bootstrap.config.join import read_join_file
    from bootstrap.config.overrides import Overrides
    from bootstrap.phases.context import InitOptions, JoinOptions
    from bootstrap.phases.join import JOIN, prepare

    path: Path | None = flags["config_file"]
    file = read_join_file(path) if path else None
    endpoint = flags["endpoint"] or (file.endpoint if file else "")
    token = flags["token"] or (file.token if file else "")
    hashes = tuple(flags["ca_hashes"]) or (file.ca_hashes if file else ())
    key = flags["certificate_key"] or (file.certificate_key if file else "")
    if not (flags["control_plane"] or (file and file.control_plane)):
        raise click.UsageError(
            "kbs joins control-plane nodes only (--control-plane); join a worker with `kubeadm join ENDPOINT "
            "--token ... --discovery-token-ca-cert-hash ...` and a kubelet (the command `kbs init` printed)"
        )
    if not endpoint:
        raise click.UsageError("ENDPOINT (host:port of the controlPlaneEndpoint) or --config with discovery is needed")
    if not token:
        raise click.UsageError("--token is needed (`kbs token create` on a control plane makes one)")
    if key:
        from bootstrap.kube.copycerts import parse_key

        parse_key(key)  # a malformed key is refused before anything happens
    skipped = JOIN.check_skip(skip) | JOIN.check_skip(file.skip_phases if file else ())
    names = frozenset(n.strip().lower() for item in flags["ignore_preflight_errors"] for n in item.split(",") if n)
    options = InitOptions(
        dry_run=flags["dry_run"],
        ignore_preflight_errors=names,
        wait_timeout=timedelta(seconds=flags["timeout"]) if flags["timeout"] else None,
        interactive=sys.stdout.isatty(),
    )
    join = JoinOptions(endpoint, token, hashes, key, discovery_timeout=flags["discovery_timeout"])
    overrides = Overrides(
        advertise_address=flags["advertise_address"],
        bind_port=flags["bind_port"],
        node_name=flags["node_name"],
        cert_dir=flags["cert_dir"],
    )
    printer = Printer()
    if only is not None:
        skipped = frozenset()
    data = prepare(join, file, overrides, options, printer)
    try:
        result = JOIN.run(data, printer, skip=skipped, only=only)
        if data.dry_run:
            _print_dry_run(data)
            return
    finally:
        data.close()
    if only is not None:
        click.echo(f"phase {only}: {'done' if result.changed else 'nothing changed'} ({result.seconds:.2f}s)")
        return
    _print_joined(data.cfg.node_name, result.changed, result.seconds)


def _print_joined(node: str, changed: bool, seconds: float) -> None:
    click.echo(
        inspect.cleandoc(
            """
            This node has joined the cluster and a new control plane instance was created:

            * This node's kubelet.conf was signed with the cluster CA and the bundled reconciler runs its static pods.
            * Control plane label and taint were applied to the new node.
            * The Kubernetes control plane instances scaled up.
            * A new etcd member was added to the local/stacked etcd cluster.

            To start administering your cluster from this node, you need to run the following as a regular user:

            \tmkdir -p $HOME/.kube
            \tsudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
            \tsudo chown $(id -u):$(id -g) $HOME/.kube/config

            Run 'kubectl get nodes' to see this node join the cluster.
            """
        ).replace("\t", "    ")
    )
    what = "done" if changed else "nothing changed: the node already is a control plane of the cluster"
    click.echo(f"\nkbs join {node}: {what} ({seconds:.2f}s)")


class _JoinGroup(OrderedGroup):
    """`kbs join ENDPOINT ...` runs the join; `kbs join phase ...` is a subcommand (not taken for ENDPOINT)."""

    allow_interspersed_args = True  # `kbs join ENDPOINT --token ...`: options after the endpoint, as kubeadm's

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            click.Command.parse_args(self, ctx, [])
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        return super().parse_args(ctx, args)


@click.group(name="join", cls=_JoinGroup, invoke_without_command=True)
@_join_options
@click.option("--skip-phases", multiple=True, metavar="NAMES", help="Phases to skip, comma-separated.")
@click.pass_context
def join(ctx: click.Context, /, *, skip_phases: tuple[str, ...], **flags: Any) -> None:
    """Join this node to a cluster as another control plane (stacked etcd), like `kubeadm join --control-plane`.

    ENDPOINT is the cluster's controlPlaneEndpoint (host:port), as in the join command `kbs init --upload-certs`
    printed. Discovery trusts the API server through the token and the CA hash; the certificate key decrypts the
    shared CAs; this node gets its own certificates, kubeconfigs and manifests, an etcd member (a learner, then
    promoted), the bundled reconciler, and the control-plane label and taint. Safe to run again: a re-run
    converges, an interrupted join resumes. Workers join with `kubeadm join` and a kubelet.

    \b
    Examples:
      sudo kbs join 10.0.0.100:6443 --control-plane --token abcdef.0123456789abcdef \\
          --discovery-token-ca-cert-hash sha256:1234... --certificate-key 5678...
      sudo kbs join --config join.yaml
      sudo kbs join 10.0.0.100:6443 --control-plane ... --dry-run
      sudo kbs join phase etcd-join 10.0.0.100:6443 --control-plane ...   # one phase (kbs join phase --help)
    """
    if ctx.invoked_subcommand is not None:
        return
    _run(skip=skip_phases, **flags)


@click.group(name="phase", cls=OrderedGroup)
def phase_group() -> None:
    """Run one phase of `kbs join` on its own (each is safe to run again).

    \b
    Examples:
      sudo kbs join phase control-plane-prepare download-certs 10.0.0.100:6443 --control-plane \\
          --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:... --certificate-key ...
    """


def _phase_command(name: str, help_text: str, command_name: str | None = None) -> click.Command:
    def callback(**flags: Any) -> None:
        _run(only=name, **flags)

    shown = name.replace("/", " ")
    callback.__doc__ = f"""{help_text}

    \b
    Examples:
      sudo kbs join phase {shown} 10.0.0.100:6443 --control-plane --token abcdef.0123456789abcdef \\
          --discovery-token-ca-cert-hash sha256:... --certificate-key ...
    """
    return click.command(command_name or name, help=callback.__doc__)(_join_options(callback))


def _register() -> None:
    from bootstrap.phases.join import JOIN

    register(JOIN, phase_group, _phase_command, "join")
    join.add_command(phase_group)
    join.help = inspect.cleandoc(join.help or "") + "\n\n\b\nPhases:\n" + phase_list(JOIN, width=38)


_register()
