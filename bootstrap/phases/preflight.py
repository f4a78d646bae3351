"""The preflight phase: named checks of the machine, each ignorable with `--ignore-preflight-errors=<Name>|all`.

Names follow kubeadm's where the check is kubeadm's (IsPrivilegedUser, NumCPU, Mem, Swap, Port-6443,
FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml, DirAvailable--var-lib-etcd, ImagePull); kbs adds
Docker, Clock and Hostname. Unlike kubeadm's, the checks accept what kbs itself made: a port held by the
control-plane component kbs runs there, a manifest or etcd data directory the ledger says kbs created. That is
what lets a second `kbs init` pass preflight and converge instead of asking for `kbs reset`.

With --dry-run errors are printed as warnings and nothing is pulled.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from bootstrap import constants
from bootstrap.errors import PreflightError
from bootstrap.phases import images as image_ops
from bootstrap.phases import ports
from bootstrap.phases.context import InitData
from bootstrap.phases.ledger import Ledger
from bootstrap.phases.workflow import Outcome

MIN_CPUS = 2
MIN_MEMORY_MB = 1700
MAX_CLOCK_SKEW_SECONDS = 60
_CLOCK_FLOOR = datetime(2025, 1, 1, tzinfo=UTC)  # older than any Kubernetes release kbs supports


@dataclass(frozen=True)
class Problem:
    check: str
    message: str
    severity: Literal["error", "warning"] = "error"


CheckFn = Callable[[InitData], list[Problem]]


def check_name_for(path: Path, prefix: str) -> str:
    """kubeadm's naming: FileAvailable--etc-kubernetes-manifests-etcd.yaml for /etc/kubernetes/manifests/etcd.yaml."""
    return f"{prefix}{str(path).replace('/', '-')}"


# --- the checks ----------------------------------------------------------------------------------------------------
def privileged_user(data: InitData) -> list[Problem]:
    if os.geteuid() != 0:
        return [Problem("IsPrivilegedUser", "user is not running as root; run `sudo kbs init`")]
    return []


def num_cpu(data: InitData) -> list[Problem]:
    count = len(os.sched_getaffinity(0))
    if count < MIN_CPUS:
        return [Problem("NumCPU", f"the number of available CPUs {count} is less than the required {MIN_CPUS}")]
    return []


def memory(data: InitData, meminfo: Path = Path("/proc/meminfo")) -> list[Problem]:
    match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
    total_mb = int(match[1]) // 1024 if match else 0
    if total_mb < MIN_MEMORY_MB:
        return [Problem("Mem", f"the system RAM ({total_mb} MB) is less than the minimum {MIN_MEMORY_MB} MB")]
    return []


def swap(data: InitData, swaps: Path = Path("/proc/swaps")) -> list[Problem]:
    with contextlib.suppress(OSError):
        if len(swaps.read_text().strip().splitlines()) > 1:
            # The kubelet refuses to start with swap on (failSwapOn); kbs's reconciler does not care.
            severity: Literal["error", "warning"] = "error" if data.cfg.kbs.reconciler.mode == "kubelet" else "warning"
            return [Problem("Swap", "swap is enabled; the kubelet refuses to run with swap on by default", severity)]
    return []


def _expected_owners(data: InitData) -> dict[int, tuple[str, ...]]:
    """Port -> the command names allowed to hold it (our own control plane on a converged node)."""
    cfg = data.cfg
    owners: dict[int, tuple[str, ...]] = {
        cfg.bind_port: (constants.KUBE_APISERVER,),
        constants.KUBE_CONTROLLER_MANAGER_PORT: (constants.KUBE_CONTROLLER_MANAGER,),
        constants.KUBE_SCHEDULER_PORT: (constants.KUBE_SCHEDULER,),
    }
    if cfg.local_etcd:
        for port in (constants.ETCD_CLIENT_PORT, constants.ETCD_PEER_PORT, constants.ETCD_METRICS_PORT):
            owners[port] = (constants.ETCD,)
    if cfg.kbs.reconciler.mode == "bundled":
        for port in (cfg.kbs.reconciler.port, cfg.kbs.reconciler.healthz_port):
            owners[port] = ("kbs",)
    return owners


def _is_kbs(listener: ports.Listener) -> bool:
    words = " ".join(listener.cmdline)
    return "reconcile" in words and ("kbs" in words or "bootstrap" in words)


def _mentions_our_paths(listener: ports.Listener, data: InitData) -> bool:
    """The process was started from this configuration's files (not another cluster's with the same binaries)."""
    cfg = data.cfg
    paths = [str(p) for p in (cfg.cert_dir, cfg.kubernetes_dir, cfg.manifests_dir, cfg.kbs.reconciler.state_dir)]
    if cfg.local_etcd:
        paths.append(str(cfg.etcd_data_dir))
    return any(path in arg for arg in listener.cmdline for path in paths)


def ports_free(data: InitData) -> list[Problem]:
    problems = []
    expected = _expected_owners(data)
    held = ports.listeners(list(expected))
    for port, allowed in sorted(expected.items()):
        owner = held.get(port)
        if owner is None:
            continue
        ours = owner.command in allowed or ("kbs" in allowed and _is_kbs(owner))
        if ours and _mentions_our_paths(owner, data):
            continue
        problems.append(Problem(f"Port-{port}", f"port {port} is in use by {owner.describe()}"))
    return problems


