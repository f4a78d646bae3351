"""etcd cluster membership (list, add as learner, promote, remove) through etcd's own JSON gateway.

etcd serves its v3 gRPC API also as JSON over HTTPS on the client port (the gRPC gateway, on by default):
`POST /v3/cluster/member/list|add|promote|remove`. Speaking it with the standard library and the etcd client
certificate this node already has needs neither etcdctl (a container per call, ~1 s each on a busy node) nor
grpcio. Member IDs are uint64 and travel as decimal strings in JSON; etcdctl and kbs's output show them in hex.

The joining node talks to the existing members (their client URLs come from the etcd mirror pods' annotation
`kubeadm.kubernetes.io/etcd.advertise-client-urls`, as kubeadm finds them); a leaving node to its peers or itself.
Errors become EtcdMemberError, one line with etcd's own message; `retryable` says whether waiting can help
(a learner not yet in sync, no leader yet, a member unreachable).
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bootstrap.errors import KbsError

TIMEOUT = 10.0


class EtcdMemberError(KbsError):
    def __init__(self, message: str, *, hint: str | None = None, retryable: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


@dataclass(frozen=True)
class Member:
    id: int
    name: str  # empty until the member has started once
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    learner: bool

    @property
    def hex_id(self) -> str:
        return f"{self.id:x}"

    @property
    def started(self) -> bool:
        return bool(self.name)


@dataclass(frozen=True)
class Credentials:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


def _parse_member(raw: dict[str, Any]) -> Member:
    return Member(
        id=int(raw.get("ID", 0)),
        name=str(raw.get("name", "")),
        peer_urls=tuple(raw.get("peerURLs") or ()),
        client_urls=tuple(raw.get("clientURLs") or ()),
        learner=bool(raw.get("isLearner", False)),
    )


class EtcdCluster:
    """The cluster's membership API, tried on each client URL in turn until one answers."""

    def __init__(self, endpoints: Sequence[str], credentials: Credentials, timeout: float = TIMEOUT) -> None:
        if not endpoints:
            raise EtcdMemberError("no etcd endpoint to talk to", hint="is an etcd member of the cluster running?")
        self.endpoints = list(endpoints)
        self.credentials = credentials
        self.timeout = timeout
        self._ctx: ssl.SSLContext | None = None

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._ctx is None:
            try:
                self._ctx = self.credentials.context()
            except (OSError, ssl.SSLError) as exc:
                raise EtcdMemberError(f"cannot load the etcd client certificate: {exc}") from exc
        data = json.dumps(body).encode()
        failures = []
        for endpoint in self.endpoints:
            request = urllib.request.Request(
                endpoint.rstrip("/") + path, data=data, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout, context=self._ctx) as response:
                    answer: dict[str, Any] = json.loads(response.read() or b"{}")
                    return answer
            except urllib.error.HTTPError as exc:
                message = _error_message(exc)
                # a definite answer from etcd (not "this member cannot serve"): no point asking the next one
                if exc.code < 500:
                    raise EtcdMemberError(f"etcd {path}: {message}", retryable=_retryable(message)) from exc
                failures.append(f"{endpoint}: {message}")
            except (urllib.error.URLError, OSError, ValueError) as exc:
                failures.append(f"{endpoint}: {getattr(exc, 'reason', exc)}")
        raise EtcdMemberError(f"etcd {path} failed on every member: {'; '.join(failures)}", retryable=True)

    def members(self) -> list[Member]:
        return [_parse_member(m) for m in self._post("/v3/cluster/member/list", {}).get("members", [])]

    def add_learner(self, peer_url: str) -> tuple[Member, list[Member]]:
        """Add a learner with `peer_url`; the new member and the whole list etcd returned."""
        answer = self._post("/v3/cluster/member/add", {"peerURLs": [peer_url], "isLearner": True})
        return _parse_member(answer.get("member", {})), [_parse_member(m) for m in answer.get("members", [])]

    def promote(self, member_id: int) -> None:
        self._post("/v3/cluster/member/promote", {"ID": str(member_id)})

    def remove(self, member_id: int) -> None:
        self._post("/v3/cluster/member/remove", {"ID": str(member_id)})

    def healthy(self, member: Member, timeout: float = 2.0) -> bool:
        """Whether `member` answers a status request on one of its own client URLs."""
        one = EtcdCluster(member.client_urls or ["https://invalid"], self.credentials, timeout=timeout)
        one._ctx = self._ctx
        try:
            one._post("/v3/maintenance/status", {})
        except EtcdMemberError:
            return False
        return True


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        return f"HTTP {exc.code}"
    return str(body.get("message") or body.get("error") or f"HTTP {exc.code}")


NOT_A_LEARNER = "etcdserver: can only promote a learner member"  # promoting a voting member (already promoted)
_RETRYABLE = (
    "in sync with leader",  # a learner still catching up: promote later
    "too many learner members",  # one learner at a time: another node is joining
    "leader changed",
    "no leader",
    "timed out",
    "unhealthy cluster",
    "not ready",
)


def _retryable(message: str) -> bool:
    text = message.lower()
    return any(s in text for s in _RETRYABLE)


def already_promoted(error: EtcdMemberError) -> bool:
    return error.message.rstrip().endswith(NOT_A_LEARNER)


T = TypeVar("T")


def with_retries(call: Callable[[], T], timeout: float, on_wait: Callable[[str], None], interval: float = 1.0) -> T:
    """`call()`, again every `interval` seconds while etcd says waiting can help, up to `timeout` seconds.

    etcd refuses a reconfiguration that could cost quorum for a moment after a member (re)connects ("unhealthy
    cluster": --strict-reconfig-check counts only members connected for 5 s), and allows one learner at a time."""
    deadline = time.monotonic() + timeout
    said = False
    while True:
        try:
            return call()
        except EtcdMemberError as exc:
            if not exc.retryable or time.monotonic() >= deadline:
                raise
            if not said:
                on_wait(exc.message)
                said = True
        time.sleep(interval)


def find_by_peer_url(members: Sequence[Member], peer_url: str) -> Member | None:
    return next((m for m in members if peer_url in m.peer_urls), None)


def initial_cluster(members: Sequence[Member], own_name: str, own_peer_url: str) -> list[tuple[str, str]]:
    """etcd's --initial-cluster for a member joining `members`: name=peerURL of each, this one by its own name,
    a member that never started by its hex ID (it has no name yet; what kubeadm writes too)."""
    entries = []
    for member in members:
        for url in member.peer_urls:
            name = own_name if url == own_peer_url else (member.name or member.hex_id)
            entries.append((name, url))
    if not any(url == own_peer_url for _, url in entries):
        entries.append((own_name, own_peer_url))
    return entries


def voting(members: Sequence[Member]) -> list[Member]:
    return [m for m in members if not m.learner]


def quorum_after_removal(members: Sequence[Member], leaving: Member) -> tuple[int, int]:
    """(voting members left, how many of them must be up) once `leaving` is removed."""
    left = len([m for m in voting(members) if m.id != leaving.id])
    return left, left // 2 + 1
