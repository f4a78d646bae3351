"""The one "poll until" helper of the tests and benchmarks (never a timed assertion: the timeout only ends a wait).

pod = wait_until("the pod to run", lambda: bed.status("web") or None, timeout=60)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(what: str, check: Callable[[], T | None], timeout: float = 180.0, interval: float = 0.5) -> T:
    """Poll `check` until it returns something truthy and return that; AssertionError naming `what` after `timeout`.

    A check that raises (a command failing while things come up) counts as "not yet"; the last answer or error
    is in the message.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
