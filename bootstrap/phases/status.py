"""`kbs status`'s facts: each component's health, version, restarts and uptime; certificate expiry; the reconciler.

Not an init phase, but the read side of the same checks: health comes from bootstrap.phases.health (the probes
wait-control-plane uses), restarts and start times from the reconciler's per-pod status files (no Docker needed)
or, when those are missing, from the containers' Docker labels; under --reconciler kubelet, from the mirror pods the
kubelet publishes. Versions are the image tags the manifests name.
Everything is gathered into plain dataclasses so the CLI can print a table or JSON.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bootstrap import constants
from bootstrap.phases import health, supervise

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

EXPIRY_WARNING_DAYS = 30


@dataclass
class ComponentStatus:
    name: str
    healthy: bool
    health: str  # the probe's answer
    version: str | None  # the image tag in the manifest
    restarts: int | None
    started_at: str | None  # RFC 3339
    uptime_seconds: int | None
    manifest: str | None


@dataclass
class CertStatus:
    name: str
    path: str
    expires: str
    days_left: int
    ca: bool


@dataclass
class Status:
    node: str
    reconciler_mode: str
    reconciler_running: bool | None  # None: not kbs's business (kubelet / none)
    reconciler_detail: str
    components: list[ComponentStatus] = field(default_factory=list)
    certificates: list[CertStatus] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["healthy"] = self.healthy
        return body


def _image_tag(manifest: Path) -> str | None:
    with contextlib.suppress(OSError, yaml.YAMLError, KeyError, IndexError, TypeError, AttributeError):
        pod = yaml.safe_load(manifest.read_text())
        image = str(pod["spec"]["containers"][0]["image"])
        return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
    return None


def _mirror_pod_facts(cfg: KbsConfig) -> dict[str, tuple[int, datetime | None]]:
    """component -> (restarts, started_at) from the mirror pods the installed kubelet publishes (--reconciler
    kubelet: the kubelet's own state is not kbs's to read), through admin.conf; {} while the API server is down."""
    from bootstrap.errors import APIServerError
    from bootstrap.kube.api import LightkubeAPI
    from bootstrap.reconciler.status import parse_time

    pods = _pod_names(cfg)
    facts: dict[str, tuple[int, datetime | None]] = {}
    with contextlib.suppress(APIServerError):
        api = LightkubeAPI(cfg.kubeconfig(constants.ADMIN_KUBECONFIG), timeout=5.0)
        try:
            listed = api.list("v1", "Pod", constants.KUBE_SYSTEM, labels={"tier": "control-plane"})
        finally:
            api.close()
        for pod in listed:
            component = pods.get(pod.get("metadata", {}).get("name", ""))
            statuses = pod.get("status", {}).get("containerStatuses") or []
            container = next((c for c in statuses if c.get("name") == component), None)
            if component and container:
                started = parse_time(container.get("state", {}).get("running", {}).get("startedAt"))
                with contextlib.suppress(KeyError, ValueError, TypeError):
                    facts[component] = (int(container["restartCount"]), started)
    return facts


def _pod_names(cfg: KbsConfig) -> dict[str, str]:
    """The control-plane static pods' names on this node -> their component."""
    return {f"{c}-{cfg.node_name}": c for c in constants.ALL_COMPONENTS}


def _runtime_facts(cfg: KbsConfig) -> dict[str, tuple[int, datetime | None]]:
    """component -> (restarts, started_at) from the reconciler's status files, else from Docker; from the mirror
    pods when the installed kubelet runs the static pods."""
    if cfg.kbs.reconciler.mode == "kubelet":
        return _mirror_pod_facts(cfg)
    facts: dict[str, tuple[int, datetime | None]] = {}
    pods = _pod_names(cfg)
    with contextlib.suppress(ImportError, OSError, ValueError):
        from bootstrap.reconciler.status import read_statuses

        for record in read_statuses(supervise.reconciler_state_dir(cfg)):
            component = pods.get(record.name)
            container = record.container(component) if component else None
            if component and container is not None:
                facts[component] = (container.restart_count, container.started_at)
    if len(facts) == len(pods) or cfg.kbs.reconciler.mode != "bundled":
        return facts
    with contextlib.suppress(Exception):  # Docker down: the table shows "-" for what it cannot know
        from bootstrap.phases import containers

        found = containers.list_pod_containers(cfg, constants.KUBE_SYSTEM)
        for pod_name, component in pods.items():
            latest = containers.current([c for c in found if c.pod == pod_name], component)
            if component not in facts and latest is not None:
                started = latest.started_at if latest.state == "running" else None
                facts[component] = (latest.restart_count, started)
    return facts


def certificates(cfg: KbsConfig, now: datetime) -> list[CertStatus]:
    """The PKI's own expiration table (kubeadm's check-expiration rows: certificates, kubeconfigs, CAs)."""
    import pki
    from bootstrap.config import pki_context

    result = []
    for info in pki.check_expiration(pki_context(cfg)):
        if info.missing or info.expires is None:
            continue
        days = (info.expires - now).days
        result.append(
            CertStatus(info.name, str(info.path), info.expires.strftime("%Y-%m-%dT%H:%M:%SZ"), days, info.is_ca)
        )
    return result


def _kubelet(cfg: KbsConfig) -> tuple[KbsConfig, str, list[str]]:
    """The installed kubelet's staticPodPath (where the manifests to look at are), as `kbs init` found it."""
    from bootstrap.errors import ConfigError
    from bootstrap.phases import kubelet

    try:
        cfg, found = kubelet.resolve(cfg)
    except ConfigError as exc:
        return cfg, "the installed kubelet runs the static pods (not managed by kbs)", [str(exc)]
    where = f" from {found.path} ({found.source})" if found else ""
    return cfg, f"the installed kubelet runs the static pods{where}; not managed by kbs", []


def gather(cfg: KbsConfig, now: datetime | None = None) -> Status:
    now = now or datetime.now(UTC)
    mode = cfg.kbs.reconciler.mode
    if mode == "bundled":
        rec = supervise.state(cfg)
        running: bool | None = rec.running
        detail = f"{rec.how}: {rec.detail}"
    else:
        running, detail = None, f"not managed by kbs (--reconciler {mode})"
    problems: list[str] = []
    if mode == "kubelet":
        cfg, detail, problems = _kubelet(cfg)
    status = Status(node=cfg.node_name, reconciler_mode=mode, reconciler_running=running, reconciler_detail=detail)
    status.problems += problems
    if running is False:
        status.problems.append(f"the bundled reconciler is not running ({detail})")
    probes = {p.component: p for p in health.probe_all(cfg)}
    facts = _runtime_facts(cfg)
    for component, probe in probes.items():
        manifest = cfg.manifests_dir / f"{component}.yaml"
        restarts, started = facts.get(component, (None, None))
        status.components.append(
            ComponentStatus(
                name=component,
                healthy=probe.healthy,
                health=probe.detail,
                version=_image_tag(manifest),
                restarts=restarts,
                started_at=started.strftime("%Y-%m-%dT%H:%M:%SZ") if started else None,
                uptime_seconds=int((now - started).total_seconds()) if started else None,
                manifest=str(manifest) if manifest.exists() else None,
            )
        )
        if not probe.healthy:
            status.problems.append(f"{component} is not healthy: {probe.detail}")
    status.certificates = certificates(cfg, now)
    for cert in status.certificates:
        if cert.days_left < 0:
            status.problems.append(f"certificate {cert.name} expired on {cert.expires}")
    return status


def human_duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
