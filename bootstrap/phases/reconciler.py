"""The reconciler phase: make sure something will run the manifests the next phases write.

    bundled  write <stateDir>/config.yaml (the effective configuration, no secrets) and run
             `kbs reconcile --config` on it: as kbs-reconciler.service under systemd, else detached with a
             pidfile and a log file (bootstrap.phases.supervise)
    kubelet  the installed kubelet runs them; prepare() already found its staticPodPath and said which
    none     nothing on this node runs them; wait-control-plane stops the run after the manifests

It runs right after preflight, before any certificate exists, the way a kubeadm node's kubelet is already running
(and waiting) before `kubeadm init`: the reconciler's start-up then overlaps the certs and kubeconfig phases, and it
picks each manifest up the moment it is written. Its API-server side waits for kubelet.conf to appear.

Either way it records in the ledger who runs the pods (bootstrap.phases.node_setup), before any file is written,
so the next command on the node acts on the same runtime.

Convergence: a running reconciler whose configuration did not change is left alone; a changed configuration
restarts it; a dead one (stale pidfile, killed) is started again.
"""

from __future__ import annotations

from bootstrap import constants
from bootstrap.fsutil import atomic_write, ensure_dir
from bootstrap.phases import ledger as ledgers
from bootstrap.phases import node_setup, supervise
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

PHASE = "reconciler"


def run(data: InitData) -> Outcome:
    cfg = data.cfg
    mode = cfg.kbs.reconciler.mode
    reconciler = cfg.kbs.reconciler
    if mode != "bundled":
        ledgers.record(reconciler.state_dir, [], node=node_setup.describe(cfg))
    if mode == "none":
        return Outcome(f"--reconciler none: nothing on this node will run the manifests in {cfg.manifests_dir}")
    if mode == "kubelet":
        return Outcome(f"the installed kubelet runs the manifests in {cfg.manifests_dir}")
    path = supervise.config_file(cfg)
    paths = [path, supervise.pidfile(cfg), supervise.logfile(cfg), cfg.manifests_dir]
    data_dirs = [reconciler.run_dir, reconciler.log_dir]
    ledgers.record(reconciler.state_dir, paths, data_dirs=data_dirs, node=node_setup.describe(cfg))
    # the staticPodPath exists before the reconciler starts, so it watches it (inotify) from its first moment
    ensure_dir(cfg.manifests_dir, constants.MANIFESTS_DIR_MODE)
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
