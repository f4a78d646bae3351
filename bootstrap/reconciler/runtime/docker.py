"""DockerRuntime: the Runtime protocol over the Docker Engine API (docker SDK's low-level APIClient).

The one module that imports `docker`. Every SDK or transport exception is translated here: an engine that does
not answer becomes RuntimeUnavailableError (retry later), anything else a RuntimeOperationError whose `reason` is
the kubelet's waiting reason (ErrImagePull, CreateContainerError, RunContainerError).

API version 1.41 is pinned (Docker 20.10; newer engines still accept it), so no handshake is needed and the
reconciler can start before the engine does. `inspect` results are cached per (container, state): a container's
start and finish times do not change while its state does not, so an idle relist costs one list call.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import docker.utils
import requests.exceptions
from docker.types import LogConfig

from bootstrap.constants import CONTAINER_LOG_MAX_FILES, CONTAINER_LOG_MAX_SIZE, RECONCILER_LABEL
from bootstrap.errors import RuntimeUnavailableError
from bootstrap.reconciler.errors import ContainerGoneError, ImagePullError, RuntimeOperationError
from bootstrap.reconciler.runtime import ContainerRecord, CreateSpec, ExecResult, RuntimeEvent, privileged
from bootstrap.reconciler.status import parse_time

API_VERSION = "1.41"
_T = TypeVar("_T")
_WATCHED = frozenset({"die", "oom", "destroy"})  # what a pod worker must react to; its own creates and starts are not
_CAP_SYS_RESOURCE = 24


def can_lower_oom_score() -> bool:
    """Whether this host lets root set negative OOM scores (CAP_SYS_RESOURCE; missing in some sandboxes)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_SYS_RESOURCE & 1)
    except (OSError, ValueError):
        pass
    return True


def record_from_inspect(data: dict[str, Any]) -> ContainerRecord:
    state = data.get("State") or {}
    config = data.get("Config") or {}
    network = data.get("NetworkSettings") or {}
    ip = network.get("IPAddress") or next(
        (n.get("IPAddress") for n in (network.get("Networks") or {}).values() if n.get("IPAddress")), None
    )
    status = state.get("Status", "unknown")
    return ContainerRecord(
        id=data["Id"],
        name=str(data.get("Name", "")).lstrip("/"),
        labels=config.get("Labels") or {},
        state=status,
        image=config.get("Image", ""),
        image_id=data.get("Image", ""),
        exit_code=state.get("ExitCode") if status in ("exited", "dead", "created") else None,
        created_at=parse_time(data.get("Created")),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        oom_killed=bool(state.get("OOMKilled")),
        error=state.get("Error") or "",
        ip=ip or None,
    )


