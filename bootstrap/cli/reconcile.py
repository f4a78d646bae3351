"""`kbs reconcile`, `kbs reconciler install`, `kbs ps`, `kbs logs`: the bundled reconciler's commands.

Thin click wrappers over bootstrap.reconciler: parse flags into Settings, call one function, print. Heavy
imports (docker, the reconciler) happen inside the commands so `kbs --help` stays fast.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bootstrap import constants

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


def parse_headers(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The kubelet's --manifest-url-header: 'a:hello,b:again', repeatable; repeated names append."""
    out: list[tuple[str, str]] = []
    for value in values:
        for pair in value.split(","):
            if not pair.strip():
                continue
            name, sep, content = pair.partition(":")
            if not sep or not name.strip():
                raise click.BadParameter(f"{pair!r} is not NAME:VALUE", param_hint="--manifest-url-header")
            out.append((name.strip(), content.strip()))
    return tuple(out)


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


def _from_config(path: Path) -> dict[str, Any]:
    """Flag values implied by a kbs configuration file (the same mapping `kbs init` uses to start us)."""
    from bootstrap.config import load_config

    cfg = load_config(path)
    rec = cfg.kbs.reconciler
    return {
        "manifest_dir": cfg.manifests_dir,
        "node_name": cfg.node_name,
        "node_ip": cfg.advertise_address,
        "pod_infra_container_image": cfg.image("pause"),
        "state_dir": rec.state_dir / "reconciler",
        "healthz_port": rec.healthz_port,
        "healthz_bind_address": rec.healthz_bind_address,
        "file_check_frequency": rec.file_check_frequency.total_seconds(),
        "http_check_frequency": rec.http_check_frequency.total_seconds(),
        "manifest_url": rec.static_pod_url,
        "docker_host": rec.docker_host,
        "apiserver": _apiserver(cfg),  # issue 6 hook: node, mirror pods, events, read API (reconciler/apiserver)
    }


def _apiserver(cfg: Any) -> Any:
    from bootstrap.reconciler.apiserver import ApiServerSettings

    return ApiServerSettings.from_config(cfg)


def _settings(kwargs: dict[str, Any]) -> Any:
    from bootstrap.config.host import hostname
    from bootstrap.reconciler.settings import Settings, default_pause_image

    if kwargs.get("config_file") is not None:
        ctx = click.get_current_context()
        for name, value in _from_config(kwargs["config_file"]).items():
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.COMMANDLINE:
                kwargs[name] = value  # the command line wins over the file
    if kwargs["no_manifest_dir"] and kwargs["manifest_dir"] is not None:
        raise click.UsageError("--manifest-dir and --no-manifest-dir exclude each other")
    manifest_dir = None if kwargs["no_manifest_dir"] else (kwargs["manifest_dir"] or constants.MANIFESTS_DIR)
    if manifest_dir is None and not kwargs["manifest_url"]:
        raise click.UsageError("nothing to run: give --manifest-dir or --manifest-url")
    node = kwargs["node_name"] or hostname()
    if not node:
        raise click.UsageError("cannot tell the node name: pass --node-name")
    return Settings(
        node_name=node,
        manifest_dir=manifest_dir,
        manifest_url=kwargs["manifest_url"],
        manifest_url_headers=parse_headers(kwargs["manifest_url_header"]),
        file_check_frequency=kwargs["file_check_frequency"],
        http_check_frequency=kwargs["http_check_frequency"],
        healthz_port=kwargs["healthz_port"] or None,
        healthz_bind_address=kwargs["healthz_bind_address"],
        docker_host=kwargs["docker_host"],
        state_dir=kwargs["state_dir"],
        pause_image=kwargs["pod_infra_container_image"] or default_pause_image(),
        node_ip=kwargs["node_ip"],
        apiserver=kwargs.get("apiserver"),  # issue 6 hook: only with --config (kubelet.conf's location)
    )


def _unit_args(ctx: click.Context) -> list[str]:
    """The flags given on the command line, to repeat in the unit's ExecStart."""
    args: list[str] = []
    for param in ctx.command.params:
        if param.name in (None, "print_unit") or not isinstance(param, click.Option):
            continue
        source = ctx.get_parameter_source(param.name)
        if source is not click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        flag = param.opts[0]
        if param.is_flag:
            args.append(flag)
        elif param.multiple:
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


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

    from bootstrap.reconciler.logfmt import setup_logging
    from bootstrap.reconciler.manager import Reconciler

    settings = _settings(kwargs)
    setup_logging(log_format, logging.DEBUG if verbose else logging.INFO)
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
    args = _unit_args(ctx)
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
    from bootstrap.reconciler.inspect import age, rows

    runtime = _runtime(docker_host)
    try:
        found = rows(runtime, state_dir, all_states=all_states, sandboxes=sandboxes)
    finally:
        runtime.close()
    if output != "table":
        data = [r.to_json() for r in found]
        if output == "json":
            click.echo(json.dumps(data, indent=2))
        else:
            import yaml

            click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)
        return
    header = ("CONTAINER", "POD", "NAMESPACE", "NAME", "STATE", "READY", "RESTARTS", "AGE", "IMAGE")
    table = [header] + [
        (
            r.container_id,
            r.pod,
            r.namespace,
            r.container,
            r.state,
            "-" if r.ready is None else ("true" if r.ready else "false"),
            str(r.restarts),
            age(r.created),
            r.image,
        )
        for r in found
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


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
    from bootstrap.reconciler.inspect import find_container, stream_logs

    runtime = _runtime(docker_host)
    try:
        record = find_container(runtime, pod, namespace=namespace, container=container, previous=previous)
        out = sys.stdout.buffer
        for chunk in stream_logs(runtime, record, follow=follow, tail=tail, timestamps=timestamps):
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
