"""Structured logs for the reconciler: one line per event, `key=value` pairs (logfmt) or JSON.

    time=2026-11-23T18:40:01.123Z level=info msg="Container started" pod=kube-system/etcd-node1 container=etcd

Code logs through `log(logger, level, message, **fields)`; the fields travel in the record's `kbs` attribute, so
the standard logging machinery (levels, handlers, pytest's caplog) keeps working.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER = "kbs.reconciler"


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"kbs": {k: v for k, v in fields.items() if v is not None}})


def _quote(value: Any) -> str:
    text = str(value)
    if text and not any(ch in text for ch in ' "=\n\t\\'):
        return text
    return json.dumps(text)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        parts = [f"time={stamp}", f"level={record.levelname.lower()}", f"msg={_quote(record.getMessage())}"]
        for key, value in getattr(record, "kbs", {}).items():
            parts.append(f"{key}={_quote(value)}")
        if record.exc_info:
            parts.append(f"error={_quote(self.formatException(record.exc_info).splitlines()[-1])}")
        return " ".join(parts)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        body.update(
            {k: str(v) if not isinstance(v, int | float | bool) else v for k, v in getattr(record, "kbs", {}).items()}
        )
        if record.exc_info:
            body["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(body)


def setup_logging(fmt: str = "text", level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the reconciler's logs to `stream` (stderr) in `fmt` ("text" = logfmt, or "json")."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else LogfmtFormatter())
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
