"""What a PKI operation did, per item: created, kept or renewed, so phases can print it and converge."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bootstrap import constants


class Action(enum.StrEnum):
    CREATED = "created"
    KEPT = "kept"
    RENEWED = "renewed"
    SKIPPED = "skipped"  # renew all: missing, or signed by an external CA


@dataclass(frozen=True)
class Result:
    name: str  # the table name: "apiserver", "etcd-ca", "sa", "admin.conf"
    action: Action
    files: tuple[Path, ...]
    detail: str = ""  # e.g. "signed for DNS names [...] and IPs [...]", "for the existing key"
    warnings: tuple[str, ...] = ()
    restarts: tuple[str, ...] = ()  # static pods that must restart to load a renewed file

    @property
    def changed(self) -> bool:
        return self.action in (Action.CREATED, Action.RENEWED)

    def __str__(self) -> str:
        files = ", ".join(str(f) for f in self.files)
        return f"{self.name}: {self.action} {files}" + (f" ({self.detail})" if self.detail else "")


def restarts_needed(results: Iterable[Result]) -> list[str]:
    """The static pods that must restart after `results` changed files, in start-up order."""
    wanted = {c for r in results if r.action is Action.RENEWED for c in r.restarts}
    return [c for c in constants.ALL_COMPONENTS if c in wanted]
