"""Putting rendered manifests on disk, and showing what would change.

write_manifests writes each file atomically (a hidden `.name.yaml.*.tmp` in the same directory, then rename;
bootstrap.fsutil.atomic_write), so a watcher of the staticPodPath never sees a partial file or a stray backup. A file
that already holds the same bytes is left alone (no rename, no watcher event). The directory is created 0700 and
files are 0600, like kubeadm. Dry-run does not call this module's writers at all: it prints, and diffs against
what is on disk.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bootstrap import constants
from bootstrap.errors import FileWriteError
from bootstrap.fsutil import atomic_write, ensure_dir


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ManifestChange:
    component: str
    path: Path
    change: Change


def manifest_path(directory: Path, component: str) -> Path:
    return directory / f"{component}.yaml"


def write_manifests(manifests: Mapping[str, str], directory: Path) -> list[ManifestChange]:
    """Write each component's manifest into `directory`; returns what happened to each file."""
    _check_writable(directory)
    ensure_dir(directory, constants.MANIFESTS_DIR_MODE)
    changes: list[ManifestChange] = []
    for component, text in manifests.items():
        path = manifest_path(directory, component)
        existed = path.exists()
        wrote = atomic_write(path, text, mode=constants.MANIFEST_MODE, dir_mode=constants.MANIFESTS_DIR_MODE)
        change = Change.UNCHANGED if not wrote else Change.UPDATED if existed else Change.CREATED
        changes.append(ManifestChange(component, path, change))
    return changes


def _check_writable(directory: Path) -> None:
    """Fail before the first file when the directory (or its nearest existing parent) cannot be written."""
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise FileWriteError(f"cannot write manifests to {directory}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise FileWriteError(
            f"cannot write manifests to {directory}: {probe} is not writable",
            hint="run as root, or choose another directory with --static-pod-path / --output-dir",
        )


def diff_manifests(manifests: Mapping[str, str], directory: Path) -> str:
    """A unified diff of the files in `directory` against `manifests` (only files that exist and differ)."""
    chunks: list[str] = []
    for component, text in manifests.items():
        path = manifest_path(directory, component)
        try:
            current = path.read_text()
        except FileNotFoundError:
            continue
        except OSError as exc:
            chunks.append(f"# cannot read {path}: {exc.strerror}\n")
            continue
        if current == text:
            continue
        chunks.extend(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{path} (on disk)",
                tofile=f"{path} (rendered)",
            )
        )
    return "".join(chunks)


def as_stream(manifests: Mapping[str, str]) -> str:
    """All manifests as one multi-document YAML stream."""
    return "".join(f"---\n{text}" for text in manifests.values())
