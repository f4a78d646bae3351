"""etcdctl and etcdutl, run in a throwaway container of the node's own etcd image.

Why a container: the etcd image kbs already runs carries etcdctl and etcdutl of exactly the etcd version in use,
while a node need not have either binary. Speaking etcd's gRPC Maintenance API from Python would add grpcio and
generated protobuf code to kbs for one call, and etcdutl's restore (bbolt + WAL) has no Python equivalent at all.
The container runs on the host network (etcd's client URL is on loopback) with the etcd PKI mounted read-only at
its own path and the directories the command needs mounted at theirs, so paths mean the same inside and out.
The client certificate is kubeadm's `etcd/healthcheck-client` (signed by the etcd CA; what kubeadm's docs use).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap import constants
from bootstrap.etcd.snapshots import SnapshotError
from bootstrap.phases.images import docker_client

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

ETCDCTL = "/usr/local/bin/etcdctl"
ETCDUTL = "/usr/local/bin/etcdutl"
BUMP_MARGIN = 1_000_000_000  # what etcd's recovery guide and Kubernetes' docs bump by; added to the live revision
TOOL_LABEL = "io.kbs.etcd-tool"  # lets an operator (and tests) find a tool container that outlived a crash


def _run(cfg: KbsConfig, entrypoint: str, args: list[str], mounts: dict[Path, str]) -> str:
    """Run one tool command to completion; its stdout. A non-zero exit raises SnapshotError with its stderr."""
    import docker

    image = cfg.image(constants.ETCD)
    volumes = {str(path): {"bind": str(path), "mode": mode} for path, mode in mounts.items()}
    name = f"kbs-{Path(entrypoint).name}-{uuid.uuid4().hex[:8]}"
    with docker_client(cfg) as client:
        try:
            out: Any = client.containers.run(
                image,
                args,
                entrypoint=[entrypoint],
                name=name,
                network_mode="host",
                volumes=volumes,
                labels={TOOL_LABEL: Path(entrypoint).name},
                remove=True,
                stdout=True,
                stderr=False,
            )
        except docker.errors.ContainerError as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
            lines = [line for line in err.strip().splitlines() if line.strip()]
            raise SnapshotError(
                f"{Path(entrypoint).name} {args[0]} {args[1] if len(args) > 1 else ''} failed: "
                f"{lines[-1] if lines else f'exit {exc.exit_status}'}".replace("  ", " ")
            ) from exc
        except docker.errors.ImageNotFound as exc:
            raise SnapshotError(
                f"the etcd image {image} is not on this node", hint="`kbs images pull` fetches it"
            ) from exc
        except docker.errors.APIError as exc:
            raise SnapshotError(f"cannot run {Path(entrypoint).name} in {image}: {exc.explanation or exc}") from exc
    return out.decode(errors="replace") if isinstance(out, bytes) else str(out)


def _client_flags(cfg: KbsConfig) -> tuple[list[str], dict[Path, str]]:
    pki = cfg.cert_dir / "etcd"
    host = f"[{cfg.loopback}]" if ":" in cfg.loopback else cfg.loopback
    flags = [
        f"--endpoints=https://{host}:{constants.ETCD_CLIENT_PORT}",
        f"--cacert={pki / 'ca.crt'}",
        f"--cert={pki / 'healthcheck-client.crt'}",
        f"--key={pki / 'healthcheck-client.key'}",
        "--command-timeout=60s",
    ]
    return flags, {pki: "ro"}


def snapshot_save(cfg: KbsConfig, target: Path) -> None:
    """`etcdctl snapshot save TARGET` against the local member (etcdctl writes TARGET.part, then renames)."""
    flags, mounts = _client_flags(cfg)
    _run(cfg, ETCDCTL, ["snapshot", "save", str(target), *flags], {**mounts, target.parent: "rw"})


def snapshot_status(cfg: KbsConfig, snapshot: Path) -> dict[str, Any]:
    """`etcdutl snapshot status -w json`: hash, revision, total keys and size; fails on a damaged file."""
    out = _run(cfg, ETCDUTL, ["snapshot", "status", str(snapshot), "-w", "json"], {snapshot.parent: "ro"})
    try:
        status: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise SnapshotError(f"etcdutl snapshot status {snapshot}: unexpected output {out[:120]!r}") from exc
    return status


def member_count(cfg: KbsConfig) -> int:
    """How many members the running etcd cluster has (`etcdctl member list`)."""
    flags, mounts = _client_flags(cfg)
    out = _run(cfg, ETCDCTL, ["member", "list", "-w", "json", *flags], mounts)
    try:
        return len(json.loads(out).get("members", []))
    except ValueError as exc:
        raise SnapshotError(f"etcdctl member list: unexpected output {out[:120]!r}") from exc


def current_revision(cfg: KbsConfig, data_dir: Path) -> int:
    """The newest revision the cluster has handed out: from the running member, else from its data dir's db."""
    flags, mounts = _client_flags(cfg)
    try:
        out = _run(cfg, ETCDCTL, ["endpoint", "status", "-w", "json", *flags], mounts)
        return int(json.loads(out)[0]["Status"]["header"]["revision"])
    except (SnapshotError, ValueError, LookupError, TypeError):
        pass
    db = data_dir / "member" / "snap" / "db"
    if not db.is_file():
        return 0
    try:
        return int(snapshot_status(cfg, db).get("revision", 0))
    except (SnapshotError, ValueError, TypeError):
        return 0


def snapshot_restore(cfg: KbsConfig, snapshot: Path, data_dir: Path, *, name: str, peer_urls: str, bump: int) -> None:
    """`etcdutl snapshot restore` into DATA_DIR (which must not exist yet) as a new one-member cluster.

    BUMP is added to the snapshot's revision: the restored cluster must continue above every revision the old one
    handed out, or watchers that saw them (the API server's watch cache) keep serving what the snapshot lacks.
    """
    args = [
        "snapshot",
        "restore",
        str(snapshot),
        f"--name={name}",
        f"--initial-cluster={name}={peer_urls}",
        f"--initial-advertise-peer-urls={peer_urls}",
        f"--data-dir={data_dir}",
        # Kubernetes' watchers (the API server's watch cache, informers) have seen revisions newer than the
        # snapshot's; a higher revision marked compacted makes them relist instead of serving stale data.
        f"--bump-revision={bump}",
        "--mark-compacted",
    ]
    _run(cfg, ETCDUTL, args, {snapshot.parent: "ro", data_dir.parent: "rw"})
