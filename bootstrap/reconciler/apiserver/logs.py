"""`/containerLogs/<namespace>/<pod>/<container>`: which container's log, and the kubelet's query options on it.

The pod is the static pod by (suffixed) name, which is also its mirror's name; its containers are found in the
runtime by their labels. The current container is the newest attempt, `previous` the one before it (the
reconciler keeps the newest dead container of each name for this). Options as the API server passes them from
`kubectl logs`: follow, previous, timestamps, tailLines, sinceSeconds, sinceTime, limitBytes. Errors carry the
HTTP status and the kubelet's wording, which the API server relays to kubectl.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bootstrap.reconciler.pods.phase import history
from bootstrap.reconciler.runtime import ContainerRecord
from bootstrap.reconciler.status import PodStatus, parse_time


class LogRequestError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since: datetime | None = None
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, Sequence[str]], now: datetime | None = None) -> LogOptions:
        def flag(name: str) -> bool:
            return (query.get(name) or ["false"])[-1].lower() in ("true", "1")

        def number(name: str) -> int | None:
            raw = (query.get(name) or [""])[-1]
            if raw == "":
                return None
            try:
                value = int(raw)
            except ValueError:
                raise LogRequestError(400, f"invalid {name} {raw!r}: not an integer") from None
            if value < 0:
                raise LogRequestError(400, f"invalid {name} {value}: must be >= 0")
            return value

        since = None
        seconds = number("sinceSeconds")
        if seconds is not None:
            since = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        raw_time = (query.get("sinceTime") or [""])[-1]
        if raw_time:
            since = parse_time(raw_time)
            if since is None:
                raise LogRequestError(400, f"invalid sinceTime {raw_time!r}: not an RFC 3339 time")
        stream = (query.get("stream") or ["All"])[-1]
        if stream not in ("All", ""):
            raise LogRequestError(
                400, f"stream {stream!r} is not supported: this node returns stdout and stderr together"
            )
        return cls(
            flag("follow"), flag("previous"), flag("timestamps"), number("tailLines"), since, number("limitBytes")
        )


def pick(
    records: Iterable[ContainerRecord],
    status: PodStatus | None,
    pod: str,
    namespace: str,
    container: str,
    *,
    previous: bool,
) -> ContainerRecord:
    """The container record whose log to show, or LogRequestError with the kubelet's message."""
    if status is None:
        raise LogRequestError(404, f'pod "{pod}" in namespace "{namespace}" does not exist on this node')
    names = [
        c.get("name")
        for key in ("initContainers", "containers")
        for c in status.manifest.get("spec", {}).get(key) or []
    ]
    if container not in names:
        raise LogRequestError(404, f'container "{container}" not found in pod "{pod}"')
    mine = [r for r in records if r.pod_uid == status.uid and r.pod_namespace == namespace]
    past = history(mine, container)
    if previous:
        if len(past) < 2:
            raise LogRequestError(400, f'previous terminated container "{container}" in pod "{pod}" not found')
        return past[-2]
    if not past:
        current = status.container(container)
        reason = current.reason if current is not None and current.reason else "ContainerCreating"
        raise LogRequestError(400, f'container "{container}" in pod "{pod}" is waiting to start: {reason}')
    return past[-1]


def docker_options(options: LogOptions) -> dict[str, object]:
    """What to ask the runtime for: timestamps are needed to filter by time even when not shown."""
    return {
        "follow": options.follow,
        "tail": options.tail_lines,
        "timestamps": options.timestamps or options.since is not None,
    }


def shape(chunks: Iterable[bytes], options: LogOptions) -> Iterator[bytes]:
    """Apply sinceTime/sinceSeconds, drop the timestamps nobody asked for, stop at limitBytes."""
    left = options.limit_bytes
    for chunk in _filtered(chunks, options) if options.since is not None else chunks:
        piece = chunk
        if left is not None:
            if left <= 0:
                return
            piece = chunk[:left]
            left -= len(piece)
        if piece:
            yield piece


def _filtered(chunks: Iterable[bytes], options: LogOptions) -> Iterator[bytes]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        out = [kept for line in lines if (kept := _keep(line, options)) is not None]
        if out:
            yield b"".join(out)
    if buffer and (kept := _keep(buffer, options)) is not None:
        yield kept.rstrip(b"\n")


def _keep(line: bytes, options: LogOptions) -> bytes | None:
    stamp, _, rest = line.partition(b" ")
    when = parse_time(stamp.decode(errors="replace"))
    if when is not None and options.since is not None and when < options.since:
        return None
    return (line if options.timestamps else rest) + b"\n"
