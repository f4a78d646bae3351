"""The etcd-join phase: this node's etcd becomes a member of the cluster's, the way kubeadm's learner mode does it.

    1. find the members: the etcd mirror pods' `kubeadm.kubernetes.io/etcd.advertise-client-urls` annotation
       (as kubeadm), asked through the members' JSON gateway with apiserver-etcd-client (bootstrap.etcd.members)
    2. add this node as a learner (`--peer-urls https://<advertise>:2380`) unless a member has that peer URL
       already: an interrupted join, re-run, finds it and does not add it twice
    3. write etcd.yaml with `--initial-cluster` = every member (this one by its name, one that never started by its
       hex ID) and `--initial-cluster-state=existing`; the reconciler starts it and it catches up as a learner
    4. promote it once etcd says it is in sync (retried every 0.5 s up to timeouts.etcdAPICall, 2 min)

A learner cannot vote, so adding it never costs the cluster its quorum, however long the new member takes to
start. On a node whose member has already started (a re-run), the manifest's --initial-cluster is kept as written
(etcd reads it only on first start), so a converged node's etcd is not restarted for a list that grew later.
"""

from __future__ import annotations

import dataclasses
import time

from bootstrap import constants
from bootstrap.config.effective import host_port
from bootstrap.errors import KbsError
from bootstrap.etcd import members as etcd
from bootstrap.phases import manifests
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

PHASE = "etcd-join"
ADVERTISE_ANNOTATION = "kubeadm.kubernetes.io/etcd.advertise-client-urls"
PROMOTE_INTERVAL = 0.5


def peer_url(data: InitData) -> str:
    return f"https://{host_port(data.cfg.advertise_address, constants.ETCD_PEER_PORT)}"


def credentials(data: InitData) -> etcd.Credentials:
    pki = data.cfg.cert_dir
    client = "apiserver-etcd-client"
    return etcd.Credentials(pki / "etcd" / "ca.crt", pki / f"{client}.crt", pki / f"{client}.key")


def client_endpoints(data: InitData) -> list[str]:
    """The client URLs of the cluster's etcd members, from the etcd mirror pods (this node's own last)."""
    own = f"https://{host_port(data.cfg.advertise_address, constants.ETCD_CLIENT_PORT)}"
    pods = data.api().list("v1", "Pod", constants.KUBE_SYSTEM, labels={"component": "etcd", "tier": "control-plane"})
    urls: list[str] = []
    for pod in pods:
        annotation = ((pod.get("metadata") or {}).get("annotations") or {}).get(ADVERTISE_ANNOTATION, "")
        urls += [u for u in annotation.split(",") if u and u != own and u not in urls]
    if not urls:
        raise KbsError(
            f"no etcd member found: no etcd pod in {constants.KUBE_SYSTEM} carries {ADVERTISE_ANNOTATION}",
            hint="is the cluster's etcd local (stacked) and its mirror pods published? `kubectl -n kube-system get "
            "pods -l component=etcd`",
        )
    return [*urls, own]


def _kept_initial_cluster(data: InitData, url: str) -> tuple[tuple[str, str], ...] | None:
    """The --initial-cluster of this node's etcd.yaml if it already joins an existing cluster as this member."""
    from bootstrap.etcd.restore import member_from_manifest
    from bootstrap.etcd.snapshots import SnapshotError

    path = data.cfg.manifests_dir / f"{constants.ETCD}.yaml"
    if not path.is_file():
        return None
    try:
        member = member_from_manifest(path)
        text = path.read_text()
    except (SnapshotError, OSError):
        return None
    if "--initial-cluster-state=existing" not in text or member.peer_urls != url:
        return None
    pairs = tuple(
        (name, peer) for name, _, peer in (p.partition("=") for p in member.initial_cluster.split(",")) if peer
    )
    return pairs or None


