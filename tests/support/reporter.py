"""A Reporter (bootstrap.phases.workflow) that keeps what the phases and commands say, for unit tests."""

from __future__ import annotations


class Collect:
    """`[phase] text` lines and details, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, phase: str, text: str) -> None:
        self.lines.append(f"[{phase}] {text}")

    def detail(self, text: str) -> None:
        self.lines.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
