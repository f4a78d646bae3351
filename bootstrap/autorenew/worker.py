"""The renewal thread of the bundled reconciler (`kbs reconcile --config`), beside the etcd snapshot schedule.

Each round: read every leaf certificate and renewable kubeconfig (pki.check_expiration), renew those due
(pki.renewal.renew, which keeps subject and SANs and never touches a CA), then restart the static pods that read
them, one at a time in the control plane's order: stop the running container (the reconciler restarts it at once,
as the kubelet would after an exit) and wait until its successor runs and the health endpoint answers twice before
the next. kube-apiserver stays the only API server while it restarts on one node; on HA the others serve.
The outcome of the last round that renewed something is kept in `<stateDir>/certificate-renewal.json` for
`kbs status`. The thread never raises: a failure is logged and recorded, and retried at the next check.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bootstrap import constants
from bootstrap.autorenew import policy
from bootstrap.errors import KbsError
from bootstrap.fsutil import atomic_write, read_record

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

log = logging.getLogger("kbs.autorenew")
STATUS_FILE = "certificate-renewal.json"
NODE = constants.KUBELET_KUBECONFIG  # renewed by pki.renewal.renew_node_kubeconfig; the reconciler reloads it
RESTART_TIMEOUT = 180.0
STOP_GRACE = 30


@dataclass(frozen=True)
class Due:
    renew: list[str]  # names due now
    upcoming: dict[str, datetime]  # every renewable file -> when it falls due


@dataclass(frozen=True)
class LastRun:
    time: str
    ok: bool
    renewed: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    detail: str = ""


def schedule(cfg: KbsConfig, now: datetime) -> Due:
    """Which renewable files are due at `now`, and when each one falls due."""
    import pki
    from bootstrap.config import pki_context
    from pki.renewal import renewable

    ctx = pki_context(cfg)
    names = set(renewable(ctx))
    before = cfg.kbs.certificate_renewal.renew_before
    upcoming: dict[str, datetime] = {}
    margins: dict[str, timedelta] = {}
    for info in pki.check_expiration(ctx):
        if info.name not in names or info.is_ca or info.externally_managed:
            continue
        if info.issued is None or info.expires is None:
            continue
        upcoming[info.name] = policy.renew_at(info.issued, info.expires, before)
        margins[info.name] = policy.margin(info.issued, info.expires, before)
    if cfg.kbs.reconciler.mode == "bundled":  # the reconciler is this node's kubelet: its kubelet.conf is ours too
        from pki import kubeconfig

        node = kubeconfig.read(cfg.kubeconfig(constants.KUBELET_KUBECONFIG))
        if node is not None and node.cert is not None:
            cert = node.cert
            upcoming[NODE] = policy.renew_at(cert.not_valid_before_utc, cert.not_valid_after_utc, before)
            margins[NODE] = policy.margin(cert.not_valid_before_utc, cert.not_valid_after_utc, before)
    return Due(policy.batch(upcoming, margins, now), upcoming)


def status_path(cfg: KbsConfig) -> Path:
    return cfg.kbs.reconciler.state_dir / STATUS_FILE


def read_last(cfg: KbsConfig) -> LastRun | None:
    return read_record(status_path(cfg), LastRun)


def restart_pod(cfg: KbsConfig, component: str, since: datetime, timeout: float = RESTART_TIMEOUT) -> None:
    """Make the component run a container started after `since` (when its certificates were renewed), healthy.

    A container started since then already read the new files and is left alone (on one node, restarting
    kube-apiserver often makes kube-controller-manager exit and come back by itself); an older one is stopped and
    the reconciler starts its successor at once.
    """
    import docker

    from bootstrap.phases import containers as ctr
    from bootstrap.phases import health
    from bootstrap.phases.images import docker_client

    pod = f"{component}-{cfg.node_name}"

    def running() -> ctr.Container | None:
        found = ctr.current(ctr.list_pod_containers(cfg, constants.KUBE_SYSTEM, pod), component)
        return found if found is not None and found.state == "running" else None

    def fresh(c: ctr.Container | None) -> bool:
        return c is not None and c.started_at is not None and c.started_at >= since

    old = running()
    if old is None and not ctr.list_pod_containers(cfg, constants.KUBE_SYSTEM, pod):
        log.info("%s: not run by this reconciler; nothing to restart", pod)
        return
    if old is not None and not fresh(old):
        # a container replaced meanwhile (NotFound) is fine: its successor is checked below
        with docker_client(cfg) as client, contextlib.suppress(docker.errors.NotFound):
            client.containers.get(old.id).stop(timeout=STOP_GRACE)
    endpoint = next(e for e in health.endpoints(cfg) if e.component == component)
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        streak = streak + 1 if fresh(running()) and health.probe(endpoint).healthy else 0
        if streak >= 2:
            log.info("%s runs with its renewed certificates and is healthy", pod)
            return
        time.sleep(0.5)
    raise KbsError(f"{pod} did not come back healthy within {timeout:.0f}s after its restart")


def run_once(
    cfg: KbsConfig, now: datetime | None = None, restart: Callable[[KbsConfig, str, datetime], None] = restart_pod
) -> LastRun | None:
    """Renew what is due and restart its readers; None when nothing was due. Never raises."""
    import pki
    from bootstrap.config import pki_context
    from pki.renewal import renew_node_kubeconfig

    at = now or datetime.now(UTC)
    renewed: list[str] = []
    restarted: list[str] = []
    try:
        due = schedule(cfg, at)
        if not due.renew:
            return None
        ctx = pki_context(cfg)
        since = datetime.now(UTC)  # before the files change: a container started after this reads the new ones
        results = []
        for name in due.renew:
            results += renew_node_kubeconfig(ctx) if name == NODE else pki.renew(ctx, name)
            renewed.append(name)
        log.info("renewed %s", ", ".join(renewed))
        for component in pki.restarts_needed(results):
            restart(cfg, component, since)
            restarted.append(component)
        result = LastRun(_iso(at), True, renewed, restarted)
    except (KbsError, OSError) as exc:
        log.error("automatic certificate renewal failed: %s", exc)
        result = LastRun(_iso(at), False, renewed, restarted, str(exc))
    except Exception as exc:  # the thread must survive Docker's own errors too
        log.exception("automatic certificate renewal failed")
        result = LastRun(_iso(at), False, renewed, restarted, f"{type(exc).__name__}: {exc}")
    try:
        atomic_write(status_path(cfg), json.dumps(asdict(result)) + "\n", mode=0o600)
    except (OSError, KbsError) as exc:
        log.warning("cannot record the renewal in %s: %s", status_path(cfg), exc)
    return result


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class Renewer:
    """The daemon thread; `stop()` ends it."""

    def __init__(self, cfg: KbsConfig) -> None:
        self.cfg = cfg
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="certificate-renewal", daemon=True)

    def start(self) -> Renewer:
        before = self.cfg.kbs.certificate_renewal.renew_before
        log.info(
            "automatic certificate renewal: checked every %s, %s",
            self.cfg.kbs.certificate_renewal.check_interval,
            f"renewBefore {before}" if before else "at min(30 days, a third of the lifetime) left",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        interval = self.cfg.kbs.certificate_renewal.check_interval
        while True:
            run_once(self.cfg)
            now = datetime.now(UTC)
            try:
                upcoming = schedule(self.cfg, now).upcoming.values()
            except (KbsError, OSError):
                upcoming = []  # type: ignore[assignment]
            wait = (policy.next_check(now, upcoming, interval) - now).total_seconds()
            if self._stop.wait(max(1.0, wait)):
                return


def start_from_config(path: Path | None) -> Renewer | None:
    """The renewal thread for `kbs reconcile --config PATH`; None without a config or when disabled."""
    if path is None:
        return None
    from bootstrap.config import load_config

    try:
        cfg = load_config(path)
        if cfg.kbs.certificate_renewal.disabled:
            return None
        return Renewer(cfg).start()
    except KbsError as exc:  # the static pods matter more: run without renewal, loudly
        log.error("automatic certificate renewal is off: %s", exc)
        return None
