"""`kbs reconcile`, `kbs reconciler install`, `kbs ps`, `kbs logs`: the bundled reconciler's commands.

Thin click wrappers over bootstrap.reconciler: parse flags into Settings, call one function, print. Heavy
imports (docker, the reconciler) happen inside the commands so `kbs --help` stays fast.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bootstrap import constants

if TYPE_CHECKING:
    from bootstrap.reconciler.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds from `20s`, `1m30s`, `500ms` or a plain number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise click.BadParameter(f"{text!r} is not a duration like 20s, 1m30s or 500ms")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


class Duration(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            seconds = parse_duration(str(value))
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)
        if seconds <= 0:
            self.fail("must be positive", param, ctx)
        return seconds


def reconciler_options(func: F) -> F:
    """The flags `kbs reconcile` and `kbs reconciler install` share."""
    options = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help="A kbs configuration file: its staticPodPath, node name, advertise address, pause image and "
            "reconciler settings become the defaults of the flags below.",
        ),
        click.option(
            "--manifest-dir",
            type=click.Path(path_type=Path),
            default=None,
            help=f"Static pod directory (or one file), the staticPodPath. [default: {constants.MANIFESTS_DIR}]",
        ),
        click.option("--no-manifest-dir", is_flag=True, help="Do not watch any directory (URL source only)."),
        click.option("--manifest-url", default=None, help="URL to poll for a Pod or PodList."),
        click.option(
            "--manifest-url-header",
            multiple=True,
            metavar="NAME:VALUE[,NAME:VALUE]",
            help="HTTP header for --manifest-url; repeatable.",
        ),
        click.option(
            "--node-name", default=None, help="Node name for pod names and UIDs. [default: lower-cased hostname]"
        ),
        click.option(
            "--file-check-frequency",
            type=Duration(),
            default=constants.FILE_CHECK_FREQUENCY,
            show_default="20s",
            help="Full relist period of the manifest directory.",
        ),
        click.option(
            "--http-check-frequency",
            type=Duration(),
            default=constants.HTTP_CHECK_FREQUENCY,
            show_default="20s",
            help="Poll period of --manifest-url.",
        ),
        click.option(
            "--healthz-port",
            type=click.IntRange(0, 65535),
            default=constants.KUBELET_HEALTHZ_PORT,
            show_default=True,
            help="Port of the local /healthz endpoint (0: none).",
        ),
        click.option("--healthz-bind-address", default="127.0.0.1", show_default=True, help="Address of /healthz."),
        click.option(
            "--docker-host", default=None, help="Docker Engine API address. [default: $DOCKER_HOST or the local socket]"
        ),
        click.option(
            "--state-dir",
            type=click.Path(path_type=Path),
            default=constants.RECONCILER_STATE_DIR,
            show_default=True,
            help="Where pod status files (and emptyDir volumes) live.",
        ),
        click.option(
            "--pod-infra-container-image",
            default=None,
            help="The sandbox (pause) image. [default: the pause image kbs pins]",
        ),
        click.option(
            "--node-ip",
            default=None,
            help="IP of hostNetwork pods and default probe host. [default: the default-route address]",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(kwargs: dict[str, Any]) -> Settings:
    """Settings from the flags (and --config); a FlagError is a usage error (exit 2)."""
    from bootstrap.reconciler.flags import FlagError, build_settings

    ctx = click.get_current_context()
    given = {name for name in kwargs if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE}
    try:
        return build_settings(kwargs, given)
    except FlagError as exc:
        if exc.param_hint is not None:
            raise click.BadParameter(exc.message, param_hint=exc.param_hint) from exc
        raise click.UsageError(exc.message) from exc


def _given_flags(ctx: click.Context) -> list[tuple[str, object]]:
    """(flag, value) of the options given on the command line, to repeat in the unit's ExecStart."""
    return [
        (param.opts[0], ctx.params[param.name])
        for param in ctx.command.params
        if isinstance(param, click.Option)
        and param.name not in (None, "print_unit")
        and ctx.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE
    ]


