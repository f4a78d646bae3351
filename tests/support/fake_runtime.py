"""FakeRuntime: an in-memory Runtime for unit tests (no Docker), with knobs to make things go wrong.

Containers start "running" and stay so until a test calls `exit(...)`; `stop` ends them with 143 (or the code
in `stop_exit_code`). `images` is the local image store, `pull_errors` makes pulls of an image fail, `exec_results`
answers exec probes. Every mutating call is appended to `calls`, so tests can assert what the reconciler did.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

from bootstrap.errors import RuntimeUnavailableError
from bootstrap.reconciler.errors import ImagePullError, RuntimeOperationError
from bootstrap.reconciler.runtime import ContainerRecord, CreateSpec, ExecResult, RuntimeEvent

_ids = itertools.count(1)


class FakeRuntime:
    def __init__(self, instance: str = "test", images: tuple[str, ...] = ()) -> None:
        self.instance = instance
        self.images: set[str] = set(images)
        self.pull_errors: dict[str, str] = {}
        self.start_errors: dict[str, str] = {}  # image -> message: start fails like a missing executable
        self.exec_results: Callable[[str, tuple[str, ...]], ExecResult] = lambda _id, _cmd: ExecResult(0)
        self.stop_exit_code = 143
        self.available = True
        self.containers: dict[str, ContainerRecord] = {}
        self.specs: dict[str, CreateSpec] = {}
        self.calls: list[tuple[str, str]] = []
        self._events: queue.Queue[RuntimeEvent | None] = queue.Queue()
        self._lock = threading.RLock()

    # --- test controls --------------------------------------------------------------------------------------
    def exit(self, container_id: str, code: int = 1, *, oom: bool = False) -> None:
        """Make a running container exit with `code`, as if its process ended."""
        with self._lock:
            record = self.containers[container_id]
            self.containers[container_id] = replace(
                record, state="exited", exit_code=code, finished_at=datetime.now(UTC), oom_killed=oom
            )
        self._emit("die", container_id)

    def by_name(self, container: str, *, running: bool | None = None) -> list[ContainerRecord]:
        """App containers (or sandboxes with "POD") of that pod-container name, oldest first."""
        with self._lock:
            found = [c for c in self.containers.values() if c.container_name == container]
        if running is not None:
            found = [c for c in found if c.running == running]
        return sorted(found, key=lambda c: (c.created_at or datetime.min.replace(tzinfo=UTC), c.id))

    def _emit(self, action: str, container_id: str) -> None:
        record = self.containers.get(container_id)
        self._events.put(RuntimeEvent(action, container_id, dict(record.labels) if record else {}))

    def _check(self) -> None:
        if not self.available:
            raise RuntimeUnavailableError("fake runtime is down")

    # --- Runtime protocol -------------------------------------------------------------------------------------
    def ping(self) -> str:
        self._check()
        return "fake"

    def list(self, pod_uid: str | None = None) -> list[ContainerRecord]:
        self._check()
        with self._lock:
            return [c for c in self.containers.values() if pod_uid is None or c.pod_uid == pod_uid]

    def inspect(self, container_id: str) -> ContainerRecord | None:
        self._check()
        return self.containers.get(container_id)

    def image_present(self, image: str) -> bool:
        self._check()
        return image in self.images

    def image_id(self, image: str) -> str:
        return f"docker://sha256:{abs(hash(image)):064x}"[:80]

    def pull(self, image: str) -> None:
        self._check()
        self.calls.append(("pull", image))
        if image in self.pull_errors:
            raise ImagePullError(f"failed to pull image {image!r}: {self.pull_errors[image]}")
        self.images.add(image)

    def create(self, spec: CreateSpec) -> str:
        self._check()
        if spec.image not in self.images:
            raise RuntimeOperationError(f"no such image: {spec.image}")
        cid = f"{next(_ids):064x}"
        with self._lock:
            self.containers[cid] = ContainerRecord(
                id=cid,
                name=spec.name,
                labels=dict(spec.labels),
                state="created",
                image=spec.image,
                image_id=self.image_id(spec.image),
                created_at=datetime.now(UTC),
                ip=None if spec.network_mode == "host" else f"172.17.0.{len(self.containers) % 250 + 2}",
            )
            self.specs[cid] = spec
        self.calls.append(("create", spec.name))
        self._emit("create", cid)
        return cid

    def start(self, container_id: str) -> None:
        self._check()
        with self._lock:
            record = self.containers[container_id]
            error = self.start_errors.get(record.image)
            if error:
                self.containers[container_id] = replace(record, state="created", exit_code=128, error=error)
                raise RuntimeOperationError(f"start container: {error}", reason="RunContainerError")
            self.containers[container_id] = replace(
                record, state="running", started_at=datetime.now(UTC), exit_code=None
            )
        self.calls.append(("start", record.name))
        self._emit("start", container_id)

    def stop(self, container_id: str, timeout: int) -> None:
        self._check()
        with self._lock:
            record = self.containers.get(container_id)
            if record is None or not record.running:
                return
            self.containers[container_id] = replace(
                record, state="exited", exit_code=self.stop_exit_code, finished_at=datetime.now(UTC)
            )
        self.calls.append(("stop", record.name))
        self._emit("die", container_id)

    def remove(self, container_id: str) -> None:
        self._check()
        with self._lock:
            record = self.containers.pop(container_id, None)
        if record is not None:
            self.calls.append(("remove", record.name))
            self._events.put(RuntimeEvent("destroy", container_id, dict(record.labels)))

    def exec(self, container_id: str, command: tuple[str, ...], timeout: float) -> ExecResult:
        self._check()
        self.calls.append(("exec", " ".join(command)))
        return self.exec_results(container_id, command)

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, timestamps: bool = False
    ) -> Iterator[bytes]:
        record = self.containers.get(container_id)
        yield f"log of {record.name if record else container_id}\n".encode()

    def watch(self, stop: threading.Event) -> Iterator[RuntimeEvent]:
        self._check()
        yield RuntimeEvent("resync")
        while not stop.is_set():
            try:
                event = self._events.get(timeout=0.2)
            except queue.Empty:
                if not self.available:
                    raise RuntimeUnavailableError("fake runtime is down") from None
                continue
            if event is None:
                return
            yield event

    def interrupt_watch(self) -> None:
        self._events.put(None)

    def close(self) -> None:
        self.interrupt_watch()
