"""The reconciler phase: make sure something runs the manifests just written.

    bundled  write <stateDir>/config.yaml (the effective configuration, no secrets) and run
             `kbs reconcile --config` on it: as kbs-reconciler.service under systemd, else detached with a
             pidfile and a log file (bootstrap.phases.supervise)
    kubelet  the installed kubelet runs them; prepare() already found its staticPodPath and said which
    none     stop after the manifests: nothing on this node runs them

Convergence: a running reconciler whose configuration did not change is left alone; a changed configuration
restarts it; a dead one (stale pidfile, killed) is started again.
"""

from __future__ import annotations

from bootstrap import constants
from bootstrap.fsutil import atomic_write
from bootstrap.phases import ledger as ledgers
from bootstrap.phases import supervise
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

PHASE = "reconciler"


def run(data: InitData) -> Outcome:
    cfg = data.cfg
    mode = cfg.kbs.reconciler.mode
    if mode == "none":
        return Outcome(
            f"--reconciler none: the manifests are in {cfg.manifests_dir}; nothing on this node runs them", stop=True
        )
    if mode == "kubelet":
        return Outcome(f"the installed kubelet runs the manifests in {cfg.manifests_dir}")
    path = supervise.config_file(cfg)
    ledgers.record(
        cfg.kbs.reconciler.state_dir,
        [path, cfg.kbs.reconciler.run_dir, cfg.kbs.reconciler.log_dir, supervise.pidfile(cfg), supervise.logfile(cfg)],
    )
    config_changed = atomic_write(path, supervise.config_text(cfg), mode=0o600, dir_mode=0o700)
    if data.dry_run:
        how = f"systemd unit {supervise.UNIT}" if supervise.systemd_runs_machine() else "a detached process"
        return Outcome(f"would start the bundled reconciler as {how}: {' '.join(supervise.command(cfg))}")
    current = supervise.state(cfg)
    if current.running and not config_changed:
        return Outcome(f"bundled reconciler already running ({current.detail})")
    if current.running:
        supervise.restart(cfg)
        return Outcome(f"restarted the bundled reconciler: its configuration changed ({path})", changed=True)
    if supervise.systemd_runs_machine():
        ledgers.record(cfg.kbs.reconciler.state_dir, [constants.RECONCILER_UNIT_PATH])
        supervise.start_systemd(cfg)
        return Outcome(f"started {supervise.UNIT}", changed=True)
    pid = supervise.start_detached(cfg)
    data.out.line(PHASE, "systemd does not run this machine: starting `kbs reconcile` as a detached process")
    data.out.line(PHASE, f"pidfile {supervise.pidfile(cfg)}, log {supervise.logfile(cfg)}")
    return Outcome(f"started the bundled reconciler (pid {pid})", changed=True)