def manifests_available(data: InitData) -> list[Problem]:
    ledger = Ledger.load(data.cfg.kbs.reconciler.state_dir)
    problems = []
    for component in _components(data):
        path = data.cfg.manifests_dir / f"{component}.yaml"
        if path.exists() and not ledger.owns(path) and not data.options.adopt:
            problems.append(
                Problem(
                    check_name_for(path, "FileAvailable-"),
                    f"{path} already exists and kbs did not write it (use --adopt to let kbs replace it)",
                )
            )
    return problems


def etcd_dir_available(data: InitData) -> list[Problem]:
    if not data.cfg.local_etcd:
        return []
    path = data.cfg.etcd_data_dir
    ledger = Ledger.load(data.cfg.kbs.reconciler.state_dir)
    if path.is_dir() and any(path.iterdir()) and not ledger.owns_contents(path):
        return [Problem(check_name_for(path, "DirAvailable-"), f"{path} is not empty and kbs did not create it")]
    return []


def docker_reachable(data: InitData) -> list[Problem]:
    if data.cfg.kbs.reconciler.mode != "bundled":
        return []
    error = image_ops.docker_error(data.cfg)
    return [Problem("Docker", error)] if error else []


def images_present(data: InitData) -> list[Problem]:
    if data.cfg.kbs.reconciler.mode != "bundled" or image_ops.docker_error(data.cfg):
        return []
    missing = image_ops.missing(data.cfg)
    if not missing:
        return []
    if data.dry_run or data.cfg.init.node_registration.image_pull_policy == "Never":
        verb = "would pull" if data.dry_run else "missing (imagePullPolicy Never)"
        severity: Literal["error", "warning"] = "warning" if data.dry_run else "error"
        return [Problem("ImagePull", f"{verb}: {', '.join(missing)}", severity)]
    data.out.line("preflight", f"pulling {len(missing)} image(s): {', '.join(missing)}")
    failures = image_ops.pull(data.cfg, missing)
    data.scratch["pulled"] = len(missing) - len(failures)
    return [Problem("ImagePull", f"cannot pull {ref}: {why}") for ref, why in failures.items()]


def clock(data: InitData) -> list[Problem]:
    now = datetime.now(UTC)
    if now < _CLOCK_FLOOR:
        return [Problem("Clock", f"the system clock says {now:%Y-%m-%d}, which is in the past; set the time")]
    ca = data.cfg.cert_dir / "ca.crt"
    if ca.is_file():
        from cryptography import x509

        with contextlib.suppress(ValueError, OSError):
            cert = x509.load_pem_x509_certificate(ca.read_bytes())
            if now < cert.not_valid_before_utc:
                return [
                    Problem("Clock", f"the system clock is before the CA's start date ({cert.not_valid_before_utc})")
                ]
            if now > cert.not_valid_after_utc:
                return [Problem("Clock", f"{ca} expired on {cert.not_valid_after_utc:%Y-%m-%d}")]
    if data.cfg.kbs.reconciler.mode == "bundled" and image_ops.engine_is_remote(data.cfg):
        # a local engine shares this machine's clock; asking it (`docker info`) costs ~0.1 s of every init
        skew = image_ops.docker_clock_skew(data.cfg)
        if skew is not None and abs(skew) > MAX_CLOCK_SKEW_SECONDS:
            return [Problem("Clock", f"this machine's clock and the Docker engine's differ by {skew:.0f}s")]
    return []


def hostname(data: InitData) -> list[Problem]:
    name = data.cfg.node_name
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", name) or len(name) > 253:
        return [Problem("Hostname", f"node name {name!r} is not a valid DNS subdomain; set --node-name")]
    return []


CHECKS: tuple[CheckFn, ...] = (
    privileged_user,
    num_cpu,
    memory,
    swap,
    hostname,
    clock,
    ports_free,
    manifests_available,
    etcd_dir_available,
    docker_reachable,
    images_present,
)


def _components(data: InitData) -> list[str]:
    return [c for c in constants.ALL_COMPONENTS if c != constants.ETCD or data.cfg.local_etcd]


def evaluate(data: InitData, checks: tuple[CheckFn, ...] | None = None) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) after --ignore-preflight-errors; ignored errors become warnings, as in kubeadm."""
    ignore = data.options.ignore_preflight_errors | {
        n.lower() for n in data.cfg.init.node_registration.ignore_preflight_errors
    }
    errors, warnings = [], []
    selected = CHECKS if checks is None else checks
    # The checks only read (the image pull aside) and several wait on Docker or /proc: run them side by side,
    # report them in table order.
    with ThreadPoolExecutor(max_workers=max(1, len(selected)), thread_name_prefix="kbs-preflight") as pool:
        results = list(pool.map(lambda check: check(data), selected))
    for problems in results:
        for problem in problems:
            ignored = "all" in ignore or problem.check.lower() in ignore
            if problem.severity == "error" and not ignored and not data.dry_run:
                errors.append(problem)
            else:
                warnings.append(problem)
    return errors, warnings


def run(data: InitData) -> Outcome:
    errors, warnings = evaluate(data)
    for problem in warnings:
        data.out.detail(f"[WARNING {problem.check}]: {problem.message}")
    for problem in errors:
        data.out.detail(f"[ERROR {problem.check}]: {problem.message}")
    if errors:
        names = ",".join(p.check for p in errors)
        raise PreflightError(
            f"{len(errors)} preflight check(s) failed: {names}",
            hint=f"fix them, or skip them knowingly with --ignore-preflight-errors={names}",
        )
    pulled = data.scratch.get("pulled", 0)
    summary = f"{len(CHECKS)} checks passed" + (f", {len(warnings)} warning(s)" if warnings else "")
    return Outcome(summary, changed=bool(pulled))
