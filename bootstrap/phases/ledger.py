"""The ledger: which files and directories kbs created on this machine, so `kbs reset` removes those and no others.

Written *before* a phase acts (write-ahead): each path the phase may create is recorded as `created` when it does
not exist yet, or as `foreign` when it already does (the operator's CA, a manifest kbs did not write). A SIGKILL
between the record and the write leaves an entry for a file that may not exist; reset skips those, and the
re-run finds the path already classified. A path is classified once and keeps its class, except that
`--adopt` turns a foreign manifest into kbs's.

A data directory (etcd's data dir, the reconciler's state, run and log dirs) that already exists but is empty
when kbs first uses it is classed `contents`: the directory is not kbs's, but everything in it is — the
situation another tool's reset leaves behind (`kubeadm reset` empties /var/lib/etcd and keeps it). Reset then
empties it, as `kubeadm reset` does with the etcd data dir, and a re-run's preflight accepts its data.

The ledger also remembers how kbs set the node up (`node`: who runs the static pods and from which staticPodPath,
bootstrap.phases.node_setup), so that the next command on the node does not depend on the operator repeating
`--reconciler kubelet`. It is one JSON file in the reconciler's state directory, written atomically, and the last
thing `kbs reset` removes.
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
Kind = Literal["created", "foreign", "contents"]
NODE_FIELDS = ("reconciler", "staticPodPath")


@dataclass
class Ledger:
    path: Path
    entries: dict[str, Kind] = field(default_factory=dict)  # absolute path -> class
    node: dict[str, str] = field(default_factory=dict)  # NODE_FIELDS -> value: how kbs set this node up
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
        entries = {str(p): k for p, k in raw.get("paths", {}).items() if k in ("created", "foreign", "contents")}
        node = {k: v for k, v in raw.get("node", {}).items() if k in NODE_FIELDS and isinstance(v, str)}
        return cls(path, entries, node)

    def kind(self, path: Path) -> Kind | None:
        return self.entries.get(str(path))

    def owns(self, path: Path) -> bool:
        return self.entries.get(str(path)) == "created"

    def owns_contents(self, path: Path) -> bool:
        """Whether everything inside `path` is kbs's (it created the directory, or found it empty)."""
        return self.entries.get(str(path)) in ("created", "contents")

    def classify_data_dirs(self, paths: Iterable[Path]) -> None:
        """Like `classify`, but a directory that exists and is empty becomes `contents`, also when an earlier run
        had classed it `foreign` and it is empty again (its foreign content is gone, what comes next is kbs's)."""
        for path in paths:
            kind = self.entries.get(str(path))
            if kind in ("created", "contents"):
                continue
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                self.entries[str(path)] = "contents"
                self.dirty = True
            elif kind is None:
                self.classify([path])

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

    def remember_node(self, node: dict[str, str]) -> None:
        if node != self.node:
            self.node = dict(node)
            self.dirty = True

    def created(self) -> list[Path]:
        return sorted((Path(p) for p, k in self.entries.items() if k == "created"), key=str)

    def contents(self) -> list[Path]:
        return sorted((Path(p) for p, k in self.entries.items() if k == "contents"), key=str)

    def save(self) -> None:
        if not self.dirty:
            return
        body: dict[str, object] = {"apiVersion": "kbs.dev/v1alpha1", "kind": "Ledger"}
        if self.node:
            body["node"] = self.node
        body["paths"] = dict(sorted(self.entries.items()))
        atomic_write(self.path, json.dumps(body, indent=2) + "\n", mode=0o600, dir_mode=0o700)
        self.dirty = False

    def remove_file(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def record(
    state_dir: Path, paths: Iterable[Path], data_dirs: Iterable[Path] = (), node: dict[str, str] | None = None
) -> Ledger:
    """Load the ledger, classify `paths` and the data directories `data_dirs` (and the state directory the ledger
    itself lives in, a data directory too), remember the `node` setup when given, save it."""
    ledger = Ledger.load(state_dir)
    ledger.classify_data_dirs([state_dir])
    ledger.classify(paths)
    ledger.classify_data_dirs(data_dirs)
    if node is not None:
        ledger.remember_node(node)
    ledger.save()
    return ledger
