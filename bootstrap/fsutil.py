"""Atomic file writes: a crash or a concurrent reader never sees a partial file.

Every file kbs writes goes through `atomic_write`: a hidden temporary file in the same directory (dot-files
are ignored by the kubelet's and kbs's manifest watchers), fsync, chmod, rename, fsync of the directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bootstrap.errors import FileWriteError

R = TypeVar("R")


def ensure_dir(path: Path, mode: int = 0o755) -> None:
    """Create `path` (and parents) if missing; an existing non-directory is an error."""
    if path.exists() and not path.is_dir():
        raise FileWriteError(f"{path} exists and is not a directory", hint=f"move {path} away and run again")
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(f"cannot create directory {path}: {exc.strerror}") from exc


def atomic_write(path: Path, data: bytes | str, mode: int = 0o644, dir_mode: int = 0o755) -> bool:
    """Write `data` to `path` atomically with permissions `mode`.

    Returns False (and touches nothing) when the file already holds exactly `data` with `mode`, so callers
    converge without rewriting files (and without waking watchers).
    """
    raw = data.encode() if isinstance(data, str) else data
    ensure_dir(path.parent, dir_mode)
    with contextlib.suppress(OSError):
        if path.read_bytes() == raw and (path.stat().st_mode & 0o7777) == mode:
            return False
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise FileWriteError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileWriteError(f"cannot write {path}: {exc.strerror}") from exc
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_record(path: Path, kind: Callable[..., R]) -> R | None:
    """A small JSON status record (one object) as `kind(**fields)`; None when missing or unreadable."""
    import json

    try:
        return kind(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
