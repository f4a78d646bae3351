"""`kbs etcd snapshot restore FILE`: a state machine that a re-run finishes.

    1. verify     the checksum file and `etcdutl snapshot status`; refuse a multi-member cluster unless
                  --cluster-reset (k3s's cluster reset: this member becomes a one-member cluster)
    2. journal    <stateDir>/etcd-restore/restore.json: the snapshot, the member and the time stamp of this restore
    3. park       move etcd.yaml out of the staticPodPath (into <stateDir>/etcd-restore/) and wait for etcd to stop
    4. aside      rename the data dir to <dataDir>-old-<timestamp> (never deleted: the operator's safety net)
    5. restore    `etcdutl snapshot restore` into <dataDir>.restoring, then rename it to <dataDir>
    6. unpark     move etcd.yaml back, its --initial-cluster this member only (what the restored data says; a
                  member that had joined an HA cluster drops --initial-cluster-state=existing); wait for etcd and
                  the API server to be healthy; remove the journal

On HA, the other members leave with `kbs reset --force` and come back with `kbs join --control-plane`
(docs/operations.md).

Each step is done only when the disk says it is not done yet (`plan` is a pure function of what is observed), so
an interrupted restore is finished by running the same command again. The old data dir plus a present data dir
means the restore itself is done; a `.restoring` dir is a half-written restore and is discarded.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bootstrap import constants
from bootstrap.etcd import snapshots, tools
from bootstrap.etcd.snapshots import SnapshotError
from bootstrap.fsutil import atomic_write

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

JOURNAL = "restore.json"
MANIFEST = f"{constants.ETCD}.yaml"
RESTORING_SUFFIX = ".restoring"


class Step(enum.Enum):
    PARK_MANIFEST = "move the etcd manifest out of the staticPodPath"
    WAIT_STOPPED = "wait for etcd to stop"
    MOVE_DATA_ASIDE = "move the data dir aside"
    RESTORE = "restore the snapshot into the data dir"
    UNPARK_MANIFEST = "put the etcd manifest back"
    WAIT_HEALTHY = "wait for etcd and the API server"
    FINISH = "remove the restore journal"


@dataclass(frozen=True)
class Observed:
    manifest_in_place: bool
    manifest_parked: bool
    data_dir: bool
    old_dir: bool


def plan(seen: Observed) -> list[Step]:
    """The steps still to do, given what is on disk (pure: the unit tests walk every state)."""
    restored = seen.old_dir and seen.data_dir
    steps: list[Step] = []
    if not restored:
        if seen.manifest_in_place:
            steps.append(Step.PARK_MANIFEST)
        steps.append(Step.WAIT_STOPPED)
        if seen.data_dir:
            steps.append(Step.MOVE_DATA_ASIDE)
        steps.append(Step.RESTORE)
    if seen.manifest_parked or (not restored and seen.manifest_in_place):
        steps.append(Step.UNPARK_MANIFEST)
    steps += [Step.WAIT_HEALTHY, Step.FINISH]
    return steps


@dataclass(frozen=True)
class Journal:
    snapshot: str
    digest: str
    stamp: str  # names the old data dir: <dataDir>-old-<stamp>
    member: str
    peer_urls: str
    data_dir: str
    bump: int  # --bump-revision: the old cluster's newest revision plus a margin

    @property
    def old_dir(self) -> Path:
        return Path(f"{self.data_dir}-old-{self.stamp}")


@dataclass(frozen=True)
class Member:
    name: str
    peer_urls: str
    data_dir: str
    initial_cluster: str


def member_from_manifest(path: Path) -> Member:
    """The etcd flags that a restore must repeat, read from the etcd static pod's command."""
    try:
        pod = yaml.safe_load(path.read_text())
        command = [str(a) for a in pod["spec"]["containers"][0]["command"]]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError) as exc:
        raise SnapshotError(f"cannot read the etcd command from {path}: {exc}") from exc
    flags = dict(arg[2:].split("=", 1) for arg in command if arg.startswith("--") and "=" in arg)
    missing = [f for f in ("name", "initial-advertise-peer-urls", "data-dir") if f not in flags]
    if missing:
        raise SnapshotError(f"{path}: the etcd command has no --{', --'.join(missing)}")
    return Member(
        flags["name"],
        flags["initial-advertise-peer-urls"],
        flags["data-dir"],
        flags.get("initial-cluster", ""),
    )


