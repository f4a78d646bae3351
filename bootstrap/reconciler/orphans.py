"""Containers whose pod no source wants any more: stopping them, and garbage-collecting dead containers.

A container belongs to a pod UID (label). When no desired pod has that UID it is an orphan, but only once every
source has been read once: right after a reconciler restart an unread source may still want it. (`source_of`
reads which source a pod came from, the sandbox's `annotation.kubernetes.io/config.source` label.) Running orphans are
stopped by an `OrphanTerminator` (preStop and grace period from their labels), registered like a pod worker so
that a new pod with the same name starts only after the old one is gone. Dead containers are collected every
minute: of a pod that is gone only the newest generation keeps its newest dead container per name (for
`kbs logs --previous`), and only while no live pod has that name; everything else goes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from bootstrap import constants
from bootstrap.errors import KbsError
from bootstrap.reconciler import model
from bootstrap.reconciler.defaulting import CONFIG_SOURCE
from bootstrap.reconciler.events import PodRef, Recorder
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.pods import kill
from bootstrap.reconciler.runtime import ContainerRecord, Runtime, naming

_log = logging.getLogger(LOGGER)


def source_of(records: Iterable[ContainerRecord]) -> str | None:
    """The config source of a pod's containers (from its sandbox's labels), None when unknown."""
    for record in records:
        source = record.labels.get(naming.ANNOTATION + CONFIG_SOURCE)
        if source:
            return source
    return None


def by_pod(records: Iterable[ContainerRecord]) -> dict[str, list[ContainerRecord]]:
    out: dict[str, list[ContainerRecord]] = {}
    for record in records:
        if record.pod_uid:
            out.setdefault(record.pod_uid, []).append(record)
    return out


class OrphanTerminator:
    """Stops and cleans one orphaned pod from its labels; a registry.Worker that is terminating from the start."""

    def __init__(
        self,
        runtime: Runtime,
        recorder: Recorder,
        records: list[ContainerRecord],
        on_done: Callable[[OrphanTerminator], None],
    ) -> None:
        first = records[0]
        self.uid = first.pod_uid
        self.full_name = first.full_name
        self.ref = PodRef(first.pod_name, first.pod_namespace, first.pod_uid)
        self.terminating = True
        self.started = True
        self.synced = threading.Event()
        self.done = threading.Event()
        self._runtime = runtime
        self._recorder = recorder
        self._records = records
        self._on_done = on_done
        self._thread = threading.Thread(target=self._run, name=f"orphan-{first.pod_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Nothing to do: the terminator runs to completion on its own."""

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def last_status(self) -> None:
        return None  # an orphan has no status of its own: its name's file belongs to a desired pod, if any

    def update(self, pod: model.StaticPod) -> None:
        """Nothing to update: an orphan has no manifest."""

    def terminate(self) -> None:
        """Already terminating."""

    def shutdown(self) -> None:
        """The reconciler is exiting: the thread finishes its stop on its own (it is a daemon thread)."""

    def _run(self) -> None:
        grace = (
            max((r.grace_period or 0 for r in self._records), default=0) or constants.DEFAULT_TERMINATION_GRACE_SECONDS
        )
        log(
            _log,
            logging.INFO,
            "Stopping containers of a pod that no source wants",
            pod=self.ref.describe(),
            uid=self.uid,
        )
        try:
            kill.kill_pod(self._runtime, self._recorder, self.ref, self._records, grace)
            for record in kill.garbage(self._runtime.list(self.uid)):
                self._runtime.remove(record.id)
        except KbsError as exc:
            log(
                _log,
                logging.WARNING,
                "Cannot stop orphaned pod, will retry",
                pod=self.ref.describe(),
                error=exc.message,
            )
        finally:
            self.done.set()
            self.synced.set()
            self._on_done(self)


def collect_garbage(
    runtime: Runtime,
    records: list[ContainerRecord],
    *,
    live_uids: set[str],
    live_names: set[str],
    may_touch: Callable[[str | None], bool],
) -> int:
    """Remove dead containers per the policy above; returns how many were removed."""
    removed = 0
    pods = by_pod(records)
    victims: list[ContainerRecord] = []
    gone_generations: dict[str, list[tuple[datetime, str]]] = {}
    for uid, mine in pods.items():
        if uid in live_uids:
            continue  # the pod's worker collects its own dead containers
        if any(r.running for r in mine) or not may_touch(source_of(mine)):
            continue
        newest = max(
            (r.created_at or datetime.min.replace(tzinfo=UTC) for r in mine), default=datetime.min.replace(tzinfo=UTC)
        )
        gone_generations.setdefault(mine[0].full_name, []).append((newest, uid))
    for full_name, generations in gone_generations.items():
        generations.sort()
        keep = None if full_name in live_names else generations[-1][1]
        for _, uid in generations:
            if uid == keep:
                victims.extend(kill.garbage(pods[uid]))  # every sandbox, all but the newest per container
            else:
                victims.extend(pods[uid])
    for record in victims:
        try:
            runtime.remove(record.id)
            removed += 1
        except KbsError as exc:
            log(_log, logging.WARNING, "Cannot remove dead container", container=record.name, error=exc.message)
    return removed