@click.command()
@reconciler_options
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as logfmt text or JSON.",
)
@click.option("-v", "--verbose", is_flag=True, help="Also log debug lines.")
def reconcile(log_format: str, verbose: bool, **kwargs: Any) -> None:
    """Run the static-pod reconciler in the foreground (the form systemd runs).

    Runs every Pod manifest in the manifest directory (and at --manifest-url) on Docker the way the kubelet
    would: restarts with crash-loop backoff, probes, replaces a pod when its manifest changes and removes it
    when the manifest goes. Stop it with SIGTERM or Ctrl-C: the containers keep running and are adopted by
    the next start.

    \b
    Examples:
      sudo kbs reconcile
      sudo kbs reconcile --manifest-dir /etc/kubernetes/manifests --node-name cp1 --healthz-port 10248
      kbs reconcile --no-manifest-dir --manifest-url http://10.0.0.1/pods.yaml --manifest-url-header 'Auth:x'
    """
    import logging

    from bootstrap.etcd.schedule import start_from_config
    from bootstrap.reconciler.logfmt import setup_logging
    from bootstrap.reconciler.manager import Reconciler

    settings = _settings(kwargs)
    setup_logging(log_format, logging.DEBUG if verbose else logging.INFO)
    start_from_config(kwargs.get("config_file"))  # scheduled etcd snapshots: a daemon thread beside the reconciler
    from bootstrap.autorenew.worker import start_from_config as start_renewal

    start_renewal(kwargs.get("config_file"))  # certificates that renew themselves: another daemon thread
    Reconciler(settings).run_forever()


@click.group()
def reconciler() -> None:
    """Manage the bundled reconciler as a service.

    \b
    Examples:
      sudo kbs reconciler install
      kbs reconciler install --print --node-name cp1
    """


@reconciler.command()
@reconciler_options
@click.option("--print", "print_unit", is_flag=True, help="Print the unit instead of installing it.")
@click.pass_context
def install(ctx: click.Context, /, print_unit: bool, **kwargs: Any) -> None:
    """Write and enable kbs-reconciler.service (systemd), which runs `kbs reconcile` with these flags.

    \b
    Examples:
      sudo kbs reconciler install
      kbs reconciler install --print --manifest-dir /srv/manifests
    """
    from bootstrap.reconciler import systemd

    _settings(kwargs)  # the same validation as `kbs reconcile`
    args = systemd.flag_args(_given_flags(ctx))
    if print_unit:
        click.echo(systemd.unit(args), nl=False)
        return
    path = systemd.install(args)
    click.echo(f"wrote {path}; {constants.RECONCILER_UNIT} is enabled and started")


def _runtime(docker_host: str | None) -> Any:
    from bootstrap.reconciler.inspect import ANY_INSTANCE
    from bootstrap.reconciler.runtime.docker import DockerRuntime

    return DockerRuntime(ANY_INSTANCE, docker_host)


def _read_options(func: F) -> F:
    func = click.option("--docker-host", default=None, help="Docker Engine API address.")(func)
    return click.option(
        "--state-dir",
        type=click.Path(path_type=Path),
        default=constants.RECONCILER_STATE_DIR,
        show_default=True,
        help="The reconciler's state directory (for readiness).",
    )(func)


@click.command()
@click.option("-a", "--all", "all_states", is_flag=True, help="Also show exited containers.")
@click.option("--sandboxes", is_flag=True, help="Also show the pause (sandbox) containers.")
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table", show_default=True)
@_read_options
def ps(all_states: bool, sandboxes: bool, output: str, state_dir: Path, docker_host: str | None) -> None:
    """List the containers of the static pods the reconciler runs (like `crictl ps`).

    \b
    Examples:
      kbs ps
      kbs ps -a --sandboxes
      kbs ps -o json
    """
    from bootstrap.reconciler.inspect import render, rows

    runtime = _runtime(docker_host)
    try:
        found = rows(runtime, state_dir, all_states=all_states, sandboxes=sandboxes)
    finally:
        runtime.close()
    click.echo(render(found, output), nl=False)


@click.command()
@click.argument("pod")
@click.option("-c", "--container", default=None, help="Container name (required when the pod has several).")
@click.option("-n", "--namespace", default=None, help="Namespace of the pod. [default: any]")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new lines.")
@click.option("-p", "--previous", is_flag=True, help="The previous (terminated) instance of the container.")
@click.option("--tail", type=int, default=None, help="Only the last N lines.")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its timestamp.")
@click.option("--docker-host", default=None, help="Docker Engine API address.")
def logs(  # noqa: PLR0917 - click passes every option as an argument
    pod: str,
    container: str | None,
    namespace: str | None,
    follow: bool,
    previous: bool,
    tail: int | None,
    timestamps: bool,
    docker_host: str | None,
) -> None:
    """Print the log of a static pod's container (like `kubectl logs` / `crictl logs`).

    POD is the pod name with its node suffix (`etcd-node1`), or without it when that is unambiguous.

    \b
    Examples:
      kbs logs etcd-node1
      kbs logs kube-apiserver -f --tail 20
      kbs logs web-node1 -c web --previous
    """
    from bootstrap.reconciler.inspect import copy_logs

    runtime = _runtime(docker_host)
    try:
        copy_logs(
            runtime,
            pod,
            sys.stdout.buffer,
            namespace=namespace,
            container=container,
            previous=previous,
            follow=follow,
            tail=tail,
            timestamps=timestamps,
        )
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