class Restorer:
    """Runs `plan`'s steps against the node; `say` reports progress (the CLI prints it)."""

    def __init__(
        self, cfg: KbsConfig, say: Callable[[str], None] = lambda _: None, *, cluster_reset: bool = False
    ) -> None:
        self.cfg = cfg
        self.say = say
        self.cluster_reset = cluster_reset
        self.work = cfg.kbs.reconciler.state_dir / constants.ETCD_RESTORE_DIR_NAME
        self.journal_path = self.work / JOURNAL
        self.in_place = cfg.manifests_dir / MANIFEST
        self.parked = self.work / MANIFEST
        self.timeout = cfg.kbs.reconciler.wait_timeout.total_seconds()

    # --- entry point ---------------------------------------------------------------------------------------------
    def run(self, snapshot: Path) -> Journal:
        journal = self._load_journal()
        if journal is None:
            journal = self._start(snapshot)
        elif Path(journal.snapshot) != snapshot.resolve():
            raise SnapshotError(
                f"a restore of {journal.snapshot} is in progress (journal {self.journal_path})",
                hint=f"finish it with `kbs etcd snapshot restore {journal.snapshot}`",
            )
        else:
            self.say(f"resuming the interrupted restore of {journal.snapshot}")
        for step in plan(self.observe(journal)):
            self.say(step.value)
            getattr(self, f"_{step.name.lower()}")(journal)
        return journal

    def observe(self, journal: Journal) -> Observed:
        return Observed(
            manifest_in_place=self.in_place.exists(),
            manifest_parked=self.parked.exists(),
            data_dir=Path(journal.data_dir).exists(),
            old_dir=journal.old_dir.exists(),
        )

    # --- verification and journal --------------------------------------------------------------------------------
    def _start(self, snapshot: Path) -> Journal:
        cfg = self.cfg
        if not cfg.local_etcd:
            raise SnapshotError("this cluster uses external etcd: kbs restores only a local etcd member")
        verify(cfg, snapshot)
        if not self.in_place.exists():
            raise SnapshotError(
                f"no etcd manifest at {self.in_place}", hint="a restore needs the node's etcd static pod (`kbs init`)"
            )
        member = member_from_manifest(self.in_place)
        peers = [p for p in member.initial_cluster.split(",") if p]
        count = _live_member_count(cfg)
        members = count or len(peers)
        if members > 1 and not self.cluster_reset:
            raise SnapshotError(
                f"etcd has {members} members: a restore makes this member a one-member cluster",
                hint="take the other control-plane nodes out first (`kbs reset --force` on each), or pass "
                "--cluster-reset if they are gone; then they rejoin with `kbs join --control-plane` "
                "(docs/operations.md, Restoring an HA cluster)",
            )
        if members > 1:
            self.say(f"cluster reset: the {members}-member cluster becomes {member.name} alone")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        digest = snapshots.sha256_of(snapshot)
        bump = tools.current_revision(cfg, Path(member.data_dir)) + tools.BUMP_MARGIN
        journal = Journal(str(snapshot.resolve()), digest, stamp, member.name, member.peer_urls, member.data_dir, bump)
        atomic_write(self.journal_path, json.dumps(asdict(journal), indent=2) + "\n", mode=0o600, dir_mode=0o700)
        return journal

    def _load_journal(self) -> Journal | None:
        try:
            return Journal(**json.loads(self.journal_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            raise SnapshotError(
                f"the restore journal {self.journal_path} is unreadable: {exc}",
                hint="inspect the etcd manifest and data dir by hand, then remove the journal",
            ) from exc

    # --- steps -----------------------------------------------------------------------------------------------------
    def _park_manifest(self, journal: Journal) -> None:
        self.in_place.replace(self.parked)

    def _wait_stopped(self, journal: Journal) -> None:
        _wait(
            "etcd to stop",
            lambda: not _etcd_running(self.cfg) and not _port_open(self.cfg.loopback, constants.ETCD_CLIENT_PORT),
            self.timeout,
        )

    def _move_data_aside(self, journal: Journal) -> None:
        Path(journal.data_dir).rename(journal.old_dir)
        self.say(f"the old data is kept in {journal.old_dir}")

    def _restore(self, journal: Journal) -> None:
        snapshot = Path(journal.snapshot)
        if snapshots.sha256_of(snapshot) != journal.digest:
            raise SnapshotError(f"{snapshot} changed since this restore began", hint="put the original file back")
        target = Path(journal.data_dir)
        staging = Path(f"{journal.data_dir}{RESTORING_SUFFIX}")
        if staging.exists():
            shutil.rmtree(staging)
        tools.snapshot_restore(
            self.cfg, snapshot, staging, name=journal.member, peer_urls=journal.peer_urls, bump=journal.bump
        )
        os.chmod(staging, 0o700)
        staging.rename(target)

    def _unpark_manifest(self, journal: Journal) -> None:
        if self.parked.exists():
            text = self.parked.read_text()
            single = one_member(text, journal.member, journal.peer_urls)
            if single != text:
                atomic_write(self.parked, single, mode=0o600)
                self.say(f"the etcd manifest names {journal.member} alone in --initial-cluster")
            self.parked.replace(self.in_place)

    def _wait_healthy(self, journal: Journal) -> None:
        from bootstrap.phases import health

        wanted = {constants.ETCD, constants.KUBE_APISERVER}
        targets = [e for e in health.endpoints(self.cfg) if e.component in wanted]
        _wait(
            "etcd and the API server to be healthy", lambda: all(health.probe(e).healthy for e in targets), self.timeout
        )

    def _finish(self, journal: Journal) -> None:
        self.journal_path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.work.rmdir()


def one_member(manifest: str, name: str, peer_urls: str) -> str:
    """The etcd manifest's text with --initial-cluster naming only this member and no
    --initial-cluster-state=existing: what a restored data dir is (etcd reads these flags only on a first start,
    but the manifest should say what the member is)."""
    lines = []
    for line in manifest.splitlines(keepends=True):
        flag = line.strip().removeprefix("- ").strip("'\"")
        if flag == "--initial-cluster-state=existing":
            continue
        wanted = f"--initial-cluster={name}={peer_urls}"
        lines.append(line.replace(flag, wanted) if flag.startswith("--initial-cluster=") else line)
    return "".join(lines)


def verify(cfg: KbsConfig, snapshot: Path) -> dict[str, Any]:
    """The checksum file must match and etcdutl must read the snapshot; nothing is changed otherwise."""
    if not snapshot.is_file():
        raise SnapshotError(f"no snapshot file {snapshot}", hint="`kbs etcd snapshot list` shows the snapshots")
    result = snapshots.verify_checksum(snapshot)
    if result == "missing":
        raise SnapshotError(
            f"{snapshots.checksum_path(snapshot)} is missing: cannot verify {snapshot}",
            hint=f"if you trust the file, write it with `sha256sum {snapshot.name} > {snapshot.name}.sha256`",
        )
    if result != "ok":
        raise SnapshotError(
            f"{snapshot} does not match its checksum ({snapshots.checksum_path(snapshot).name}): "
            "the file is damaged or was changed; refusing to restore it",
            hint="restore another snapshot (`kbs etcd snapshot list`)",
        )
    try:
        return tools.snapshot_status(cfg, snapshot)
    except SnapshotError as exc:
        raise SnapshotError(f"{snapshot} is not a readable etcd snapshot: {exc.message}") from exc


def _live_member_count(cfg: KbsConfig) -> int:
    """Members of the running cluster; 0 when etcd does not answer (a broken etcd is a reason to restore)."""
    try:
        return tools.member_count(cfg)
    except SnapshotError:
        return 0


def _etcd_running(cfg: KbsConfig) -> bool:
    if cfg.kbs.reconciler.mode == "none":
        return False
    from bootstrap.phases import containers

    found = containers.list_pod_containers(cfg, constants.KUBE_SYSTEM, f"{constants.ETCD}-{cfg.node_name}")
    return any(c.state == "running" and not c.sandbox for c in found)


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _wait(what: str, done: Callable[[], bool], timeout: float) -> None:
    from bootstrap.errors import WaitTimeoutError

    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise WaitTimeoutError(
                f"timed out after {timeout:.0f}s waiting for {what}",
                hint="run the same `kbs etcd snapshot restore` again to finish the restore",
            )
        time.sleep(0.5)
