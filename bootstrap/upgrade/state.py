"""The upgrade's journal: one JSON file in the reconciler's state directory, written before each step acts.

It names the target version, the version the node ran before, the backup directory (the original manifests and
the etcd snapshot), the components whose new manifest was written, each one's mirror-pod config hash from before
the write, and whether the run was rolling back. A SIGKILL at any point leaves a journal that the next
`kbs upgrade apply` reads: `upgrading` continues toward the same target, `rolling-back` finishes the rollback.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from bootstrap.fsutil import atomic_write
from bootstrap.upgrade.plan import UpgradeError

STATE_FILE = "kbs-upgrade.json"
Phase = Literal["upgrading", "rolling-back"]


@dataclass
class UpgradeState:
    target: str
    source: str  # the version before the upgrade
    backup_dir: str
    phase: Phase = "upgrading"
    written: list[str] = field(default_factory=list)  # components whose new manifest is on disk, in order
    old_hashes: dict[str, str] = field(default_factory=dict)  # component -> mirror pod config hash before the write
    renewed: list[str] = field(default_factory=list)  # components whose certificates were renewed

    @staticmethod
    def path(state_dir: Path) -> Path:
        return state_dir / STATE_FILE

    @classmethod
    def load(cls, state_dir: Path) -> UpgradeState | None:
        path = cls.path(state_dir)
        try:
            raw = json.loads(path.read_text())
            return cls(**raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise UpgradeError(
                f"cannot read the upgrade journal {path}: {exc}",
                hint="the backup directory it names holds the original manifests; restore them and remove the file",
            ) from exc

    def save(self, state_dir: Path) -> None:
        atomic_write(self.path(state_dir), json.dumps(asdict(self), indent=2) + "\n", mode=0o600)

    @classmethod
    def clear(cls, state_dir: Path) -> None:
        cls.path(state_dir).unlink(missing_ok=True)
