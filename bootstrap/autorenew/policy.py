"""When a certificate is renewed automatically (which static pods then restart: pki.restarts_needed, the table's).

The default margin is kubeadm's advice turned into a rule: renew when less than 30 days are left, or less than a
third of the lifetime for short-lived certificates (a 3-minute certificate is renewed after 2), whichever margin is
smaller. KbsConfiguration certificateRenewal.renewBefore replaces it. A CA is never renewed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

DEFAULT_MARGIN = timedelta(days=30)
LIFETIME_SHARE = 3  # renew in the last third of a lifetime shorter than 90 days


def margin(issued: datetime, expires: datetime, renew_before: timedelta | None = None) -> timedelta:
    if renew_before is not None:
        return renew_before
    return min(DEFAULT_MARGIN, (expires - issued) / LIFETIME_SHARE)


def renew_at(issued: datetime, expires: datetime, renew_before: timedelta | None = None) -> datetime:
    """When the reconciler renews this certificate."""
    return expires - margin(issued, expires, renew_before)


def due(issued: datetime, expires: datetime, now: datetime, renew_before: timedelta | None = None) -> bool:
    return now >= renew_at(issued, expires, renew_before)


def next_check(now: datetime, upcoming: Iterable[datetime], interval: timedelta) -> datetime:
    """The next time to look: after `interval`, or sooner when a renewal falls due before that."""
    return min([now + interval, *(t for t in upcoming if t > now)])


def batch(upcoming: Mapping[str, datetime], margins: Mapping[str, timedelta], now: datetime) -> list[str]:
    """What one round renews: nothing until a file is due; then every file due within half of its own margin too.

    Files issued together (by `kbs init`, seconds apart while keys are made) then renew together, so each static
    pod restarts once per renewal instead of once per file.
    """
    if not any(now >= at for at in upcoming.values()):
        return []
    return sorted(n for n, at in upcoming.items() if at - now <= margins[n] / 2)
