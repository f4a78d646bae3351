"""The read side of the reconciler for `kbs ps` and `kbs logs`: containers from Docker, readiness from status files.

Docker is the truth for what runs (a stopped reconciler does not make containers disappear); the status files
add what only the reconciler knows (readiness). Containers are found by the `io.kbs.reconciler` label, of every
reconciler instance on the engine unless one is named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from bootstrap.errors import KbsError
from bootstrap.reconciler.runtime import ContainerRecord, Runtime
from bootstrap.reconciler.status import read_statuses

ANY_INSTANCE = "*"


@dataclass(frozen=True)
class Row:
    """One line of `kbs ps`."""

    container_id: str
    pod: str
    namespace: str
    container: str
    state: str  # Running, Exited (1), Created, ...
    ready: bool | None  # None: no status known
    restarts: int
    created: datetime | None
    image: str
    pod_uid: str
    sandbox: bool

    def to_json(self) -> dict[str, object]:
        return {
            "containerID": self.container_id,
            "pod": self.pod,
            "namespace": self.namespace,
            "container": self.container,
            "state": self.state,
            "ready": self.ready,
            "restartCount": self.restarts,
            "created": self.created.isoformat() if self.created else None,
            "image": self.image,
            "podUID": self.pod_uid,
            "sandbox": self.sandbox,
        }


def _state(record: ContainerRecord) -> str:
    if record.running:
        return "Running"
    if record.state == "exited":
        return f"Exited ({record.exit_code})"
    return record.state.capitalize()


def rows(runtime: Runtime, state_dir: Path | None, *, all_states: bool = False, sandboxes: bool = False) -> list[Row]:
    ready: dict[str, bool] = {}
    if state_dir is not None:
        for status in read_statuses(state_dir):
            for c in (*status.init_container_statuses, *status.container_statuses):
                if c.container_id:
                    ready[c.container_id.removeprefix("docker://")] = c.ready
    out = []
    for record in runtime.list():
        if record.is_sandbox and not sandboxes:
            continue
        if not record.running and not all_states:
            continue
        out.append(
            Row(
                container_id=record.id[:13],
                pod=record.pod_name,
                namespace=record.pod_namespace,
                container=record.container_name,
                state=_state(record),
                ready=ready.get(record.id) if not record.is_sandbox else None,
                restarts=record.attempt,
                created=record.created_at,
                image=record.image,
                pod_uid=record.pod_uid,
                sandbox=record.is_sandbox,
            )
        )
    return sorted(out, key=lambda r: (r.namespace, r.pod, r.sandbox is False, r.container, -r.restarts))


def age(created: datetime | None, now: datetime | None = None) -> str:
    """kubectl's short ages: 45s, 12m, 3h, 5d."""
    if created is None:
        return "-"
    seconds = max(0, int(((now or datetime.now(UTC)) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def render(found: list[Row], output: str, now: datetime | None = None) -> str:
    """`kbs ps` output: an aligned table, or JSON / YAML (`output` is table, json or yaml)."""
    if output != "table":
        data = [r.to_json() for r in found]
        if output == "json":
            return json.dumps(data, indent=2) + "\n"
        import yaml

        return str(yaml.safe_dump(data, sort_keys=False))
    header = ("CONTAINER", "POD", "NAMESPACE", "NAME", "STATE", "READY", "RESTARTS", "AGE", "IMAGE")
    table = [header] + [
        (
            r.container_id,
            r.pod,
            r.namespace,
            r.container,
            r.state,
            "-" if r.ready is None else ("true" if r.ready else "false"),
            str(r.restarts),
            age(r.created, now),
            r.image,
        )
        for r in found
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n" for row in table
    )


def find_container(
    runtime: Runtime, pod: str, *, namespace: str | None, container: str | None, previous: bool
) -> ContainerRecord:
    """The container `kbs logs` reads: the newest of the pod's (or `container`'s), or the one before it."""
    records = [r for r in runtime.list() if not r.is_sandbox and (namespace is None or r.pod_namespace == namespace)]
    mine = [r for r in records if r.pod_name == pod]
    if not mine:  # the manifest's name without the node suffix is accepted when it is unambiguous
        prefixed = {r.pod_name for r in records if r.pod_name.startswith(f"{pod}-")}
        if len(prefixed) == 1:
            mine = [r for r in records if r.pod_name in prefixed]
    if not mine:
        raise KbsError(
            f"pod {pod!r} not found{f' in namespace {namespace}' if namespace else ''}",
            hint="`kbs ps -a` lists the pods and containers the reconciler runs",
        )
    names = sorted({r.container_name for r in mine})
    if container is None:
        if len(names) > 1:
            raise KbsError(
                f"pod {mine[0].pod_name} has several containers: {', '.join(names)}",
                hint="choose one with -c CONTAINER",
            )
        container = names[0]
    chosen = [r for r in mine if r.container_name == container]
    if not chosen:
        raise KbsError(f"container {container!r} not found in pod {mine[0].pod_name} (has: {', '.join(names)})")
    newest_uid = max(chosen, key=lambda r: r.created_at or datetime.min.replace(tzinfo=UTC)).pod_uid
    chosen = sorted(
        (r for r in chosen if r.pod_uid == newest_uid),
        key=lambda r: (r.attempt, r.created_at or datetime.min.replace(tzinfo=UTC)),
    )
    if previous:
        if len(chosen) < 2:
            raise KbsError(f"previous terminated container {container!r} in pod {mine[0].pod_name} not found")
        return chosen[-2]
    return chosen[-1]


def stream_logs(
    runtime: Runtime, record: ContainerRecord, *, follow: bool, tail: int | None, timestamps: bool
) -> Iterator[bytes]:
    yield from runtime.logs(record.id, follow=follow and record.running, tail=tail, timestamps=timestamps)


def copy_logs(
    runtime: Runtime,
    pod: str,
    out: BinaryIO,
    *,
    namespace: str | None,
    container: str | None,
    previous: bool,
    follow: bool,
    tail: int | None,
    timestamps: bool,
) -> None:
    """`kbs logs`: find the container and write its log to `out` as it arrives (until it ends, or for ever)."""
    record = find_container(runtime, pod, namespace=namespace, container=container, previous=previous)
    for chunk in stream_logs(runtime, record, follow=follow, tail=tail, timestamps=timestamps):
        out.write(chunk)
        out.flush()
