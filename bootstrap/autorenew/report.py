"""What `kbs certs check-expiration` and `kbs status` say about automatic renewal and about CAs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bootstrap.autorenew import worker

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig
    from bootstrap.phases.status import CertStatus

CA_WARNING_DAYS = 365  # a CA is never renewed automatically: rotating one takes planning


def next_renewal_text(cfg: KbsConfig, now: datetime) -> str:
    settings = cfg.kbs.certificate_renewal
    if settings.disabled:
        return "\nAutomatic renewal is off (KbsConfiguration certificateRenewal.disabled): use `kbs certs renew`."
    if cfg.kbs.reconciler.mode != "bundled":
        mode = cfg.kbs.reconciler.mode
        return f"\nAutomatic renewal runs in the bundled reconciler; this node uses --reconciler {mode}."
    upcoming = worker.schedule(cfg, now).upcoming
    if not upcoming:
        return "\nAutomatic renewal: nothing to renew."
    name, at = min(upcoming.items(), key=lambda item: item[1])
    rule = f"renewBefore {settings.renew_before}" if settings.renew_before else "min(30 days, a third of the lifetime)"
    when = "now (at the next check)" if at <= now else f"{at.strftime('%b %d, %Y %H:%M UTC')} (in {_left(at - now)})"
    return f"\nNext automatic renewal by the reconciler ({rule} before expiry): {name}, {when}."


def _left(delta: timedelta) -> str:
    from pki.expiration import short_duration

    return short_duration(delta)


def ca_warnings(certificates: Iterable[CertStatus]) -> list[str]:
    return [
        f"CA {c.name} expires in {c.days_left}d ({c.expires}); CAs are never renewed automatically: plan its rotation"
        for c in certificates
        if c.ca and c.days_left < CA_WARNING_DAYS
    ]


def last_run_text(cfg: KbsConfig) -> str | None:
    last = worker.read_last(cfg)
    if last is None:
        return None
    if last.ok:
        restarted = f", restarted {', '.join(last.restarted)}" if last.restarted else ""
        return f"certificates: renewed automatically at {last.time}: {', '.join(last.renewed)}{restarted}"
    return f"certificates: the automatic renewal at {last.time} FAILED: {last.detail}"
