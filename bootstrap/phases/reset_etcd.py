"""`kbs reset` on a control-plane member of a stacked etcd: remove this node's etcd member first (kubeadm's
remove-etcd-member), refusing when the removal would cost the cluster its quorum.

The member is found by its peer URL (the etcd manifest's --initial-advertise-peer-urls), as kubeadm does. The only
member of a cluster is not removed (there is nothing left to serve; its data dir goes with the reset). Quorum: once
this member is gone, the remaining N voting members need N//2+1 of them answering; if fewer answer now, removing
this one leaves a cluster that cannot elect a leader, so `check` says so and the CLI refuses without --force.
etcd is asked through the members' JSON gateway (bootstrap.etcd.members): this node's own member first, then the
peers of its manifest's --initial-cluster, so a reset still finds the cluster when the local etcd is down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bootstrap import constants
from bootstrap.etcd import members as etcd

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


REMOVE_TIMEOUT = 30.0  # seconds etcd may refuse the removal for a reason that passes (a peer just reconnected)


@dataclass
class Removal:
    cluster: etcd.EtcdCluster | None = None
    member: etcd.Member | None = None
    notes: list[str] = field(default_factory=list)
    loses_quorum: str = ""  # why removing this member would lose quorum; empty: it would not

    @property
    def needed(self) -> bool:
        return self.cluster is not None and self.member is not None


def _client_url(peer_url: str) -> str:
    parts = urlsplit(peer_url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"https://{host}:{constants.ETCD_CLIENT_PORT}"


def _credentials(cert_dir: Path) -> etcd.Credentials | None:
    for name in ("apiserver-etcd-client", "etcd/healthcheck-client"):
        cert, key = cert_dir / f"{name}.crt", cert_dir / f"{name}.key"
        if cert.is_file() and key.is_file():
            return etcd.Credentials(cert_dir / "etcd" / "ca.crt", cert, key)
    return None


def check(cfg: KbsConfig) -> Removal:
    """What removing this node's member means; changes nothing."""
    from bootstrap.etcd.restore import member_from_manifest
    from bootstrap.etcd.snapshots import SnapshotError

    plan = Removal()
    manifest = cfg.manifests_dir / f"{constants.ETCD}.yaml"
    if not cfg.local_etcd or not manifest.is_file():
        return plan
    try:
        local = member_from_manifest(manifest)
    except SnapshotError as exc:
        plan.notes.append(f"etcd member not removed: {exc.message}")
        return plan
    credentials = _credentials(cfg.cert_dir)
    if credentials is None:
        plan.notes.append("etcd member not removed: no etcd client certificate on this node")
        return plan
    peers = [p.split("=", 1)[1] for p in local.initial_cluster.split(",") if "=" in p]
    endpoints = [_client_url(local.peer_urls)] + [_client_url(p) for p in peers if p != local.peer_urls]
    cluster = etcd.EtcdCluster(endpoints, credentials, timeout=5.0)
    try:
        members = cluster.members()
    except etcd.EtcdMemberError as exc:
        plan.notes.append(f"etcd member not removed: the cluster did not answer ({exc.message})")
        return plan
    me = etcd.find_by_peer_url(members, local.peer_urls)
    if me is None:
        plan.notes.append(f"etcd has no member with peer URL {local.peer_urls}: nothing to remove")
        return plan
    others = [m for m in etcd.voting(members) if m.id != me.id]
    if not others:
        plan.notes.append("this node's etcd member is the cluster's only voting member: not removed")
        return plan
    cluster.endpoints = [u for m in others for u in m.client_urls] + cluster.endpoints
    answering = [m for m in others if cluster.healthy(m)]
    need = len(others) // 2 + 1
    if len(answering) < need:
        plan.loses_quorum = (
            f"after removing this member, {len(answering)} of the {len(others)} remaining voting etcd members answer, "
            f"and {need} are needed for quorum"
        )
    plan.cluster, plan.member = cluster, me
    return plan


def remove(plan: Removal) -> list[str]:
    """Remove the member `check` found; lines for the report (a failure is reported, not raised: the reset goes on,
    as kubeadm's does)."""
    if not plan.needed:
        return list(plan.notes)
    assert plan.cluster is not None and plan.member is not None
    cluster, member = plan.cluster, plan.member
    waited: list[str] = []
    try:
        etcd.with_retries(lambda: cluster.remove(member.id), REMOVE_TIMEOUT, waited.append)
    except etcd.EtcdMemberError as exc:
        return [
            *plan.notes,
            f"etcd member {plan.member.hex_id} not removed: {exc.message} (remove it from a healthy member: "
            f"`etcdctl member remove {plan.member.hex_id}`)",
        ]
    done = f"removed etcd member {member.hex_id} ({member.name or 'unstarted'})"
    return [*plan.notes, *(f"waited for etcd: {w}" for w in waited), done]
