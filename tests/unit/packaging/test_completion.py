"""Shell completion works the way docs/usage.md tells people to turn it on (click's `_KBS_COMPLETE` variable).

The bash case is run for real: the generated script is sourced by bash, which completes `kbs in<TAB>` by asking
the installed `kbs` (the project environment's), as an interactive shell would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KBS = Path(sys.executable).with_name("kbs")


def _completion_script(shell: str) -> str:
    env = {**os.environ, "_KBS_COMPLETE": f"{shell}_source"}
    result = subprocess.run([str(KBS)], env=env, capture_output=True, text=True, check=True)
    return result.stdout


def _bash_complete(script: Path, *words: str) -> list[str]:
    """What bash offers for `kbs <words><TAB>` (the last word is the one being completed)."""
    probe = (
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
        '_kbs_completion kbs; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{KBS.parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", probe, "bash", str(script), "kbs", *words], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_bash_completion_completes_command_names(tmp_path: Path) -> None:
    script = tmp_path / "kbs.bash"
    script.write_text(_completion_script("bash"))
    assert _bash_complete(script, "ini") == ["init"]
    assert "reset" in _bash_complete(script, "")


def test_bash_completion_completes_options(tmp_path: Path) -> None:
    script = tmp_path / "kbs.bash"
    script.write_text(_completion_script("bash"))
    assert "--config" in _bash_complete(script, "init", "--con")


def test_config_option_completes_file_names() -> None:
    env = {**os.environ, "_KBS_COMPLETE": "bash_complete", "COMP_WORDS": "kbs init --config ", "COMP_CWORD": "3"}
    result = subprocess.run([str(KBS)], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["file,"]  # the bash script then lets bash complete paths


@pytest.mark.parametrize(("shell", "marker"), [("zsh", "#compdef kbs"), ("fish", "--command kbs")])
def test_zsh_and_fish_completion_scripts_are_generated_for_kbs(shell: str, marker: str) -> None:
    assert marker in _completion_script(shell)
