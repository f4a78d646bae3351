"""Every `kbs` command documents itself: `--help` works and shows at least one example, and `--version` answers.

The command tree is walked from the real entry point, so a command added later is held to the same rule.
"""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

import bootstrap
from bootstrap.cli.main import cli


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group, info_name="kbs")
    paths: list[tuple[str, ...]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"`kbs {' '.join((*prefix, name))}` is listed but cannot be loaded"
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
    return paths


COMMAND_PATHS = [(), *_command_paths(cli)]


def test_kbs_has_the_commands_of_a_bootstrapper() -> None:
    top = {path[0] for path in COMMAND_PATHS if path}
    assert {"init", "reset"} <= top


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(("kbs", *p)))
def test_every_command_help_shows_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="kbs")
    assert result.exit_code == 0, result.output
    examples = result.output.split("Examples:", 1)
    assert len(examples) == 2, f"`kbs {' '.join(path)} --help` has no Examples: block"
    assert re.search(r"^\s+(sudo )?kbs\b", examples[1], re.MULTILINE), "the Examples: block shows no kbs command"


def test_version_option_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"], prog_name="kbs")
    assert result.exit_code == 0
    assert result.output == f"kbs, version {bootstrap.__version__}\n"
