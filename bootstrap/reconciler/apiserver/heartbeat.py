"""Node registration, the node Lease and the node status: the kubelet's node-status and lease controllers.

`register()` creates the Node, or takes over the existing one (adds its missing labels, keeps the rest), and
returns its UID (the mirror pods' owner). `beat()` renews the Lease every 10 s and posts the status when it
changes or every 5 minutes; a Node that vanished (deleted through the API server) is registered again on the
next call. Unreachable-server errors propagate to the publisher, which waits and retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bootstrap import constants
from bootstrap.errors import APIServerError, RuntimeUnavailableError
from bootstrap.reconciler.apiserver import node as nodes
from bootstrap.reconciler.apiserver.client import NodeAPI, unreachable
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.runtime import Runtime

_log = logging.getLogger(LOGGER)
Obj = dict[str, Any]


class Heartbeat:
    def __init__(
        self,
        api: NodeAPI,
        *,
        node_name: str,
        node_ip: str,
        port: int,
        runtime: Runtime,
        healthy: Callable[[], bool],
        state_dir: Path,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.node_ip = node_ip
        self.port = port
        self.runtime = runtime
        self.healthy = healthy
        self.state_dir = state_dir
        self._clock = clock
        self.node_uid: str | None = None
        self.facts: nodes.NodeFacts | None = None
        self._conditions: list[Obj] = []  # as last posted (with times)
        self._posted_at = 0.0
        self._next_lease = 0.0
        self._next_status = 0.0
        self._lease_exists = False

    def _runtime_version(self) -> tuple[str, str]:
        try:
            return f"docker://{self.runtime.ping()}", ""
        except RuntimeUnavailableError as exc:
            return "docker://unknown", exc.message

    def register(self) -> str:
        try:
            info = self.api.version()
        except APIServerError as exc:
            if exc.status in (401, 403):  # /version is public once the API server has its RBAC rules: not ready yet
                raise APIServerError(exc.message, hint=exc.hint) from exc  # no status: wait quietly and retry
            raise
        version = nodes.kubelet_version(str(info.get("gitVersion", "")))
        runtime_version, _ = self._runtime_version()
        facts = nodes.NodeFacts.gather(
            self.node_name, self.node_ip, self.port, version=version, runtime=runtime_version, state_dir=self.state_dir
        )
        existing = self.api.get_node(self.node_name)
        if existing is None:
            try:
                existing = self.api.create_node(nodes.node_object(facts))
                log(_log, logging.INFO, "Registered the node", node=self.node_name)
            except APIServerError as exc:
                if unreachable(exc) or exc.reason != "AlreadyExists":
                    raise
                existing = self.api.get_node(self.node_name)
                if existing is None:
                    raise
        else:
            patch = nodes.takeover_patch(existing, facts)
            if patch:
                try:
                    existing = self.api.patch_node(self.node_name, patch)
                except APIServerError as exc:
                    if unreachable(exc):
                        raise
                    log(_log, logging.WARNING, "Cannot label the existing Node", node=self.node_name, error=exc.message)
            log(_log, logging.INFO, "The Node exists already: taking it over", node=self.node_name)
        self.facts = facts
        self.node_uid = str(existing["metadata"]["uid"])
        self._conditions = list((existing.get("status") or {}).get("conditions") or [])
        self._next_lease = self._next_status = 0.0  # report at once
        self._posted_at = 0.0
        self._lease_exists = False
        return self.node_uid

    def next_due(self) -> float:
        return min(self._next_lease, self._next_status)

    def beat(self) -> None:
        if self.node_uid is None or self.facts is None:
            return
        now = self._clock()
        if now >= self._next_status:
            self._next_status = now + constants.NODE_STATUS_UPDATE_FREQUENCY
            self._post_status(now)
        if self.node_uid is not None and now >= self._next_lease:
            self._next_lease = now + constants.NODE_LEASE_RENEW_INTERVAL
            self._renew_lease()

    def _health(self) -> nodes.Health:
        problem = ""
        if not self.healthy():
            problem = "its reconcile loop is not running"
        else:
            version, error = self._runtime_version()
            if error:
                problem = f"Docker does not answer ({error})"
            elif self.facts is not None and version != self.facts.runtime_version:
                self.facts = _replace_runtime(self.facts, version)
        return nodes.Health.measure(not problem, problem, self.state_dir)

    def _post_status(self, now: float) -> None:
        assert self.facts is not None
        current = nodes.conditions(self._health())
        bare = [{k: c.get(k) for k in ("type", "status", "reason", "message")} for c in self._conditions]
        if current == bare and now - self._posted_at < constants.NODE_STATUS_REPORT_FREQUENCY:
            return
        stamped = nodes.with_times(current, self._conditions, nodes.now_time())
        try:
            self.api.patch_node_status(self.node_name, nodes.status_patch(self.facts, stamped))
        except APIServerError as exc:
            if unreachable(exc):
                raise
            if exc.status == 404:
                log(_log, logging.WARNING, "The Node was deleted; registering it again", node=self.node_name)
                self.node_uid = None
                return
            log(_log, logging.WARNING, "Cannot update the node status", node=self.node_name, error=exc.message)
            return
        if [c["status"] for c in current] != [c.get("status") for c in self._conditions]:
            ready = next(c for c in current if c["type"] == "Ready")
            log(_log, logging.INFO, "Node status", node=self.node_name, ready=ready["status"], reason=ready["reason"])
        self._conditions = stamped
        self._posted_at = now

    def _renew_lease(self) -> None:
        assert self.node_uid is not None
        namespace = constants.NODE_LEASE_NAMESPACE
        if self._lease_exists:
            try:
                self.api.patch_lease(namespace, self.node_name, nodes.lease_renewal(self.node_name))
                return
            except APIServerError as exc:
                if unreachable(exc):
                    raise
                if exc.status != 404:
                    log(_log, logging.WARNING, "Cannot renew the node lease", node=self.node_name, error=exc.message)
                    return
                self._lease_exists = False  # deleted under us: create it again
        try:
            self.api.create_lease(nodes.lease_object(self.node_name, self.node_uid))
        except APIServerError as exc:
            if unreachable(exc):
                raise
            if exc.reason != "AlreadyExists":
                log(_log, logging.WARNING, "Cannot create the node lease", node=self.node_name, error=exc.message)
                return
            self.api.patch_lease(namespace, self.node_name, nodes.lease_renewal(self.node_name))
        self._lease_exists = True


def _replace_runtime(facts: nodes.NodeFacts, version: str) -> nodes.NodeFacts:
    from dataclasses import replace

    return replace(facts, runtime_version=version)