def run(data: InitData) -> Outcome:
    cfg = data.cfg
    if not cfg.local_etcd:
        return Outcome("external etcd: no local member to add")
    url = peer_url(data)
    if data.dry_run:
        shown = (("<existing members>", "<their peer URLs>"), (cfg.node_name, url))
        data.cfg = dataclasses.replace(cfg, etcd_initial_cluster=shown)
        manifests.write(data, PHASE, [constants.ETCD], data_dirs=(cfg.etcd_data_dir,))
        return Outcome(f"would add {cfg.node_name} ({url}) as a learner, write etcd.yaml, then promote it")
    cluster = etcd.EtcdCluster(client_endpoints(data), credentials(data))
    members = cluster.members()
    me = etcd.find_by_peer_url(members, url)
    changed = False
    if me is not None and me.started and not (cfg.etcd_data_dir / "member").is_dir():
        # a member with this node's address that once ran here, but its data is gone (a reset whose member removal
        # failed, a wiped disk): etcd cannot take it back with an empty data dir; it goes, and joins anew
        stale = me
        data.out.line(PHASE, f"etcd member {stale.hex_id} has this node's peer URL but no data here: removing it")
        etcd.with_retries(lambda: cluster.remove(stale.id), _timeout(data), lambda m: data.out.line(PHASE, m))
        members, me, changed = [m for m in members if m.id != stale.id], None, True
    if me is None:
        me, members = _add_learner(data, cluster, url)
        changed = True
        data.out.line(PHASE, f"added etcd member {me.hex_id} ({url}) as a learner; {len(members)} members now")
    else:
        state = "learner" if me.learner else "voting member"
        data.out.line(PHASE, f"etcd already has this node's member {me.hex_id} ({state}, {url}): not adding it again")
    initial = None if not me.started else _kept_initial_cluster(data, url)
    if initial is None:
        initial = tuple(etcd.initial_cluster(members, cfg.node_name, url))
    data.cfg = dataclasses.replace(cfg, etcd_initial_cluster=initial)
    written = manifests.write(data, PHASE, [constants.ETCD], data_dirs=(cfg.etcd_data_dir,))
    changed = changed or written.changed
    if me.learner:
        _promote(data, cluster, me)
        changed = True
    voters = len(etcd.voting(cluster.members()))
    return Outcome(f"member {me.hex_id} is a voting member; {voters} voting members", changed=changed)


def _timeout(data: InitData) -> float:
    return data.cfg.init.timeouts.etcd_api_call.total_seconds()


def _add_learner(data: InitData, cluster: etcd.EtcdCluster, url: str) -> tuple[etcd.Member, list[etcd.Member]]:
    """Add the learner; etcd allows one learner at a time, so a node joining beside another waits its turn."""

    def waiting(message: str) -> None:
        data.out.line(PHASE, f"waiting to add the learner: {message}")

    return etcd.with_retries(lambda: cluster.add_learner(url), _timeout(data), waiting)


def _promote(data: InitData, cluster: etcd.EtcdCluster, me: etcd.Member) -> None:
    deadline = time.monotonic() + _timeout(data)
    start = time.monotonic()
    while True:
        try:
            cluster.promote(me.id)
            break
        except etcd.EtcdMemberError as exc:
            if etcd.already_promoted(exc):
                break  # promoted by an earlier run that was interrupted right after
            if not exc.retryable or time.monotonic() >= deadline:
                raise KbsError(
                    f"etcd member {me.hex_id} could not be promoted after {time.monotonic() - start:.0f}s: "
                    f"{exc.message}",
                    hint="is this node's etcd running and reaching its peers on port 2380? `kbs logs "
                    f"etcd-{data.cfg.node_name}`; run `kbs join` again to resume",
                ) from exc
        time.sleep(PROMOTE_INTERVAL)
    data.out.line(PHASE, f"promoted etcd member {me.hex_id} to a voting member after {time.monotonic() - start:.1f}s")
