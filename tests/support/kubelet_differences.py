"""The differences between a mirror pod made by the real kubelet and one made by kbs's reconciler that are known,
and why: the one home of that list.

tests/real/test_kubelet_differential.py fails on any difference no row here allows (tests/support/kubelet_diff.py
matches a difference against the rows). docs/kubelet-compatibility.md carries the same rows as a generated
section between the two markers below; a unit test checks that it is exactly `render()`'s output, so the page
and the test cannot drift. After changing ALLOWED, regenerate the section:

    python -m tests.support.kubelet_differences --write
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "kubelet-compatibility.md"
BEGIN = "<!-- BEGIN generated: python -m tests.support.kubelet_differences --write -->"
END = "<!-- END generated -->"


@dataclass(frozen=True)
class Allowed:
    """One known difference. `path` is a pattern over kubelet_diff's field paths (`*`: any text); `kubelet` and `kbs`,
    when given, are the values each side must show ("(absent)" for a field one side leaves out)."""

    path: str
    kubelet: str | None
    kbs: str | None
    reason: str


ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        "status.*containerID",
        "containerd://<hex>",
        "docker://<hex>",
        "the runtime's own ID scheme: a container ID names the runtime that runs it",
    ),
    Allowed(
        "status.*Statuses[*].imageID",
        "sha256:<hex>",
        "docker://sha256:<hex>",
        "the same image ID (the image's config digest); kbs spells it the way the kubelet's Docker runtimes "
        "(dockershim, cri-dockerd) did, containerd without a scheme",
    ),
    Allowed(
        "status.*Statuses[*].resources",
        "{}",
        "(absent)",
        "the kubelet reports the resources its runtime applied to the container (in-place resize); kbs does not "
        "report them. Proved only for containers without requests or limits, where the kubelet's answer is empty",
    ),
    Allowed(
        "status.resources",
        "{}",
        "(absent)",
        "pod-level resources, reported by the kubelet (empty for a pod without them); kbs does not report them",
    ),
    Allowed(
        "status.resources.*",
        None,
        "(absent)",
        "the pod-level resources the kubelet reads back from the pod's cgroup (InPlacePodLevelResourcesVertical"
        "Scaling); Docker has no pod-level cgroup (each container has its own), so kbs has none to read back. The "
        "requests the pod was given are in status.allocatedResources, which kbs reports as the kubelet does",
    ),
    Allowed(
        "status.*Statuses[*].user.linux.*",
        None,
        "(absent)",
        "the uid, gid and groups of the container's first process, which containerd reports to the kubelet "
        "(supplemental groups policy); the Docker engine's API does not report them",
    ),
    *(
        Allowed(
            f"node.status.conditions.{kind}.reason",
            f"Kubelet{what}",
            f"Reconciler{what}",
            "the node's agent names itself in its conditions' reasons (the kubelet's words after the prefix), as "
            "the kubelet does; no controller reads a reason (the node lifecycle controller and the scheduler read "
            "the status and the taints)",
        )
        for kind, what in (
            ("MemoryPressure", "HasSufficientMemory"),
            ("DiskPressure", "HasNoDiskPressure"),
            ("PIDPressure", "HasSufficientPID"),
            ("Ready", "Ready"),
        )
    ),
    Allowed(
        "node.status.conditions.*Pressure.message",
        None,
        None,
        "kbs says what it measured against the kubelet's hard eviction thresholds (memory and disk available); "
        "the kubelet says `kubelet has sufficient memory available` and the like",
    ),
    Allowed(
        "node.status.conditions.Ready.message",
        "kubelet is posting ready status",
        None,
        "kbs's Ready message says that the node runs static pods only (pods from the API server are not run "
        "there: the kbs.dev/static-pods-only taint), or why the reconciler is not healthy",
    ),
)


def _cell(value: str | None) -> str:
    return "any" if value is None else f"`{value}`"


def render(table: tuple[Allowed, ...] = ALLOWED) -> str:
    """The generated section: a Markdown table, one row per allowed difference, in the table's order."""
    lines = [
        "| field path | the kubelet with containerd | kbs's reconciler on Docker | why |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{r.path}` | {_cell(r.kubelet)} | {_cell(r.kbs)} | {r.reason} |" for r in table]
    return "\n".join(lines) + "\n"


def section(text: str) -> str:
    """The generated part of a page: what lies between BEGIN and END (without them)."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n") + "\n"


def with_section(text: str, body: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n{body}{text[end:]}"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        DOC.write_text(with_section(DOC.read_text(), render()))
        return 0
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
