"""The `<command> phase <name>` subcommands and the phase list of `--help`, generated from a Workflow (init, join)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from bootstrap.phases.workflow import Workflow


class OrderedGroup(click.Group):
    """Lists subcommands in the order they were added: the phase order, not the alphabet."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def register(
    workflow: Workflow[Any], group: click.Group, command: Callable[[str, str, str | None], click.Command], verb: str
) -> None:
    """Add one command per phase to `group`; a phase with sub-phases becomes a group with `all` and its children."""
    for phase in workflow.phases:
        if not phase.children:
            group.add_command(command(phase.name, phase.help, None))
            continue
        sub = OrderedGroup(phase.name, help=f"{phase.help}\n\n\b\nExamples:\n  sudo kbs {verb} phase {phase.name} all")
        sub.add_command(command(phase.name, f"Run every sub-phase of {phase.name}.", "all"))
        for child in phase.children:
            sub.add_command(command(f"{phase.name}/{child.name}", child.help, child.name))
        group.add_command(sub)


def phase_list(workflow: Workflow[Any], width: int = 20) -> str:
    lines = []
    for i, p in enumerate(workflow.phases):
        lines.append(f"  {i + 1:2}. {p.name:{width}} {p.help}")
        lines += [f"      {p.name + '/' + c.name:{width}} {c.help}" for c in p.children]
    return "\n".join(lines)
