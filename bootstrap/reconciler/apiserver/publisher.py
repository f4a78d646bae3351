"""The Publisher: the reconciler's listener that makes its static pods visible in the API server.

    p = Publisher(reconciler, ApiServerSettings(kubeconfig=Path("/etc/kubernetes/kubelet.conf")))
    p.start()      # registers itself as the reconciler's listener, replays recent events, starts its threads
    p.stop()       # threads end; nothing on the node or in the API server is touched

Threads: `publisher` (everything that writes: node, lease, mirror pods, statuses, events), `pod-watch` (lists
then watches the pods bound to this node and hands what it sees to the publisher thread) and the read API's
server. The listener callbacks only put items on a queue, so the reconciler never waits for the API server.

While the API server does not answer, both threads retry quietly (one log line when it goes, one when it is
back) every 0.1 s growing to 1 s; events and statuses wait in memory and go out when it answers again. Nothing
on the node is restarted: the static pods are the reconciler's business, the publisher only reports them.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import yaml

from bootstrap import constants
from bootstrap.errors import APIServerError, KbsError
from bootstrap.reconciler.apiserver.client import GoneError, HTTPNodeAPI, NodeAPI, current_cluster, unreachable
from bootstrap.reconciler.apiserver.desired import DesiredPods
from bootstrap.reconciler.apiserver.eventsink import EventSender
from bootstrap.reconciler.apiserver.heartbeat import Heartbeat
from bootstrap.reconciler.apiserver.mirrorsync import MirrorSync, Rejection
from bootstrap.reconciler.apiserver.settings import ApiServerSettings
from bootstrap.reconciler.events import Event, Recorder
from bootstrap.reconciler.logfmt import LOGGER, log
from bootstrap.reconciler.runtime import Runtime
from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import PodStatus

_log = logging.getLogger(LOGGER)
FULL_RESYNC = 10.0  # seconds: every mirror is looked at again this often, whatever the watch said


class Host(Protocol):
    """What the publisher needs from the reconciler (bootstrap.reconciler.manager.Reconciler has it all)."""

    settings: Settings
    node_ip: str
    runtime: Runtime
    recorder: Recorder

    def statuses(self) -> list[PodStatus]: ...

    def healthy(self) -> bool: ...

    def wait_synced(self, timeout: float | None = None) -> bool: ...


class Publisher:
    def __init__(self, host: Host, settings: ApiServerSettings, *, api: NodeAPI | None = None) -> None:
        self.host = host
        self.settings = settings
        self.node_name = host.settings.node_name
        self.api: NodeAPI = (
            api if api is not None else HTTPNodeAPI(settings.kubeconfig, timeout=settings.request_timeout)
        )
        self.desired = DesiredPods()
        self._inbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._stop = threading.Event()
        self.events = EventSender(self.api, self.node_name)
        self.mirrors = MirrorSync(self.api, self.node_name, self.desired, self.events.add)
        self.heartbeat = Heartbeat(
            self.api,
            node_name=self.node_name,
            node_ip=host.node_ip,
            port=settings.read_api_port or 0,
            runtime=host.runtime,
            healthy=host.healthy,
            state_dir=host.settings.state_dir,
        )
        self.connected = threading.Event()  # set while the API server answers
        self._down_logged = False
        self._last_error = ""
        self._next_full = 0.0
        self._threads: list[threading.Thread] = []
        self._read_api: Any = None

    # --- Listener (called on reconciler threads: never block) ---------------------------------------------
    def on_event(self, event: Event) -> None:
        self._inbox.put(("event", event))

    def on_pod_status(self, status: PodStatus) -> None:
        self._inbox.put(("status", status))

    def on_pod_removed(self, status: PodStatus) -> None:
        self._inbox.put(("removed", status))

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        recorder = self.host.recorder
        recorder.add_listener(self)
        for status in self.host.statuses():
            self.desired.update(status)
        for event in recorder.recent():  # what happened before we listened (duplicates are dropped)
            self._inbox.put(("event", event))
        self._start_read_api()
        for name, target in (("publisher", self._run), ("pod-watch", self._watch)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log(
            _log,
            logging.INFO,
            "Publishing to the API server",
            node=self.node_name,
            kubeconfig=str(self.settings.kubeconfig),
        )

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.host.recorder.remove_listener(self)
        self._inbox.put(("wake",))
        if self._read_api is not None:
            self._read_api.stop()
        self.api.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def read_api_port(self) -> int | None:
        return None if self._read_api is None else int(self._read_api.port)

    def rejections(self) -> dict[str, Rejection]:
        """Static pods whose mirror the API server refused, by full name (they still run on the node)."""
        return dict(self.mirrors.rejections)

    # --- the publisher thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        delay = constants.API_SERVER_POLL_INTERVAL
        timeout: float | None = 0.0
        while not self._stop.is_set():
            self._drain(timeout)
            if self._stop.is_set():
                return
            try:
                self._pass()
            except APIServerError as exc:
                if self._stop.is_set():
                    return
                if not unreachable(exc):
                    if exc.message != self._last_error:
                        log(_log, logging.WARNING, "API server request failed", error=exc.message, hint=exc.hint)
                    self._last_error = exc.message
                    timeout = constants.API_SERVER_RETRY_MAX
                    continue
                self._went_down(exc)
                timeout = delay
                delay = min(delay * 2, constants.API_SERVER_RETRY_MAX)
                continue
            except Exception:
                if self._stop.is_set():
                    return  # stop() closed the client under a request
                _log.exception("the API-server publisher failed; retrying")
                timeout = constants.API_SERVER_RETRY_MAX
                continue
            delay = constants.API_SERVER_POLL_INTERVAL
            self._last_error = ""
            timeout = self._next_wakeup()

    def _pass(self) -> None:
        if self.heartbeat.node_uid is None:
            self.mirrors.node_uid = self.heartbeat.register()
            self.mirrors.touch_all()
        self._came_up()
        now = time.monotonic()
        if now >= self._next_full:
            self._next_full = now + FULL_RESYNC
            self.mirrors.touch_all()
        self.mirrors.sync(may_delete_orphans=self.host.wait_synced(0))
        self.events.flush()
        self.heartbeat.beat()
        if self.heartbeat.node_uid is None:  # the Node was deleted: register again right away
            self.mirrors.node_uid = None

    def _next_wakeup(self) -> float:
        now = time.monotonic()
        due = [self.heartbeat.next_due(), self._next_full]
        retry = self.mirrors.next_retry()
        if retry is not None:
            due.append(retry)
        if self.heartbeat.node_uid is None or not self.mirrors.listed:
            return constants.API_SERVER_POLL_INTERVAL
        return max(0.0, min(due) - now)

    def _drain(self, timeout: float | None) -> None:
        """Take everything queued; wait up to `timeout` for the first item, then a short batch window."""
        try:
            item = self._inbox.get(timeout=timeout) if timeout else self._inbox.get_nowait()
        except queue.Empty:
            return
        deadline = time.monotonic() + constants.MIRROR_STATUS_BATCH_DELAY if item[0] == "status" else 0.0
        while True:
            self._apply(item)
            try:
                left = deadline - time.monotonic()
                item = self._inbox.get(timeout=left) if left > 0 else self._inbox.get_nowait()
            except queue.Empty:
                return

    def _apply(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "event":
            self.events.add(item[1])
        elif kind == "status":
            self.desired.update(item[1])
            self.mirrors.touch(item[1].full_name)
        elif kind == "removed":
            self.desired.remove(item[1])
            self.mirrors.touch(item[1].full_name)
        elif kind == "pods":
            self.mirrors.snapshot(item[1])
        elif kind == "pod":
            self.mirrors.observe(item[1], item[2])

    def _went_down(self, exc: APIServerError) -> None:
        if self.connected.is_set() or not self._down_logged:
            log(
                _log,
                logging.WARNING,
                "The API server does not answer; the static pods keep running, will keep trying",
                error=exc.message,
            )
            self._down_logged = True
        self.connected.clear()

    def _came_up(self) -> None:
        if not self.connected.is_set():
            log(_log, logging.INFO, "The API server answers; publishing", node=self.node_name)
            self.connected.set()
            self._down_logged = False

    # --- the watch thread ---------------------------------------------------------------------------------------
    def _watch(self) -> None:
        delay = constants.API_SERVER_POLL_INTERVAL
        while not self._stop.is_set():
            try:
                pods, version = self.api.list_pods(self.node_name)
                self._inbox.put(("pods", pods))
                delay = constants.API_SERVER_POLL_INTERVAL
                while not self._stop.is_set():
                    for kind, obj in self.api.watch_pods(self.node_name, version, self._stop):
                        version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                        if kind in ("ADDED", "MODIFIED", "DELETED"):
                            self._inbox.put(("pod", kind, obj))
            except GoneError:
                continue
            except APIServerError as exc:
                if not unreachable(exc):
                    log(_log, logging.WARNING, "Cannot watch the pods of this node", error=exc.message)
                    delay = constants.API_SERVER_RETRY_MAX
                self._stop.wait(delay)
                delay = min(delay * 2, constants.API_SERVER_RETRY_MAX)
            except Exception:
                if self._stop.is_set():
                    return
                _log.exception("the pod watch failed; retrying")
                self._stop.wait(constants.API_SERVER_RETRY_MAX)

    # --- the read API -------------------------------------------------------------------------------------------
    def _start_read_api(self) -> None:
        port = self.settings.read_api_port
        if not port:
            return
        try:
            self._read_api = self._make_read_api(port)
        except KbsError as exc:
            log(_log, logging.ERROR, "The read API (kubectl logs) is off", error=exc.message, hint=exc.hint)
            return
        self._read_api.start()
        log(_log, logging.INFO, "Read API listening", address=self.settings.read_api_bind_address, port=port)

    def _make_read_api(self, port: int) -> Any:
        from bootstrap.reconciler.apiserver.server import Authorizer, ReadAPI

        settings = self.settings
        if settings.pki is not None:
            import pki

            result = pki.ensure_serving_certificate(settings.pki, settings.serving_cert, settings.serving_key)
            if result.detail:
                log(_log, logging.INFO, "Serving certificate", action=result.action.value, detail=result.detail)
        for path in (settings.serving_cert, settings.serving_key):
            if not path.is_file():
                raise KbsError(
                    f"the read API's serving certificate {path} is missing",
                    hint="issue it from the cluster CA (`kbs init` does) or pass the PKI to the reconciler",
                )
        client_ca = settings.client_ca.read_bytes() if settings.client_ca else kubeconfig_ca(settings.kubeconfig)
        return ReadAPI(
            address=settings.read_api_bind_address,
            port=port,
            cert=settings.serving_cert,
            key=settings.serving_key,
            client_ca=client_ca,
            authorizer=Authorizer(self.api, self.node_name),
            runtime=self.host.runtime,
            pod_status=self.desired.lookup,
            statuses=self.desired.all,
            streams=streams_backend(self.host.runtime),
            node_name=self.node_name,
        )


def streams_backend(runtime: Runtime) -> Any:
    """exec/attach/port-forward through the runtime's engine: Docker on a unix socket; None otherwise."""
    from bootstrap.reconciler.runtime.docker import DockerRuntime

    if not isinstance(runtime, DockerRuntime):
        return None
    from bootstrap.reconciler.runtime.streams import DockerStreams

    try:
        return DockerStreams.for_base_url(lambda: runtime.api, runtime.base_url)
    except ValueError as exc:
        log(_log, logging.WARNING, "exec, attach and port-forward are off", error=str(exc))
        return None


def kubeconfig_ca(kubeconfig: Path) -> bytes:
    """The cluster CA certificate a kubeconfig trusts (embedded or by path): the CA the API server's client
    certificates are signed by in a kubeadm cluster."""
    try:
        cluster = current_cluster(kubeconfig)
        if cluster.get("certificate-authority-data"):
            return base64.b64decode(cluster["certificate-authority-data"])
        path = Path(cluster["certificate-authority"])
        return (path if path.is_absolute() else kubeconfig.parent / path).read_bytes()
    except (OSError, ValueError, KeyError, TypeError, StopIteration, yaml.YAMLError) as exc:
        raise KbsError(
            f"cannot read the cluster CA from {kubeconfig}: {exc}",
            hint="set the read API's client CA explicitly (ApiServerSettings.client_ca)",
        ) from exc
