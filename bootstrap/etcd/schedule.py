"""Scheduled etcd snapshots, run inside the bundled reconciler (`kbs reconcile --config`), like k3s's server does.

etcdSnapshots.scheduleCron (default `0 */12 * * *`) says when; each run saves `scheduled-<node>-<unix time>` and
then prunes this node's scheduled snapshots beyond etcdSnapshots.retention (default 5); on-demand snapshots are
never pruned. The cron expression is parsed by croniter (well kept, pure Python, the de-facto parser on PyPI): five
fields, or six with a trailing seconds field (a kbs extension, handy for tests). The outcome of the last run is
kept in `<stateDir>/etcd-snapshot-schedule.json` for `kbs status`.

The scheduler is one daemon thread that sleeps until the next time and never raises: a failed snapshot is logged
and recorded, and the next one is tried on schedule.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bootstrap.errors import ConfigError, KbsError
from bootstrap.fsutil import atomic_write, read_record

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

log = logging.getLogger("kbs.etcd.schedule")
STATUS_FILE = "etcd-snapshot-schedule.json"
FIELD = "KbsConfiguration etcdSnapshots.scheduleCron"


@dataclass(frozen=True)
class LastRun:
    time: str  # ISO 8601, UTC
    ok: bool
    detail: str  # the snapshot's name, or the error
    pruned: list[str]


def next_time(expression: str, after: float) -> float:
    """The first time strictly after `after` (unix seconds) that `expression` names; ConfigError if it is bad."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ConfigError(
            f"{FIELD}: {expression!r} is not a cron expression",
            hint="five fields (minute hour day month weekday), e.g. '0 */12 * * *'",
        )
    try:
        it = croniter(expression, datetime.fromtimestamp(after, UTC))
        return float(it.get_next(float))
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{FIELD}: {expression!r} is not a cron expression: {exc}") from exc


def status_path(cfg: KbsConfig) -> Path:
    return cfg.kbs.reconciler.state_dir / STATUS_FILE


def read_last(cfg: KbsConfig) -> LastRun | None:
    return read_record(status_path(cfg), LastRun)


def summary(cfg: KbsConfig) -> str | None:
    """The `kbs status` line about scheduled snapshots; None when none has run on this node yet."""
    last = read_last(cfg)
    if last is None:
        return None
    if last.ok:
        return f"etcd snapshots: last scheduled {last.detail} at {last.time}"
    return f"etcd snapshots: the scheduled snapshot at {last.time} FAILED: {last.detail}"


def run_once(cfg: KbsConfig, now: float | None = None) -> LastRun:
    """One scheduled snapshot plus retention; the outcome is recorded, never raised."""
    from bootstrap.etcd import snapshots
    from bootstrap.etcd.save import save

    when = time.time() if now is None else now
    pruned: list[str] = []
    try:
        saved = save(cfg, snapshots.snapshot_name(snapshots.SCHEDULED, cfg.node_name, when))
        found = snapshots.list_snapshots(cfg.etcd_snapshot_dir, verify=False)
        for old in snapshots.to_prune(found, cfg.node_name, cfg.kbs.etcd_snapshots.retention):
            snapshots.delete(cfg.etcd_snapshot_dir, old.name)
            pruned.append(old.name)
        result = LastRun(_iso(when), True, saved.path.name, pruned)
        log.info("etcd snapshot saved: %s (pruned: %s)", saved.path, ", ".join(pruned) or "none")
    except (KbsError, OSError) as exc:
        result = LastRun(_iso(when), False, str(exc), pruned)
        log.error("scheduled etcd snapshot failed: %s", exc)
    _record(cfg, result)
    return result


def _record(cfg: KbsConfig, result: LastRun) -> None:
    path = status_path(cfg)
    try:
        atomic_write(path, json.dumps(asdict(result)) + "\n", mode=0o600)
    except (OSError, KbsError) as exc:
        log.warning("cannot record the snapshot outcome in %s: %s", path, exc)


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Scheduler:
    """The daemon thread; `stop()` ends it at once."""

    def __init__(self, cfg: KbsConfig) -> None:
        self.cfg = cfg
        self.expression = cfg.kbs.etcd_snapshots.schedule_cron
        next_time(self.expression, time.time())  # a bad expression fails at start, not at the first run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="etcd-snapshot-schedule", daemon=True)

    def start(self) -> Scheduler:
        log.info("etcd snapshots scheduled: %r, keep %d", self.expression, self.cfg.kbs.etcd_snapshots.retention)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        due = next_time(self.expression, time.time())
        while not self._stop.wait(max(0.0, due - time.time())):
            run_once(self.cfg, due)
            due = next_time(self.expression, max(due, time.time()))


def start_from_config(path: Path | None) -> Scheduler | None:
    """The scheduler for `kbs reconcile --config PATH` when that node runs a local etcd; None otherwise."""
    if path is None:
        return None
    from bootstrap.config import load_config

    try:
        cfg = load_config(path)
        if not cfg.local_etcd or cfg.kbs.etcd_snapshots.disable_scheduled:
            return None
        return Scheduler(cfg).start()
    except KbsError as exc:  # the static pods matter more than the snapshots: run without them, loudly
        log.error("etcd snapshots are not scheduled: %s", exc)
        return None
