"""Config sources: each turns the outside world into the complete set of pods it wants (the kubelet's shape).

    file.FileSource   the manifest directory (or one file): inotify for changes, a full relist every 20 s
    url.URLSource     --manifest-url: GET every 20 s, a Pod or a PodList; errors keep the last good set

A source calls `on_set(source_name, pods)` with its whole current set every time something may have changed
(the reconciler diffs it against the previous set: new UIDs start, missing UIDs stop). The first call marks the
source as read once; only then may the reconciler remove containers whose pod it does not know. Invalid input is
reported through the Recorder (a log line and a FailedValidation event) and never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bootstrap.reconciler.model import StaticPod

OnSet = Callable[[str, list[StaticPod]], None]


class Source(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...
