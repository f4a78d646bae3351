"""The snapshot directory: names like k3s's, a `<name>.sha256` file beside each snapshot, listing, deleting, pruning.

A snapshot is a regular file whose name does not start with a dot; `.<name>.tmp*` files are saves in progress
(or left by a crash) and `<name>.sha256` holds `sha256sum`'s format, so `sha256sum -c` checks it by hand too.
Retention prunes only `scheduled-*` snapshots of this node, oldest first; on-demand ones are never pruned.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bootstrap.errors import ConfigError, KbsError
from bootstrap.fsutil import atomic_write

ON_DEMAND = "on-demand"
SCHEDULED = "scheduled"
CHECKSUM_SUFFIX = ".sha256"
TMP_MARK = ".tmp"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class SnapshotError(KbsError):
    """A snapshot cannot be taken, read, verified or restored."""


@dataclass(frozen=True)
class Snapshot:
    name: str
    path: Path
    size: int
    created: datetime  # the file's modification time
    checksum: str  # "ok", "missing", "MISMATCH"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "size": self.size,
            "created": self.created.isoformat(),
            "checksum": self.checksum,
        }


def snapshot_name(kind: str, node: str, now: float) -> str:
    """`on-demand-<node>-<unix time>` or `scheduled-<node>-<unix time>`, as k3s names them."""
    return f"{kind}-{node}-{int(now)}"


def check_name(name: str) -> str:
    """A snapshot NAME given on the command line: a plain file name (no path, no leading dot, no .sha256)."""
    if not _NAME.match(name) or name.endswith(CHECKSUM_SUFFIX):
        raise ConfigError(
            f"invalid snapshot name {name!r}",
            hint="use letters, digits, '.', '_' and '-' (no '/', no leading dot, not ending in .sha256)",
        )
    return name


def checksum_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + CHECKSUM_SUFFIX)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksum(snapshot: Path, digest: str) -> Path:
    """`<digest>  <name>` in `<snapshot>.sha256`, written atomically (temp file + rename), mode 0600."""
    target = checksum_path(snapshot)
    atomic_write(target, f"{digest}  {snapshot.name}\n", mode=0o600, dir_mode=0o700)
    return target


def read_checksum(snapshot: Path) -> str | None:
    try:
        text = checksum_path(snapshot).read_text()
    except FileNotFoundError:
        return None
    return text.split()[0] if text.split() else ""


def verify_checksum(snapshot: Path) -> str:
    """ "ok", "missing" or "MISMATCH" (the file changed after it was saved)."""
    expected = read_checksum(snapshot)
    if expected is None:
        return "missing"
    return "ok" if sha256_of(snapshot) == expected else "MISMATCH"


def is_snapshot_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and not path.name.endswith(CHECKSUM_SUFFIX)


def list_snapshots(directory: Path, *, verify: bool = True) -> list[Snapshot]:
    """The snapshots in `directory`, oldest first; an absent directory has none."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        if not is_snapshot_file(path):
            continue
        info = path.stat()
        created = datetime.fromtimestamp(info.st_mtime, UTC)
        status = verify_checksum(path) if verify else "unchecked"
        found.append(Snapshot(path.name, path, info.st_size, created, status))
    return sorted(found, key=lambda s: (s.created, s.name))


def resolve(directory: Path, name_or_path: str) -> Path:
    """A NAME in the snapshot directory, or a path to a file anywhere."""
    given = Path(name_or_path)
    if given.is_absolute() or "/" in name_or_path:
        return given
    return directory / name_or_path


def delete(directory: Path, name: str) -> list[Path]:
    """Remove a snapshot and its checksum file; the paths removed. Unknown names are an error."""
    path = directory / check_name(name)
    if not path.is_file():
        raise SnapshotError(f"no snapshot {name!r} in {directory}", hint="`kbs etcd snapshot list` shows them")
    removed = []
    for target in (checksum_path(path), path):
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        removed.append(target)
    return removed


def to_prune(snapshots: list[Snapshot], node: str, retention: int) -> list[Snapshot]:
    """The scheduled snapshots of `node` beyond the newest `retention`, oldest first. On-demand ones never."""
    prefix = f"{SCHEDULED}-{node}-"
    scheduled = [s for s in snapshots if s.name.startswith(prefix)]
    scheduled.sort(key=lambda s: (_stamp(s.name, prefix), s.created))
    return scheduled[: max(0, len(scheduled) - retention)]


def _stamp(name: str, prefix: str) -> int:
    rest = name[len(prefix) :]
    return int(rest) if rest.isdigit() else 0


def leftovers(directory: Path) -> list[Path]:
    """Temp files a crashed save left behind (`.<name>.tmp*`)."""
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if p.name.startswith(".") and TMP_MARK in p.name]
