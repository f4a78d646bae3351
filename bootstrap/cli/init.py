"""`kbs init` and `kbs init phase <name>`: parse flags, build InitData, run the phase workflow, print.

The phase commands are generated from bootstrap.phases.init.INIT (the phase list is data); `kbs init` runs them
all in order. Everything the phases do lives in bootstrap/phases.
"""

from __future__ import annotations

import inspect
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from bootstrap.cli.options import with_config
from bootstrap.cli.phasecmds import OrderedGroup, phase_list, register

if TYPE_CHECKING:
    from collections.abc import Callable

    from bootstrap.config.effective import KbsConfig
    from bootstrap.phases.context import InitData, InitOptions


class Printer:
    """The CLI's Reporter: `[phase] text` lines and indented details on stdout."""

    def line(self, phase: str, text: str) -> None:
        click.echo(f"[{phase}] {text}")

    def detail(self, text: str) -> None:
        click.echo(f"  {text}" if text else "")


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--adopt", is_flag=True, help="Take over control-plane manifests in the staticPodPath that kbs did not write."
    )(func)
    func = click.option(
        "--timeout",
        type=click.IntRange(min=1),
        metavar="SECONDS",
        help="How long wait-control-plane waits (default: reconciler.waitTimeout, 240).",
    )(func)
    func = click.option(
        "--ignore-preflight-errors",
        multiple=True,
        metavar="NAMES",
        help="Preflight checks whose errors become warnings, comma-separated (e.g. Swap,NumCPU) or 'all'.",
    )(func)
    func = click.option(
        "--dry-run",
        is_flag=True,
        help="Change nothing: write into a temporary directory, print the manifests and the API objects.",
    )(func)
    return func


def _check_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from bootstrap.errors import ConfigError
    from bootstrap.kube.copycerts import parse_key

    try:
        parse_key(value)
    except ConfigError as exc:
        raise click.BadParameter(f"{exc.message.split(': ', 1)[1]} ({exc.hint})") from None
    return value


UPLOAD_PHASES = ("upload-certs", "show-join-command")  # the phase commands that take the upload flags


def _upload_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--skip-certificate-key-print", is_flag=True, help="Do not print the certificate key (it is still used)."
    )(func)
    func = click.option(
        "--certificate-key",
        metavar="HEX",
        callback=_check_key,
        help="Key (64 hex characters) encrypting the uploaded certificates; default: certificateKey, else a new one.",
    )(func)
    func = click.option(
        "--upload-certs",
        is_flag=True,
        help="Store the shared certificates, encrypted, in kube-system/kubeadm-certs for control planes to join.",
    )(func)
    return func


def _options(
    *,
    dry_run: bool,
    ignore_preflight_errors: tuple[str, ...],
    timeout: int | None,
    adopt: bool,
    upload_certs: bool = False,
    certificate_key: str | None = None,
    skip_certificate_key_print: bool = False,
) -> InitOptions:
    from bootstrap.phases.context import InitOptions

    names = frozenset(n.strip().lower() for item in ignore_preflight_errors for n in item.split(",") if n.strip())
    return InitOptions(
        dry_run=dry_run,
        ignore_preflight_errors=names,
        adopt=adopt,
        wait_timeout=timedelta(seconds=timeout) if timeout else None,
        interactive=sys.stdout.isatty(),
        upload_certs=upload_certs,
        certificate_key=certificate_key,
        skip_certificate_key_print=skip_certificate_key_print,
    )


def _run(cfg: KbsConfig, options: InitOptions, skip: tuple[str, ...] = (), only: str | None = None) -> None:
    from bootstrap.phases.init import INIT, prepare, start_early_work, sync_skipped_addons

    printer = Printer()
    skipped = INIT.check_skip(skip) | INIT.check_skip(cfg.init.skip_phases)
    cfg = sync_skipped_addons(cfg, skipped)
    if only is not None:
        skipped = frozenset()  # `kbs init phase X` runs X even when the configuration's skipPhases names it
    data = prepare(cfg, options, printer)
    try:
        start_early_work(data, [only] if only else [n for n in INIT.names() if n not in skipped])
        result = INIT.run(data, printer, skip=skipped, only=only)
        if data.dry_run:
            _print_dry_run(data)
            return
    finally:
        data.close()
    what = f"phase {only}" if only else "kbs init"
    if result.changed:
        click.echo(f"{what}: done in {result.seconds:.2f}s")
    else:
        click.echo(f"{what}: nothing changed ({result.seconds:.2f}s): the node already matches the configuration")


def _print_dry_run(data: InitData) -> None:
    import yaml

    assert data.dry_run_dir is not None
    manifests = sorted(data.cfg.manifests_dir.glob("*.yaml")) if data.cfg.manifests_dir.is_dir() else []
    for path in manifests:
        click.echo(f"[dryrun] manifest {path}:")
        click.echo(path.read_text())
    actions = data.recorded_actions()
    if actions:
        click.echo("[dryrun] API objects kbs would write:")
        for action in actions:
            click.echo(f"  {action.summary()}")
        click.echo("---")
        click.echo(yaml.safe_dump_all([a.printable() for a in actions], sort_keys=False))
    click.echo(f"[dryrun] nothing was changed; everything kbs would write is under {data.dry_run_dir}")


def _phase_command(name: str, help_text: str, command_name: str | None = None) -> click.Command:
    def callback(*, cfg: KbsConfig, **flags: Any) -> None:
        _run(cfg, _options(**flags), only=name)

    shown = name.replace("/", " ")
    extra = " --upload-certs" if name in UPLOAD_PHASES else ""
    callback.__doc__ = f"""{help_text}

    \b
    Examples:
      sudo kbs init phase {shown}{extra}
      kbs init phase {shown}{extra} --dry-run
    """
    command = _run_options(callback)
    if name in UPLOAD_PHASES:
        command = _upload_options(command)
    return click.command(command_name or name, help=callback.__doc__)(with_config(command))


@click.group(name="phase", cls=OrderedGroup)
def phase_group() -> None:
    """Run one phase of `kbs init` on its own (each is safe to run again).

    \b
    Examples:
      sudo kbs init phase certs
      sudo kbs init phase wait-control-plane --timeout 60
    """


@click.group(name="init", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@with_config
@_run_options
@_upload_options
@click.option("--skip-phases", multiple=True, metavar="NAMES", help="Phases to skip, comma-separated.")
@click.pass_context
def init(ctx: click.Context, /, *, cfg: KbsConfig, skip_phases: tuple[str, ...], **flags: Any) -> None:
    """Bring up a control plane on this node: PKI, kubeconfigs, manifests, reconciler, health, join command.

    Safe to run again: a second run converges, and on a healthy node changes nothing.

    \b
    Examples:
      sudo kbs init
      sudo kbs init --dry-run
      sudo kbs init --config kbs.yaml --skip-phases bootstrap-token,show-join-command
      sudo kbs init --reconciler kubelet      # an installed kubelet runs the manifests
      sudo kbs init --control-plane-endpoint cp.example:6443 --upload-certs   # for more control planes
      sudo kbs init phase certs               # one phase only (kbs init phase --help lists them)
    """
    if ctx.invoked_subcommand is not None:
        return
    _run(cfg, _options(**flags), skip=skip_phases)


def _register() -> None:
    from bootstrap.phases.init import INIT

    register(INIT, phase_group, _phase_command, "init")
    init.add_command(phase_group)
    init.help = inspect.cleandoc(init.help or "") + "\n\n\b\nPhases:\n" + phase_list(INIT)


_register()
