"""`kbs reset`: undo `kbs init` on this node, removing exactly what kbs created and nothing else.

Order matters: stop the reconciler first (or it restarts what we remove), then the static pods' containers,
then the files. What counts as "kbs created it" is the ledger (bootstrap.phases.ledger): the manifests, PKI,
kubeconfigs, reconciler config, pidfile and log, and the directories kbs had to make. Directories that hold
only kbs's data (etcd's data dir, the reconciler's state, run and log dirs) go with their contents when kbs
created them, and are emptied (kept) when kbs found them empty (ledger class `contents`, like kubeadm reset
empties the etcd data dir); any other directory kbs made is removed only once empty, so a file the operator put
there keeps it. Manifests kbs did not write (the operator's own static pods) are never touched, though their
containers — which kbs's reconciler started — are removed with the rest when the bundled reconciler ran them.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bootstrap import constants
from bootstrap.phases import ledger as ledgers
from bootstrap.phases import supervise

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig
    from bootstrap.phases.reset_etcd import Removal


@dataclass
class ResetReport:
    stopped: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)  # directories kbs found empty: their contents were kbs's
    kept: list[str] = field(default_factory=list)  # kbs-made directories left because someone else's files are inside
    notes: list[str] = field(default_factory=list)


def _wholly_ours(cfg: KbsConfig) -> set[Path]:
    rec = cfg.kbs.reconciler
    dirs = {rec.state_dir, rec.run_dir, rec.log_dir}
    if cfg.local_etcd:
        dirs.add(cfg.etcd_data_dir)
    return dirs


def _pod_names(cfg: KbsConfig) -> set[tuple[str, str]]:
    """(namespace, pod) of every pod the bundled reconciler ran, plus the control-plane pods by name."""
    names = {(constants.KUBE_SYSTEM, f"{c}-{cfg.node_name}") for c in constants.ALL_COMPONENTS}
    with contextlib.suppress(ImportError, OSError, ValueError):
        from bootstrap.reconciler.status import read_statuses

        names |= {(pod.namespace, pod.name) for pod in read_statuses(supervise.reconciler_state_dir(cfg))}
    return names


SWEEPS = 5  # listing again after a removal catches a container Docker was still creating or removing


def remove_containers(cfg: KbsConfig, report: ResetReport) -> None:
    """Remove every container the bundled reconciler made (its instance label), whatever state it is in, plus
    the containers of the pods it ran by name; the reconciler is stopped first, so nothing makes new ones.

    Listed again until a listing finds none: a pod the reconciler was stopping at the moment it was stopped
    (its manifest just removed) can still be on its way out in Docker, or be removed by Docker between the
    listing and the removal, and must not survive the reset either way."""
    from bootstrap.phases import containers

    wanted = _pod_names(cfg)
    instance = cfg.node_name.lower()  # the reconciler labels its containers with its instance, the node name
    done: set[str] = set()
    for _ in range(SWEEPS):
        found = [
            c
            for c in containers.list_pod_containers(cfg)
            if (c.reconciler == instance or (c.namespace, c.pod) in wanted) and c.id not in done
        ]
        if not found:
            break
        for item in containers.remove(cfg, found):
            done.add(item.id)
            report.containers.append(f"{item.name} ({item.id})")
        done |= {c.id for c in found}


KUBELET_STOP_WAIT = 90.0  # seconds: the kubelet's 30 s grace period per pod, plus its file check and sync


def _control_plane_ports(cfg: KbsConfig) -> list[int]:
    found = [cfg.bind_port, constants.KUBE_CONTROLLER_MANAGER_PORT, constants.KUBE_SCHEDULER_PORT]
    if cfg.local_etcd:
        found += [constants.ETCD_CLIENT_PORT, constants.ETCD_PEER_PORT, constants.ETCD_METRICS_PORT]
    return found


def stop_kubelet_pods(
    cfg: KbsConfig, ledger: ledgers.Ledger, report: ResetReport, wait: float = KUBELET_STOP_WAIT
) -> None:
    """--reconciler kubelet: remove kbs's manifests first and wait until the kubelet has stopped their pods (the
    control plane's ports are free), the way the kubelet stops a static pod whose file went away; only then do
    kubelet.conf and the certificates go (the kubelet needs neither to stop a static pod, but a kubelet supervisor
    may stop the kubelet itself once kubelet.conf is gone, and a stopped kubelet leaves its containers running)."""
    import time

    from bootstrap.phases import ports

    names = {f"{component}.yaml" for component in constants.ALL_COMPONENTS}
    manifests = [p for p in ledger.created() if p.name in names and (p.is_file() or p.is_symlink())]
    for path in manifests:
        path.unlink()
        report.files.append(str(path))
    wanted = _control_plane_ports(cfg)
    deadline = time.monotonic() + wait
    while (held := ports.listeners(wanted)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if held:
        owners = ", ".join(f"{port} ({listener.describe()})" for port, listener in sorted(held.items()))
        report.notes.append(f"the kubelet has not stopped every static pod after {wait:.0f}s: still listening {owners}")
    elif manifests:
        report.stopped.append(f"the kubelet stopped the static pods of {', '.join(p.name for p in manifests)}")
    remove_kubelet_client_certificates(cfg, report)
    report.notes.append(
        "--reconciler kubelet: the kubelet keeps running (kbs did not install or start it); pods the cluster "
        "scheduled on this node (kube-proxy, CoreDNS, the pod network) stay with it: stop the kubelet and remove "
        "them as `kubeadm reset` does (`systemctl stop kubelet; crictl rmp --all --force`) if you want them gone"
    )


def remove_kubelet_client_certificates(cfg: KbsConfig, report: ResetReport) -> None:
    """The client certificates the kubelet got from this cluster (kubelet.conf's, then rotated ones): kept, the
    kubelet would present them to the next cluster's API server instead of the next kubelet.conf's."""
    from bootstrap.phases import kubelet

    try:
        ca_pem = (cfg.cert_dir / "ca.crt").read_bytes()
    except OSError:
        return
    for path in kubelet.client_certificates_issued_by(ca_pem, kubelet.cert_dir()):
        path.unlink()
        report.files.append(str(path))


def remove_files(cfg: KbsConfig, ledger: ledgers.Ledger, report: ResetReport) -> None:
    whole = _wholly_ours(cfg)
    # deepest first, so a directory is looked at after everything kbs put inside it
    for path in sorted(ledger.created(), key=lambda p: len(p.parts), reverse=True):
        if path == ledger.path:
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
            report.files.append(str(path))
        elif path.is_dir():
            if path in whole:
                shutil.rmtree(path)
                report.directories.append(f"{path}/ (with its contents)")
            elif not any(path.iterdir()):
                path.rmdir()
                report.directories.append(f"{path}/")
            else:
                report.kept.append(
                    f"{path}/ (holds files kbs did not create: {', '.join(sorted(p.name for p in path.iterdir())[:5])})"
                )
    for path in sorted(ledger.contents(), key=lambda p: len(p.parts), reverse=True):
        if path.is_symlink() or not path.is_dir():
            continue
        inside = [p for p in path.iterdir() if p != ledger.path]
        for item in inside:
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
        if inside:
            report.emptied.append(f"{path}/ ({len(inside)} entries; kbs found it empty and keeps it)")


def reset(cfg: KbsConfig, etcd_member: Removal | None = None) -> ResetReport:
    """Undo `kbs init`/`kbs join`; `etcd_member` (from bootstrap.phases.reset_etcd.check) goes first."""
    from bootstrap.phases import reset_etcd

    report = ResetReport()
    ledger = ledgers.Ledger.load(cfg.kbs.reconciler.state_dir)
    if etcd_member is not None:
        report.stopped += reset_etcd.remove(etcd_member)
    mode = cfg.kbs.reconciler.mode
    stopped = supervise.stop(cfg)
    if stopped:
        report.stopped.append(stopped)
    if mode == "bundled":
        remove_containers(cfg, report)
    elif mode == "kubelet":
        stop_kubelet_pods(cfg, ledger, report)
    else:
        report.notes.append(f"--reconciler {mode}: removing the manifests makes the {mode} runtime stop their pods")
    if not ledger.entries:
        report.notes.append(f"no ledger at {ledger.path}: kbs created no files here (or they were already removed)")
    remove_files(cfg, ledger, report)
    if ledger.path.exists() and ledger.path.parent.exists():
        ledger.remove_file()
        report.files.append(str(ledger.path))
        with contextlib.suppress(OSError):
            if ledger.owns(ledger.path.parent) and not any(ledger.path.parent.iterdir()):
                ledger.path.parent.rmdir()
                report.directories.append(f"{ledger.path.parent}/")
    if str(constants.RECONCILER_UNIT_PATH) in report.files and supervise.systemd_runs_machine():
        supervise.daemon_reload()
    report.notes.append("not touched: $HOME/.kube/config, CNI configuration, iptables rules, images")
    return report
