"""A tiny phase runner: a workflow is a tuple of `Phase` records, run in order (kubeadm's cmd/phases/workflow).

The phase list is data. The CLI turns the same tuple into `kbs init phase <name>` commands and validates
`--skip-phases` against it; the runner times each phase and reports what it did through a `Reporter`.
A phase returns an `Outcome` saying whether it changed anything, which is how a second `kbs init` on a
converged node can say "nothing to do" with authority instead of guessing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from bootstrap.errors import ConfigError, KbsError


@dataclass(frozen=True)
class Outcome:
    """What a phase did: one line for people, and whether anything on the machine or in the cluster changed."""

    summary: str
    changed: bool = False
    stop: bool = False  # the workflow ends here, successfully (e.g. `--reconciler none` after the manifests)


class Reporter(Protocol):
    """Where phases and the runner write for people (the CLI prints; tests collect)."""

    def line(self, phase: str, text: str) -> None: ...

    def detail(self, text: str) -> None: ...


D = TypeVar("D")


@dataclass(frozen=True)
class Phase(Generic[D]):
    name: str
    help: str  # one line, shown by `kbs init --help` and as the phase command's help
    run: Callable[[D], Outcome]
    example: str = ""  # extra flags worth showing in `kbs init phase <name> --help`
    children: tuple[Phase[D], ...] = ()  # sub-phases (kubeadm's `addon/coredns`); `run` is then unused

    def qualified(self) -> list[str]:
        """This phase's name and its children's `parent/child` names, as --skip-phases accepts them."""
        return [self.name, *(f"{self.name}/{child.name}" for child in self.children)]


@dataclass
class PhaseRun:
    name: str
    seconds: float = 0.0
    outcome: Outcome | None = None  # None: skipped
    error: KbsError | None = None


@dataclass
class RunResult:
    runs: list[PhaseRun] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(r.outcome is not None and r.outcome.changed for r in self.runs)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.runs)


class Workflow(Generic[D]):
    """An ordered, named list of phases, with skip-validation and timing."""

    def __init__(self, name: str, phases: Sequence[Phase[D]]) -> None:
        names = [p.name for p in phases]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate phase names in {name}: {names}")
        self.name = name
        self.phases = tuple(phases)

    def names(self) -> list[str]:
        return [p.name for p in self.phases]

    def qualified_names(self) -> list[str]:
        """Every phase and sub-phase name (`addon`, `addon/coredns`, ...), in order."""
        return [name for p in self.phases for name in p.qualified()]

    def phase(self, name: str) -> Phase[D]:
        """A phase by name, or a sub-phase by `parent/child`."""
        parent, _, child = name.partition("/")
        for candidate in self.phases:
            if candidate.name == parent:
                if not child:
                    return candidate
                for sub in candidate.children:
                    if sub.name == child:
                        return Phase(name, sub.help, sub.run, sub.example)
        raise ConfigError(
            f"{self.name} has no phase {name!r}", hint=f"phases, in order: {', '.join(self.qualified_names())}"
        )

    def check_skip(self, skip: Iterable[str]) -> frozenset[str]:
        """The names in `skip` (comma lists allowed), each a known phase or `parent/child`; `all` is refused."""
        wanted = frozenset(n.strip() for item in skip for n in item.split(",") if n.strip())
        unknown = sorted(wanted - set(self.qualified_names()))
        if unknown:
            raise ConfigError(
                f"--skip-phases: unknown phase {', '.join(unknown)}",
                hint=f"phases, in order: {', '.join(self.qualified_names())}",
            )
        return wanted

    def run(
        self,
        data: D,
        reporter: Reporter,
        *,
        skip: frozenset[str] = frozenset(),
        only: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> RunResult:
        """Run the phases in order (or just `only`); stop at the first error, re-raised after it is recorded."""
        result = RunResult()
        selected = [self.phase(only)] if only else list(self.phases)
        for phase in selected:
            run = PhaseRun(phase.name)
            result.runs.append(run)
            if phase.name in skip:
                reporter.line(phase.name, "skipped (--skip-phases)")
                continue
            start = clock()
            try:
                run.outcome = self._run_one(phase, data, reporter, skip)
            except KbsError as exc:
                run.seconds = clock() - start
                run.error = exc
                reporter.line(phase.name, f"failed after {run.seconds:.2f}s")
                raise
            run.seconds = clock() - start
            reporter.line(phase.name, f"{run.outcome.summary} ({run.seconds:.2f}s)")
            if run.outcome.stop and phase is not selected[-1]:
                rest = [p.name for p in selected[selected.index(phase) + 1 :]]
                reporter.line(phase.name, f"stopping here; not run: {', '.join(rest)}")
                break
        return result

    @staticmethod
    def _run_one(phase: Phase[D], data: D, reporter: Reporter, skip: frozenset[str]) -> Outcome:
        """A phase, or its children in order (each skippable as `parent/child`), summed up into one Outcome."""
        if not phase.children:
            return phase.run(data)
        summaries, changed = [], False
        for child in phase.children:
            name = f"{phase.name}/{child.name}"
            if name in skip:
                reporter.line(name, "skipped (--skip-phases)")
                summaries.append(f"{child.name}: skipped")
                continue
            outcome = child.run(data)
            reporter.line(name, outcome.summary)
            summaries.append(f"{child.name}: {outcome.summary}")
            changed = changed or outcome.changed
        return Outcome("; ".join(summaries), changed=changed)
