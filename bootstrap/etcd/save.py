"""`kbs etcd snapshot save`: take a snapshot of the local member, verify it, checksum it, then publish it.

The snapshot is written as `.<name>.tmp` in the snapshot directory, checked with `etcdutl snapshot status`, made
0600, its `<name>.sha256` written, and only then renamed to `<name>`: a failure at any step removes the temp files,
so a listed snapshot is always complete and verified.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap.etcd import snapshots, tools
from bootstrap.etcd.snapshots import SnapshotError
from bootstrap.fsutil import ensure_dir

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


@dataclass(frozen=True)
class Saved:
    path: Path
    checksum_file: Path
    digest: str
    size: int
    status: dict[str, Any]


def save(cfg: KbsConfig, name: str | None = None, kind: str = snapshots.ON_DEMAND) -> Saved:
    if not cfg.local_etcd:
        raise SnapshotError(
            "this cluster uses external etcd: kbs snapshots only a local etcd member",
            hint="take snapshots with your external etcd's own tooling",
        )
    directory = cfg.etcd_snapshot_dir
    name = snapshots.check_name(name) if name else snapshots.snapshot_name(kind, cfg.node_name, time.time())
    final = directory / name
    if final.exists():
        raise SnapshotError(f"snapshot {final} already exists", hint="choose another NAME or delete the old one")
    ensure_dir(directory, mode=0o700)
    tmp = directory / f".{name}{snapshots.TMP_MARK}"
    try:
        tools.snapshot_save(cfg, tmp)
        os.chmod(tmp, 0o600)
        status = tools.snapshot_status(cfg, tmp)
        digest = snapshots.sha256_of(tmp)
        checksum_file = snapshots.write_checksum(final, digest)
        tmp.replace(final)
    except BaseException:
        for leftover in (tmp, tmp.with_name(tmp.name + ".part"), snapshots.checksum_path(final)):
            if leftover != snapshots.checksum_path(final) or not final.exists():
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        raise
    return Saved(final, checksum_file, digest, final.stat().st_size, status)
