"""Health endpoints of the four control-plane components, probed the way kubeadm's control-plane-check does.

    etcd                     http://<loopback>:2381/readyz        (the metrics listener; no client certificate needed)
    kube-apiserver           https://<A>:<P>/readyz               verifying the cluster CA
    kube-controller-manager  https://<loopback>:10257/healthz     self-signed serving certificate: not verified
    kube-scheduler           https://<loopback>:10259/livez       self-signed serving certificate: not verified

Plain urllib with short timeouts: a probe is one GET, and `kbs status` must stay quick when a component is down.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bootstrap import constants

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Endpoint:
    component: str
    url: str
    ca_file: Path | None  # None: do not verify the serving certificate


@dataclass(frozen=True)
class Probe:
    component: str
    url: str
    healthy: bool
    detail: str  # "ok", "HTTP 500: [-]etcd failed", "connection refused", ...


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def endpoints(cfg: KbsConfig) -> list[Endpoint]:
    loopback = _host(cfg.loopback)
    result = []
    if cfg.local_etcd:
        result.append(Endpoint(constants.ETCD, f"http://{loopback}:{constants.ETCD_METRICS_PORT}/readyz", None))
    apiserver = f"https://{_host(cfg.advertise_address)}:{cfg.bind_port}/readyz"
    result += [
        Endpoint(constants.KUBE_APISERVER, apiserver, cfg.cert_dir / "ca.crt"),
        Endpoint(
            constants.KUBE_CONTROLLER_MANAGER,
            f"https://{loopback}:{constants.KUBE_CONTROLLER_MANAGER_PORT}/healthz",
            None,
        ),
        Endpoint(constants.KUBE_SCHEDULER, f"https://{loopback}:{constants.KUBE_SCHEDULER_PORT}/livez", None),
    ]
    return result


def _context(ca_file: Path | None) -> ssl.SSLContext:
    if ca_file is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=str(ca_file))


def probe(endpoint: Endpoint, timeout: float = PROBE_TIMEOUT) -> Probe:
    """One GET; healthy means HTTP 200 (a verified certificate for the API server)."""
    try:
        context = _context(endpoint.ca_file) if endpoint.url.startswith("https") else None
    except (OSError, ssl.SSLError) as exc:
        return Probe(endpoint.component, endpoint.url, False, f"cannot load CA {endpoint.ca_file}: {exc}")
    try:
        with urllib.request.urlopen(endpoint.url, timeout=timeout, context=context) as response:
            status = response.status
            body = response.read(200).decode(errors="replace").strip()
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode(errors="replace").strip().splitlines()
        failed = [line for line in body if line.startswith("[-]")]
        return Probe(endpoint.component, endpoint.url, False, f"HTTP {exc.code}: {'; '.join(failed) or exc.reason}")
    except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", exc)
        return Probe(endpoint.component, endpoint.url, False, _short(reason))
    if status != 200:
        return Probe(endpoint.component, endpoint.url, False, f"HTTP {status}: {body[:80]}")
    return Probe(endpoint.component, endpoint.url, True, body[:40] or "ok")


def _short(reason: object) -> str:
    text = str(reason)
    if isinstance(reason, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    if "timed out" in text:
        return "timed out"
    return text[:120]


def probe_all(cfg: KbsConfig, timeout: float = PROBE_TIMEOUT) -> list[Probe]:
    """All components at once (in parallel), in the order of `endpoints`."""
    targets = endpoints(cfg)
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        return list(pool.map(lambda e: probe(e, timeout), targets))
