"""The file source: a manifest directory watched with inotify and relisted every fileCheckFrequency (20 s).

Kubelet rules: names starting with `.` are ignored (editors' and atomic writers' temporary files), there is no
extension filter, subdirectories are not entered, symlinks are followed (a change to a symlink's target outside
the directory is seen at the next relist), a file holds one v1 Pod in YAML or JSON, at most 10 MiB. The path may
also name a single manifest file.

inotify (inotify_simple: a thin ctypes wrapper, no threads of its own, so one loop serves both the watch and the
relist timer) gives near-instant reaction. On an inotify change a file that does not parse keeps its previous
pod; at the next full relist an invalid file is left out, so its pod stops, as with the kubelet. Two files with
the same pod name: the later one in sort order wins and the other is reported (FailedValidation).
Each file is re-parsed only when its bytes change, which keeps an idle relist cheap.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from dataclasses import dataclass
from pathlib import Path

from inotify_simple import INotify, flags  # type: ignore[import-untyped]

from bootstrap.constants import MAX_MANIFEST_BYTES
from bootstrap.reconciler import defaulting, model
from bootstrap.reconciler.errors import InvalidManifestError
from bootstrap.reconciler.events import Recorder
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.sources import OnSet

_log = logging.getLogger(LOGGER)
_MASK = (
    flags.CREATE
    | flags.MODIFY
    | flags.CLOSE_WRITE
    | flags.ATTRIB
    | flags.DELETE
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.DELETE_SELF
    | flags.MOVE_SELF
)
MISSING_RETRY = 1.0  # seconds between attempts to watch a path that does not exist yet


@dataclass
class _Parsed:
    data: bytes
    pod: model.StaticPod | None
    error: str | None


def read_manifest(path: Path) -> bytes:
    """The file's bytes; InvalidManifestError if it is larger than the kubelet's 10 MiB limit."""
    with path.open("rb") as handle:
        data = handle.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidManifestError(f"larger than {MAX_MANIFEST_BYTES} bytes")
    return data


class FileSource:
    name = model.SOURCE_FILE

    def __init__(self, path: Path, *, node_name: str, period: float, on_set: OnSet, recorder: Recorder) -> None:
        self.path = Path(str(path).rstrip("/") or "/")
        self.node_name = node_name
        self.period = period
        self._on_set = on_set
        self._recorder = recorder
        self._store: dict[str, model.StaticPod] = {}
        self._cache: dict[str, _Parsed] = {}
        self._reported: dict[str, str] = {}  # file -> the error last reported for it
        self._stop = threading.Event()
        self._rfd, self._wfd = os.pipe()
        self._thread = threading.Thread(target=self._run, name="source-file", daemon=True)
        self._notify: INotify | None = None
        self._watching: Path | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wfd, b"x")
        self._thread.join(5)
        for fd in (self._rfd, self._wfd):
            os.close(fd)

    # --- the loop ---------------------------------------------------------------------------------------------
    def _run(self) -> None:
        self._notify = INotify()
        try:
            self._watch()
            self._relist()
            poller = select.poll()
            poller.register(self._notify.fileno(), select.POLLIN)
            poller.register(self._rfd, select.POLLIN)
            next_relist = _now() + self.period
            while not self._stop.is_set():
                wait = next_relist - _now()
                if self._watching is None:
                    wait = min(wait, MISSING_RETRY)
                ready = poller.poll(max(0.0, wait) * 1000)
                if self._stop.is_set():
                    return
                if self._watching is None and self._watch():
                    self._relist()  # the path appeared
                if any(fd == self._notify.fileno() for fd, _ in ready):
                    self._on_inotify()
                if _now() >= next_relist:
                    self._relist()
                    next_relist = _now() + self.period
        except Exception:
            _log.exception("file source failed", extra={"kbs": {"path": str(self.path)}})
        finally:
            self._notify.close()

    def _watch(self) -> bool:
        """Watch the directory (or the single file's directory); False while the path does not exist."""
        assert self._notify is not None
        target = self.path if self.path.is_dir() else self.path.parent if self.path.is_file() else None
        if target is None:
            self._watching = None
            return False
        try:
            self._notify.add_watch(str(target), _MASK)
        except OSError as exc:
            log(
                _log,
                logging.WARNING,
                "Cannot watch the manifest path, relying on the periodic relist",
                path=str(target),
                error=exc.strerror,
            )
            self._watching = None
            return False
        self._watching = target
        return True

    def _on_inotify(self) -> None:
        assert self._notify is not None
        changed: set[str] = set()
        rewatch = False
        for event in self._notify.read(timeout=0):
            if event.mask & (flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED):
                rewatch = True
                continue
            if not event.name or event.name.startswith("."):
                continue
            if (self.path.is_file() or self._watching != self.path) and event.name != self.path.name:
                continue
            changed.add(event.name)
        if rewatch:
            self._watching = None
            self._store.clear()
            self._push()
            return
        if not changed:
            return
        for name in sorted(changed):
            file = self._watching / name if self._watching else self.path / name
            parsed = self._parse(file)
            if parsed is None:  # gone, or not a regular file any more
                self._store.pop(str(file), None)
            elif parsed.pod is not None:
                self._store[str(file)] = parsed.pod
            # invalid on an inotify change: keep the previous pod until the next relist (kubelet behaviour)
        self._push()

    # --- reading ----------------------------------------------------------------------------------------------
    def _files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        try:
            names = sorted(n for n in os.listdir(self.path) if not n.startswith("."))
        except FileNotFoundError:
            log(_log, logging.INFO, "Manifest path does not exist, ignoring", path=str(self.path))
            return []
        except OSError as exc:
            log(_log, logging.WARNING, "Cannot read the manifest directory", path=str(self.path), error=exc.strerror)
            return []
        return [self.path / n for n in names]

    def _relist(self) -> None:
        store: dict[str, model.StaticPod] = {}
        for file in self._files():
            parsed = self._parse(file)
            if parsed is not None and parsed.pod is not None:
                store[str(file)] = parsed.pod
        for gone in set(self._cache) - {str(f) for f in self._files()}:
            self._cache.pop(gone, None)
            self._reported.pop(gone, None)
        self._store = store
        self._push()

    def _parse(self, file: Path) -> _Parsed | None:
        key = str(file)
        try:
            info = file.stat()  # follows symlinks
        except FileNotFoundError:
            self._cache.pop(key, None)
            self._reported.pop(key, None)
            return None
        except OSError as exc:
            self._report(key, f"cannot stat: {exc.strerror}")
            return None
        if file.is_dir():
            if self._reported.get(key) != "directory":
                log(
                    _log,
                    logging.INFO,
                    "Provided manifest path is a directory, not recursing into manifest path",
                    path=key,
                )
                self._reported[key] = "directory"
            return None
        if not file.is_file():
            self._report(key, "not a regular file")
            return None
        del info
        try:
            data = read_manifest(file)
        except FileNotFoundError:
            return None
        except InvalidManifestError as exc:
            self._report(key, exc.message)
            return _Parsed(b"", None, exc.message)
        except OSError as exc:
            self._report(key, f"cannot read: {exc.strerror}")
            return _Parsed(b"", None, exc.strerror)
        cached = self._cache.get(key)
        if cached is not None and cached.data == data:
            return cached
        try:
            pod = defaulting.pods_from_bytes(data, node_name=self.node_name, source=model.SOURCE_FILE, origin=key)
            parsed = _Parsed(data, pod, None)
            self._reported.pop(key, None)
        except InvalidManifestError as exc:
            parsed = _Parsed(data, None, exc.message)
            self._report(key, exc.message)
        except Exception as exc:
            parsed = _Parsed(data, None, str(exc))
            self._report(key, f"cannot process: {exc}")
        self._cache[key] = parsed
        return parsed

    def _report(self, file: str, error: str) -> None:
        if self._reported.get(file) == error:
            return  # already said; repeating it every relist is noise
        self._reported[file] = error
        self._recorder.event(
            "Warning",
            "FailedValidation",
            f"Could not process manifest file {file}: {error}",
            origin=file,
        )

    def _push(self) -> None:
        by_name: dict[str, tuple[str, model.StaticPod]] = {}
        for file in sorted(self._store):
            pod = self._store[file]
            other = by_name.get(pod.full_name)
            if other is not None:
                self._report(
                    other[0], f"duplicate pod name {pod.name!r} (also in {file}, which wins), ignoring this file"
                )
            by_name[pod.full_name] = (file, pod)
        self._on_set(self.name, [pod for _, pod in by_name.values()])


def _now() -> float:
    import time

    return time.monotonic()
