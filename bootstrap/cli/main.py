"""The `kbs` entry point: a click group whose subcommands are imported only when used.

Lazy loading keeps `kbs --help` and `kbs render --dry-run` fast: the reconciler's Docker client, the PKI's
cryptography and the API client are imported by the commands that need them, not at start-up.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from bootstrap import __version__
from bootstrap.errors import KbsError

# command name -> "module:attribute" of its click command; kept in the order `kbs --help` lists them.
COMMANDS: dict[str, str] = {
    "init": "bootstrap.cli.init:init",
    "join": "bootstrap.cli.join:join",
    "render": "bootstrap.cli.render:render",
    "config": "bootstrap.cli.config:config",
    "certs": "bootstrap.cli.certs:certs",
    "images": "bootstrap.cli.images:images",
    "reconcile": "bootstrap.cli.reconcile:reconcile",
    "reconciler": "bootstrap.cli.reconcile:reconciler",
    "ps": "bootstrap.cli.reconcile:ps",
    "logs": "bootstrap.cli.reconcile:logs",
    "status": "bootstrap.cli.status:status",
    "etcd": "bootstrap.cli.etcd:etcd",
    "upgrade": "bootstrap.cli.upgrade:upgrade",
    "token": "bootstrap.cli.token:token",
    "reset": "bootstrap.cli.reset:reset",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module on first use, and turns KbsError into a clean exit."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not written yet: the command does not exist in this build
                return None
            raise
        command: click.Command = getattr(module, attr)
        return command

    def _available(self, name: str) -> bool:
        module_name = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module_name) is not None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KbsError as exc:
            raise KbsClickError(exc) from exc


class KbsClickError(click.ClickException):
    """Prints a KbsError the way operators read it: one line, then the hint."""

    def __init__(self, error: KbsError) -> None:
        super().__init__(error.message)
        self.exit_code = error.exit_code  # type: ignore[misc]  # click declares it on the class
        self.hint = error.hint

    def show(self, file: Any = None) -> None:
        stream = file or sys.stderr
        click.echo(f"error: {self.message}", file=stream)
        if self.hint:
            click.echo(f"hint: {self.hint}", file=stream)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kbs")
def cli() -> None:
    """Bootstrap a Kubernetes control plane from static pods, the way kubeadm does.

    \b
    Examples:
      kbs render --dry-run          show the manifests kbs would write
      sudo kbs init                 bring up a control plane on this node
      kbs status                    health of the components and certificates
    """


def main() -> None:
    cli(prog_name="kbs")
