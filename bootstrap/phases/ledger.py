"""The ledger: which files and directories kbs created on this machine, so `kbs reset` removes those and no others.

Written *before* a phase acts (write-ahead): each path the phase may create is recorded as `created` when it does
not exist yet, or as `foreign` when it already does (the operator's CA, a manifest kbs did not write). A SIGKILL
between the record and the write leaves an entry for a file that may not exist; reset skips those, and the
re-run finds the path already classified. A path is classified once and keeps its class, except that
`--adopt` turns a foreign manifest into kbs's.

The ledger is one JSON file in the reconciler's state directory, written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bootstrap.errors import FileWriteError
from bootstrap.fsutil import atomic_write

LEDGER_FILE = "kbs-init-ledger.json"
Kind = Literal["created", "foreign"]


@dataclass
class Ledger:
    path: Path
    entries: dict[str, Kind] = field(default_factory=dict)  # absolute path -> class
    dirty: bool = False

    @classmethod
    def load(cls, state_dir: Path) -> Ledger:
        path = state_dir / LEDGER_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise FileWriteError(
                f"cannot read kbs's ledger {path}: {exc}",
                hint="the file lists what kbs created; restore it or remove it (reset then removes nothing)",
            ) from exc
        entries = {str(p): k for p, k in raw.get("paths", {}).items() if k in ("created", "foreign")}
        return cls(path, entries)

    def kind(self, path: Path) -> Kind | None:
        return self.entries.get(str(path))

    def owns(self, path: Path) -> bool:
        return self.entries.get(str(path)) == "created"

    def classify(self, paths: Iterable[Path]) -> None:
        """Record each path not seen before: `foreign` if it exists now, else `created` (kbs is about to make it,
        with any missing parent directories)."""
        for path in paths:
            key = str(path)
            if key in self.entries:
                continue
            exists = path.exists() or path.is_symlink()
            self.entries[key] = "foreign" if exists else "created"
            self.dirty = True
            if not exists:  # the directories kbs will have to make on the way are kbs's too
                parent = path.parent
                while parent != parent.parent and not parent.exists() and str(parent) not in self.entries:
                    self.entries[str(parent)] = "created"
                    parent = parent.parent

    def adopt(self, path: Path) -> None:
        if self.entries.get(str(path)) != "created":
            self.entries[str(path)] = "created"
            self.dirty = True

    def forget(self, path: Path) -> None:
        if self.entries.pop(str(path), None) is not None:
            self.dirty = True

    def created(self) -> list[Path]:
        return sorted((Path(p) for p, k in self.entries.items() if k == "created"), key=str)

    def save(self) -> None:
        if not self.dirty:
            return
        body = {"apiVersion": "kbs.dev/v1alpha1", "kind": "Ledger", "paths": dict(sorted(self.entries.items()))}
        atomic_write(self.path, json.dumps(body, indent=2) + "\n", mode=0o600, dir_mode=0o700)
        self.dirty = False

    def remove_file(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def record(state_dir: Path, paths: Iterable[Path]) -> Ledger:
    """Load the ledger, classify `paths` (and the state directory the ledger itself lives in), save it."""
    ledger = Ledger.load(state_dir)
    ledger.classify([state_dir])
    ledger.classify(paths)
    ledger.save()
    return ledger
