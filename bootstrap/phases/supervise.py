"""Keeping the bundled reconciler running: a systemd unit when systemd runs the machine, else a detached process.

The reconciler is `kbs reconcile --config <stateDir>/config.yaml`: the effective configuration of this `kbs init`
(file, flags and defaults merged; bootstrap tokens and the certificate key left out) written by the reconciler
phase, from which `kbs reconcile` takes its manifest dir, node name and IP, pause image, state dir, healthz port,
Docker host and API-server settings. A change of that file is how the phase knows a restart is due.

Detached mode: the process runs in its own session (it outlives `kbs init`, and a SIGKILL of init), stdout and
stderr appended to `<logDir>/kbs-reconciler.log`, its pid in `<runDir>/kbs-reconciler.pid`. "Running" means that
pid is alive and its command line is a kbs reconcile; a reconciler started by an init that was killed before it
wrote the pidfile is found by its command line and adopted, so a re-run never starts a second one.

systemd mode: the reconciler's own `bootstrap.reconciler.systemd.install` writes kbs-reconciler.service, enables
and starts it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bootstrap import constants
from bootstrap.errors import FileWriteError
from bootstrap.fsutil import atomic_write, ensure_dir

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

UNIT = constants.RECONCILER_UNIT
PIDFILE = "kbs-reconciler.pid"
LOGFILE = "kbs-reconciler.log"
CONFIG_FILE = "config.yaml"
RECONCILER_SUBDIR = "reconciler"  # the reconciler's own state (pod status files) under kbs's state dir
SYSTEMD_RUN = Path("/run/systemd/system")
STOP_GRACE = 10.0


@dataclass(frozen=True)
class ReconcilerState:
    how: Literal["systemd", "process"]
    running: bool
    pid: int | None
    detail: str  # "active", "pid 1234", "not running (stale pidfile)", ...


def systemd_runs_machine() -> bool:
    return SYSTEMD_RUN.is_dir()


def pidfile(cfg: KbsConfig) -> Path:
    return cfg.kbs.reconciler.run_dir / PIDFILE


def logfile(cfg: KbsConfig) -> Path:
    return cfg.kbs.reconciler.log_dir / LOGFILE


def config_file(cfg: KbsConfig) -> Path:
    return cfg.kbs.reconciler.state_dir / CONFIG_FILE


def reconciler_state_dir(cfg: KbsConfig) -> Path:
    """Where the reconciler keeps its per-pod status files (`kbs reconcile --config` puts them there)."""
    return cfg.kbs.reconciler.state_dir / RECONCILER_SUBDIR


def config_text(cfg: KbsConfig) -> str:
    """The effective configuration as the reconciler's config file; secrets it does not need are left out."""
    import yaml

    init, cluster, kbs = cfg.documents(redact=False)
    init.pop("bootstrapTokens", None)
    init.pop("certificateKey", None)
    header = "# Written by `kbs init` (reconciler phase): the configuration `kbs reconcile` runs with.\n"
    return header + yaml.safe_dump_all([init, cluster, kbs], sort_keys=False)


def reconcile_args(cfg: KbsConfig) -> list[str]:
    return ["--config", str(config_file(cfg))]


def command(cfg: KbsConfig) -> list[str]:
    return [sys.executable, "-m", "bootstrap", "reconcile", *reconcile_args(cfg)]


def _is_reconciler(pid: int) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"reconcile" in args and any(b"bootstrap" in a or b"kbs" in a for a in args)


def _read_pid(cfg: KbsConfig) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(pidfile(cfg).read_text().strip())
    return None


def _systemctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)


def state(cfg: KbsConfig) -> ReconcilerState:
    if systemd_runs_machine() and _systemctl("cat", UNIT).returncode == 0:
        active = _systemctl("is-active", UNIT).stdout.strip()
        return ReconcilerState("systemd", active == "active", None, f"{UNIT} {active}")
    pid = _read_pid(cfg)
    if pid is not None and _is_reconciler(pid):
        return ReconcilerState("process", True, pid, f"pid {pid}")
    orphan = _find_process(cfg)
    if orphan is not None:  # started, but init was killed before it wrote the pidfile: adopt it
        atomic_write(pidfile(cfg), f"{orphan}\n", mode=0o644)
        return ReconcilerState("process", True, orphan, f"pid {orphan}")
    if pid is None:
        return ReconcilerState("process", False, None, "not running (no pidfile)")
    return ReconcilerState("process", False, None, f"not running (stale pidfile {pidfile(cfg)})")


def _find_process(cfg: KbsConfig) -> int | None:
    """A live `kbs reconcile --config <this config>` without a pidfile pointing at it."""
    wanted = command(cfg)[2:]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
            if args[-len(wanted) :] == wanted:
                return int(entry.name)
    return None


def start_detached(cfg: KbsConfig) -> int:
    """Start `kbs reconcile` in its own session; returns its pid (written to the pidfile)."""
    ensure_dir(cfg.kbs.reconciler.run_dir)
    ensure_dir(cfg.kbs.reconciler.log_dir)
    try:
        log = logfile(cfg).open("ab")
    except OSError as exc:
        raise FileWriteError(f"cannot open {logfile(cfg)}: {exc.strerror}") from exc
    with log:
        process = subprocess.Popen(
            command(cfg),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    atomic_write(pidfile(cfg), f"{process.pid}\n", mode=0o644)
    return process.pid


def start_systemd(cfg: KbsConfig) -> None:
    """Write, enable and start kbs-reconciler.service (the reconciler's own installer)."""
    from bootstrap.reconciler.systemd import install

    install(reconcile_args(cfg))


def daemon_reload() -> None:
    _systemctl("daemon-reload")


def restart(cfg: KbsConfig) -> None:
    current = state(cfg)
    if current.how == "systemd":
        start_systemd(cfg)  # rewrites the unit with the new flags
        _systemctl("restart", UNIT)
        return
    stop(cfg)
    start_detached(cfg)


def stop(cfg: KbsConfig) -> str | None:
    """Stop the reconciler however it runs; returns what was stopped (None: it was not running)."""
    current = state(cfg)
    if current.how == "systemd":
        if not current.running:
            return None
        _systemctl("disable", "--now", UNIT)
        return f"stopped and disabled {UNIT}"
    if current.pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline and _is_reconciler(current.pid):
        time.sleep(0.1)
    if _is_reconciler(current.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(current.pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and _is_reconciler(current.pid):
            time.sleep(0.1)
    with contextlib.suppress(OSError):
        pidfile(cfg).unlink()
    return f"stopped the reconciler (pid {current.pid})"


def log_tail(cfg: KbsConfig, lines: int = 15) -> list[str]:
    with contextlib.suppress(OSError):
        return logfile(cfg).read_text(errors="replace").rstrip("\n").splitlines()[-lines:]
    return []
