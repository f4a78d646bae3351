"""The systemd unit that runs `kbs reconcile` at boot (`kbs reconciler install`).

The unit starts after Docker, restarts the reconciler whenever it exits (the containers keep running meanwhile
and are adopted), and uses KillMode=process: the containers belong to Docker, not to this unit's cgroup.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from bootstrap import constants
from bootstrap.errors import KbsError
from bootstrap.fsutil import atomic_write

SYSTEMD_RUN_DIR = Path("/run/systemd/system")


def command_line(args: list[str]) -> str:
    """The ExecStart line: this Python running `python -m bootstrap reconcile <args>`."""
    return shlex.join([sys.executable, "-m", "bootstrap", "reconcile", *args])


def flag_args(given: list[tuple[str, object]]) -> list[str]:
    """The flags given on the command line, as (flag, value) pairs, spelled again for the unit's ExecStart.

    A boolean flag's value is True; a repeatable option's is a tuple, each item repeated with the flag.
    """
    args: list[str] = []
    for flag, value in given:
        if value is True:
            args.append(flag)
        elif isinstance(value, tuple):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def unit(args: list[str]) -> str:
    return f"""[Unit]
Description=kbs static-pod reconciler (runs the static pods of this node on Docker)
After=docker.service network-online.target
Wants=docker.service network-online.target

[Service]
Type=simple
ExecStart={command_line(args)}
Restart=always
RestartSec=2
KillMode=process
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
"""


def systemd_running(run_dir: Path = SYSTEMD_RUN_DIR) -> bool:
    """True when systemd is the init system (sd_booted: /run/systemd/system exists)."""
    return run_dir.is_dir()


def install(args: list[str], *, path: Path = constants.RECONCILER_UNIT_PATH, run_dir: Path = SYSTEMD_RUN_DIR) -> Path:
    """Write the unit, reload systemd, enable and start it; KbsError when systemd does not run this machine."""
    if not systemd_running(run_dir) or shutil.which("systemctl") is None:
        raise KbsError(
            "systemd is not running this machine: cannot install kbs-reconciler.service",
            hint="run `kbs reconciler install --print` and adapt it to your init system, or run `kbs reconcile` "
            "under your own supervisor",
        )
    atomic_write(path, unit(args), mode=0o644)
    for step in (["daemon-reload"], ["enable", "--now", constants.RECONCILER_UNIT]):
        result = subprocess.run(["systemctl", *step], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KbsError(
                f"systemctl {' '.join(step)} failed: {result.stderr.strip() or result.stdout.strip()}",
                hint=f"see `journalctl -u {constants.RECONCILER_UNIT}`",
            )
    return path
