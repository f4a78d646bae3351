"""Keeping the bundled reconciler running: a systemd unit when systemd runs the machine, else a detached process.

The reconciler is `kbs reconcile` with flags derived from the configuration (`reconcile_args`: manifest dir, node
name, node IP, pause image, state dir, healthz port, Docker host). Those flags are also kept in
`<stateDir>/reconciler-args.json` so the reconciler phase can tell when they changed and a restart is due.

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
ARGS_FILE = "reconciler-args.json"
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


def args_file(cfg: KbsConfig) -> Path:
    return cfg.kbs.reconciler.state_dir / ARGS_FILE


def reconciler_state_dir(cfg: KbsConfig) -> Path:
    """Where the reconciler keeps its per-pod status files (bootstrap.reconciler.status.read_statuses reads it)."""
    return cfg.kbs.reconciler.state_dir / RECONCILER_SUBDIR


def reconcile_args(cfg: KbsConfig) -> list[str]:
    """The `kbs reconcile` flags that make it run this configuration's static pods."""
    rec = cfg.kbs.reconciler
    args = [
        "--manifest-dir", str(cfg.manifests_dir),
        "--node-name", cfg.node_name,
        "--node-ip", cfg.advertise_address,
        "--pod-infra-container-image", cfg.image("pause"),
        "--state-dir", str(reconciler_state_dir(cfg)),
        "--healthz-port", str(rec.healthz_port),
        "--healthz-bind-address", rec.healthz_bind_address,
        "--file-check-frequency", f"{rec.file_check_frequency.total_seconds():g}s",
    ]  # fmt: skip
    if rec.static_pod_url:
        args += [
            "--manifest-url",
            rec.static_pod_url,
            "--http-check-frequency",
            f"{rec.http_check_frequency.total_seconds():g}s",
        ]
    if rec.docker_host:
        args += ["--docker-host", rec.docker_host]
    return args


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
    return f"stopped the reconciler (pid {current.pid})"


def log_tail(cfg: KbsConfig, lines: int = 15) -> list[str]:
    with contextlib.suppress(OSError):
        return logfile(cfg).read_text(errors="replace").rstrip("\n").splitlines()[-lines:]
    return []