class DockerRuntime:
    """The Runtime protocol on a Docker engine; `instance` scopes it to one reconciler's containers."""

    def __init__(self, instance: str, base_url: str | None = None, *, timeout: int = 60) -> None:
        self.instance = instance
        self._base_url = base_url
        self._timeout = timeout
        self._api: docker.APIClient | None = None
        self._cache: dict[str, tuple[str, ContainerRecord]] = {}
        self._lock = threading.Lock()
        self._watch_stream: Any = None
        self.unknown_capabilities: set[str] = set()  # capabilities this engine has no name for (runtime.privileged)
        local = base_url is None or base_url.startswith("unix://")
        # runc fails to start a container with a negative OOM score where it may not set one; the kubelet has
        # the same problem in such sandboxes. Containers then keep the default score instead of failing.
        self.negative_oom_score = can_lower_oom_score() if local else True

    @functools.cached_property
    def privileged_mode(self) -> privileged.Privileged:
        """How a privileged container is granted on this engine, found once (see runtime.privileged)."""
        return privileged.detect(self._base_url)

    # --- plumbing -------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str | None:
        return self._base_url

    @property
    def where(self) -> str:
        return self._base_url or "the default socket ($DOCKER_HOST or unix:///var/run/docker.sock)"

    def _client(self, timeout: int | None) -> docker.APIClient:
        """A client; `timeout` None for streams that may stay silent for hours (events, logs -f)."""
        kwargs: dict[str, Any] = dict(docker.utils.kwargs_from_env())
        if self._base_url:
            kwargs = {"base_url": self._base_url}
        kwargs.update(version=API_VERSION, max_pool_size=64, timeout=timeout)
        return docker.APIClient(**kwargs)

    @property
    def api(self) -> docker.APIClient:
        with self._lock:
            if self._api is None:
                try:
                    self._api = self._client(self._timeout)
                except docker.errors.DockerException as exc:
                    raise self._unavailable(exc) from exc
            return self._api

    def _unavailable(self, exc: BaseException) -> RuntimeUnavailableError:
        return RuntimeUnavailableError(
            f"cannot reach the Docker engine at {self.where}: {exc}",
            hint="start Docker (`systemctl start docker`) or pass --docker-host",
        )

    def _call(self, what: str, fn: Callable[[], _T], *, reason: str = "CreateContainerError") -> _T:
        try:
            return fn()
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise self._unavailable(exc) from exc
        except docker.errors.NotFound as exc:
            raise ContainerGoneError(f"{what}: {_explain(exc)}") from exc
        except docker.errors.APIError as exc:
            if exc.status_code in (502, 503):
                raise self._unavailable(exc) from exc
            raise RuntimeOperationError(f"{what}: {_explain(exc)}", reason=reason) from exc
        except docker.errors.DockerException as exc:
            raise self._unavailable(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise self._unavailable(exc) from exc

    # --- Runtime protocol -------------------------------------------------------------------------------------
    def ping(self) -> str:
        version = self._call("docker version", self.api.version)
        return str(version.get("Version", "unknown"))

    def list(self, pod_uid: str | None = None) -> list[ContainerRecord]:
        # "*" (the read-only `kbs ps` / `kbs logs`) lists the containers of every reconciler instance.
        labels = [RECONCILER_LABEL if self.instance == "*" else f"{RECONCILER_LABEL}={self.instance}"]
        if pod_uid:
            labels.append(f"io.kubernetes.pod.uid={pod_uid}")
        rows = self._call("list containers", lambda: self.api.containers(all=True, filters={"label": labels}))
        out = []
        seen = set()
        for row in rows:
            cid, state = row["Id"], row.get("State", "")
            seen.add(cid)
            cached = self._cache.get(cid)
            # The list view lags behind a container's exit (Docker emits "die" before its list replica is
            # updated), so a pod's own sync re-inspects running containers; inspect waits for the exit to land.
            fresh = pod_uid is not None and state == "running"
            if cached is not None and cached[0] == state and not fresh:
                out.append(cached[1])
                continue
            record = self.inspect(cid)
            if record is not None:
                out.append(record)
        if pod_uid is None:  # a full list tells which cached containers are gone
            for cid in list(self._cache):
                if cid not in seen:
                    self._cache.pop(cid, None)
        return out

    def inspect(self, container_id: str) -> ContainerRecord | None:
        try:
            data = self._call("inspect container", lambda: self.api.inspect_container(container_id))
        except ContainerGoneError:
            self._cache.pop(container_id, None)
            return None
        record = record_from_inspect(data)
        if record.state not in ("removing", "restarting"):
            self._cache[record.id] = (record.state, record)
        return record

    def image_present(self, image: str) -> bool:
        try:
            self._call("inspect image", lambda: self.api.inspect_image(image))  # type: ignore[no-untyped-call]
        except ContainerGoneError:
            return False
        return True

    def image_id(self, image: str) -> str:
        try:
            data = self._call("inspect image", lambda: self.api.inspect_image(image))  # type: ignore[no-untyped-call]
        except ContainerGoneError:
            return ""
        digests = data.get("RepoDigests") or []
        return f"docker-pullable://{digests[0]}" if digests else f"docker://{data.get('Id', '')}"

    def pull(self, image: str) -> None:
        repo, tag = docker.utils.parse_repository_tag(image)
        try:
            self._call("pull", lambda: self.api.pull(repo, tag=tag or "latest"), reason="ErrImagePull")
        except RuntimeOperationError as exc:
            raise ImagePullError(f"failed to pull image {image!r}: {exc.message.removeprefix('pull: ')}") from exc

    def create(self, spec: CreateSpec) -> str:
        api = self.api
        ports: dict[int | str, Any] = {}
        for container_port, protocol, host_port, host_ip in spec.port_bindings:
            ports.setdefault(f"{container_port}/{protocol.lower()}", []).append((host_ip or "", host_port))
        binds = [f"{m.source}:{m.target}{':ro' if m.read_only else ''}" for m in spec.mounts]
        security: dict[str, Any] = {"privileged": False, "binds": binds, "cap_add": list(spec.cap_add)}
        security["security_opt"] = list(spec.security_opt)
        if spec.privileged:  # Docker's privileged mode where the engine can grant it, else containerd's way
            security = privileged.host_config(
                self.privileged_mode,
                binds=binds,
                cap_add=list(spec.cap_add),
                security_opt=list(spec.security_opt),
                unknown=self.unknown_capabilities,
            )
        host_config = api.create_host_config(
            binds=security["binds"] or None,
            tmpfs=dict(spec.tmpfs) or None,
            network_mode=spec.network_mode,
            ipc_mode=spec.ipc_mode,
            pid_mode=spec.pid_mode,
            uts_mode=spec.uts_mode,
            dns=list(spec.dns) or None,
            dns_search=list(spec.dns_search) or None,
            dns_opt=list(spec.dns_options) or None,
            extra_hosts=list(spec.extra_hosts) or None,
            port_bindings=ports or None,
            privileged=security["privileged"],
            cap_add=security["cap_add"] or None,
            cap_drop=security.get("cap_drop", list(spec.cap_drop)) or None,
            read_only=spec.read_only_rootfs or None,
            security_opt=security["security_opt"] or None,
            devices=security.get("devices") or None,
            device_cgroup_rules=security.get("device_cgroup_rules") or None,
            group_add=list(spec.group_add) or None,
            cpu_shares=spec.cpu_shares,
            cpu_quota=spec.cpu_quota,
            cpu_period=spec.cpu_period,
            mem_limit=spec.memory,
            oom_score_adj=spec.oom_score_adj if self.negative_oom_score or (spec.oom_score_adj or 0) >= 0 else None,
            sysctls=dict(spec.sysctls) or None,
            restart_policy={"Name": "no"},  # the reconciler restarts, never Docker
            log_config=LogConfig(
                type="json-file", config={"max-size": CONTAINER_LOG_MAX_SIZE, "max-file": CONTAINER_LOG_MAX_FILES}
            ),
        )
        if security.get("unmasked"):
            host_config.update(MaskedPaths=[], ReadonlyPaths=[])
        exposed = [(p, proto.lower()) for p, proto, _, _ in spec.port_bindings] or None

        def create(name: str) -> str:
            while True:
                try:
                    return create_once(name)
                except docker.errors.APIError as exc:
                    # An engine older than the kernel rejects capabilities it has no name for (Docker 20.10:
                    # CAP_BPF, CAP_PERFMON): it cannot grant them anyway, so ask again without them.
                    unknown = privileged.unknown_capability(_explain(exc))
                    caps = host_config.get("CapAdd") or []
                    if not unknown or privileged.DOCKER_PREFIX + unknown not in caps:
                        raise
                    self.unknown_capabilities.add(unknown)
                    host_config["CapAdd"] = [c for c in caps if c != privileged.DOCKER_PREFIX + unknown]

        def create_once(name: str) -> str:
            created = api.create_container(
                spec.image,
                command=list(spec.cmd) if spec.cmd is not None else None,
                entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
                environment=list(spec.env) or None,
                working_dir=spec.working_dir,
                labels=dict(spec.labels),
                name=name,
                host_config=host_config,
                hostname=spec.hostname,
                user=spec.user,
                ports=exposed,
                stdin_open=spec.stdin,
                tty=spec.tty,
                healthcheck={"Test": ["NONE"]},
            )
            return str(created["Id"])

        try:
            return self._call(f"create container {spec.name}", lambda: create(spec.name))
        except RuntimeOperationError as exc:
            if "Conflict" not in exc.message and "already in use" not in exc.message:
                raise
        # Name taken (a leftover of an interrupted run): cri-dockerd's answer is a random suffix.
        return self._call(f"create container {spec.name}", lambda: create(f"{spec.name}_{secrets.token_hex(4)}"))

    def start(self, container_id: str) -> None:
        self._call("start container", lambda: self.api.start(container_id), reason="RunContainerError")

    def stop(self, container_id: str, timeout: int) -> None:
        with contextlib.suppress(ContainerGoneError):
            self._call("stop container", lambda: self.api.stop(container_id, timeout=timeout))

    def remove(self, container_id: str) -> None:
        try:
            self._call("remove container", lambda: self.api.remove_container(container_id, force=True, v=True))
        except ContainerGoneError:
            pass
        except RuntimeOperationError as exc:
            if "already in progress" not in exc.message:
                raise
        self._cache.pop(container_id, None)

    def exec(self, container_id: str, command: tuple[str, ...], timeout: float) -> ExecResult:
        api = self.api
        exec_id = self._call("exec", lambda: api.exec_create(container_id, list(command))["Id"])
        result: dict[str, bytes] = {}

        def run() -> None:
            with contextlib.suppress(Exception):
                result["out"] = api.exec_start(exec_id)

        worker = threading.Thread(target=run, name="kbs-exec", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            return ExecResult(exit_code=None, output=b"command timed out")
        info = self._call("exec inspect", lambda: api.exec_inspect(exec_id))
        return ExecResult(exit_code=info.get("ExitCode"), output=result.get("out", b""))

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, timestamps: bool = False
    ) -> Iterator[bytes]:
        api = self._client(None) if follow else self.api
        stream = self._call(
            "logs",
            lambda: api.logs(
                container_id,
                stream=True,
                follow=follow,
                tail=tail if tail is not None else "all",
                timestamps=timestamps,
            ),
        )
        return _LogStream(stream, api if follow else None, self._unavailable)

    def watch(self, stop: threading.Event) -> Iterator[RuntimeEvent]:
        try:
            api = self._client(None)
            stream = api.events(
                decode=True, filters={"type": "container", "label": [f"{RECONCILER_LABEL}={self.instance}"]}
            )
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise self._unavailable(exc) from exc
        self._watch_stream = stream
        try:
            yield RuntimeEvent("resync")
            for item in stream:
                if stop.is_set():
                    return
                action = str(item.get("Action") or item.get("status") or "").split(":")[0]
                if action not in _WATCHED:
                    continue
                actor = item.get("Actor") or {}
                yield RuntimeEvent(action, str(actor.get("ID") or item.get("id") or ""), actor.get("Attributes") or {})
        except (requests.exceptions.RequestException, docker.errors.DockerException, OSError, ValueError) as exc:
            if not stop.is_set():
                raise self._unavailable(exc) from exc
        finally:
            self._watch_stream = None
            with contextlib.suppress(Exception):
                stream.close()
            with contextlib.suppress(Exception):
                api.close()

    def interrupt_watch(self) -> None:
        stream = self._watch_stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    def close(self) -> None:
        self.interrupt_watch()
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api = None


class _LogStream(Iterator[bytes]):
    """A container's log as an iterator whose `close()` may be called from another thread: it ends a `follow`
    read that is waiting for the next line (the reader's client went away)."""

    def __init__(self, stream: Any, own_api: Any, unavailable: Callable[[BaseException], Exception]) -> None:
        self._stream = stream
        self._chunks = iter(stream)
        self._own_api = own_api
        self._unavailable = unavailable
        self._closed = False

    def __next__(self) -> bytes:
        try:
            return bytes(next(self._chunks))
        except StopIteration:
            self.close()
            raise
        except (requests.exceptions.RequestException, OSError, AttributeError, ValueError) as exc:
            if self._closed:
                raise StopIteration from None
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            self._stream.close()
        if self._own_api is not None:
            with contextlib.suppress(Exception):
                self._own_api.close()


def _explain(exc: docker.errors.APIError | docker.errors.NotFound) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()
