"""The URL source (--manifest-url): a GET every httpCheckFrequency (20 s), the first one at once.

Kubelet rules: the configured headers are sent; 10 s timeout; at most 10 MiB are read. The body is one v1 Pod or a
PodList (YAML or JSON). On any error (transport, non-200, a body that does not parse or holds an invalid pod) no
update is sent and the pods of the last good fetch keep running; the first three failures are logged, then one
"Dropping verbosity" line and the rest at debug level. An empty 200 body removes every URL pod. A body equal to
the previous one (even a broken one) is not processed again. URL pods carry no NoExecute toleration and their
UID hashes only `url:<url>`.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request

from bootstrap.constants import HTTP_SOURCE_TIMEOUT, MAX_MANIFEST_BYTES
from bootstrap.reconciler import defaulting, model
from bootstrap.reconciler.errors import InvalidManifestError
from bootstrap.reconciler.events import Recorder
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.sources import OnSet

_log = logging.getLogger(LOGGER)
LOUD_FAILURES = 3


def parse_body(data: bytes, *, url: str, node_name: str) -> list[model.StaticPod]:
    """The pods in a URL body (a Pod or a PodList); InvalidManifestError if any of them is not valid."""
    doc = defaulting.decode_document(data)
    if isinstance(doc, dict) and doc.get("kind") == "PodList":
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise InvalidManifestError("PodList items must be a list")
        pods: list[model.StaticPod] = []
        for i, raw in enumerate(items):
            item = {"apiVersion": "v1", "kind": "Pod", **raw} if isinstance(raw, dict) else raw
            try:
                pods.append(
                    defaulting.static_pod_from_document(item, node_name=node_name, source=model.SOURCE_HTTP, origin=url)
                )
            except InvalidManifestError as exc:
                raise InvalidManifestError(f"items[{i}]: {exc.message}") from None
        return pods
    return [defaulting.static_pod_from_document(doc, node_name=node_name, source=model.SOURCE_HTTP, origin=url)]


class URLSource:
    name = model.SOURCE_HTTP

    def __init__(
        self,
        url: str,
        *,
        headers: tuple[tuple[str, str], ...],
        node_name: str,
        period: float,
        on_set: OnSet,
        recorder: Recorder,
    ) -> None:
        self.url = url
        self.headers = headers
        self.node_name = node_name
        self.period = period
        self._on_set = on_set
        self._recorder = recorder
        self._last: bytes | None = None
        self._failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="source-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(HTTP_SOURCE_TIMEOUT + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.fetch_once()
            except Exception:
                _log.exception("URL source failed", extra={"kbs": {"url": self.url}})
            if self._stop.wait(self.period):
                return

    def fetch_once(self) -> None:
        try:
            data = self._get()
        except (OSError, InvalidManifestError) as exc:
            self._failed(str(getattr(exc, "message", None) or getattr(exc, "reason", None) or exc))
            return
        if self._failures:
            log(_log, logging.INFO, "Successfully read pods from URL", url=self.url)
            self._failures = 0
        if data == self._last:
            return
        self._last = data  # set before parsing: a broken body is not re-parsed until it changes (kubelet)
        if not data:
            log(_log, logging.INFO, "zero-length data received, removing all pods from the URL", url=self.url)
            self._on_set(self.name, [])
            return
        try:
            pods = parse_body(data, url=self.url, node_name=self.node_name)
        except InvalidManifestError as exc:
            self._recorder.event(
                "Warning",
                "FailedValidation",
                f"Could not process manifest URL {self.url}: {exc.message}",
                origin=self.url,
            )
            return
        except Exception as exc:
            self._recorder.event(
                "Warning", "FailedValidation", f"Could not process manifest URL {self.url}: {exc}", origin=self.url
            )
            return
        unique: dict[str, model.StaticPod] = {}
        for pod in pods:
            if pod.full_name in unique:
                self._recorder.event(
                    "Warning",
                    "FailedValidation",
                    f"Error validating pod {pod.full_name} from http due to duplicate pod name {pod.name!r}, ignoring",
                    origin=self.url,
                )
                continue
            unique[pod.full_name] = pod
        self._on_set(self.name, list(unique.values()))

    def _get(self) -> bytes:
        request = urllib.request.Request(self.url, method="GET")
        merged: dict[str, list[str]] = {}
        for name, value in self.headers:
            merged.setdefault(name, []).append(value)
        for name, values in merged.items():
            request.add_header(name, ", ".join(values))  # repeated names: one field, values in order (RFC 9110)
        with urllib.request.urlopen(request, timeout=HTTP_SOURCE_TIMEOUT) as response:
            if response.status != 200:
                raise InvalidManifestError(f"{self.url}: {response.status} {response.reason}")
            data: bytes = response.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise InvalidManifestError(f"{self.url}: body larger than {MAX_MANIFEST_BYTES} bytes")
        return data

    def _failed(self, error: str) -> None:
        self._failures += 1
        if self._failures <= LOUD_FAILURES:
            log(_log, logging.WARNING, "Failed to read pods from URL", url=self.url, error=error)
            if self._failures == LOUD_FAILURES:
                log(_log, logging.INFO, "Dropping verbosity of this message to debug", url=self.url)
        else:
            log(_log, logging.DEBUG, "Failed to read pods from URL", url=self.url, error=error)
