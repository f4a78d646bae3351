"""bootstrap.autorenew: when leaves are due, what one round renews and restarts (a fake restart), never a CA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import pki
from bootstrap.autorenew import policy, worker
from bootstrap.autorenew.report import ca_warnings, next_renewal_text
from bootstrap.config import load_config, pki_context
from bootstrap.config.overrides import Overrides
from bootstrap.phases.status import CertStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lifetime", "before", "renew_after"),
    [
        (timedelta(days=365), None, timedelta(days=335)),  # 30 days before a year's end
        (timedelta(days=30), None, timedelta(days=20)),  # a third of a short lifetime
        (timedelta(minutes=3), None, timedelta(minutes=2)),
        (timedelta(days=365), timedelta(days=60), timedelta(days=305)),  # renewBefore wins
    ],
)
def test_renew_at(lifetime: timedelta, before: timedelta | None, renew_after: timedelta) -> None:
    assert policy.renew_at(T0, T0 + lifetime, before) == T0 + renew_after
    assert not policy.due(T0, T0 + lifetime, T0 + renew_after - timedelta(seconds=1), before)
    assert policy.due(T0, T0 + lifetime, T0 + renew_after, before)


def test_a_round_waits_for_the_first_due_file_then_takes_those_due_soon_with_it() -> None:
    minute = timedelta(minutes=1)
    margins = {"a": minute, "b": minute, "c": minute}
    upcoming = {"a": T0, "b": T0 + timedelta(seconds=20), "c": T0 + timedelta(seconds=40)}
    assert policy.batch(upcoming, margins, T0 - timedelta(seconds=1)) == []
    assert policy.batch(upcoming, margins, T0) == ["a", "b"]


def test_next_check_is_the_interval_or_the_next_due_time_if_sooner() -> None:
    hour = timedelta(hours=1)
    assert policy.next_check(T0, [T0 + 2 * hour], hour) == T0 + hour
    assert policy.next_check(T0, [T0 - hour, T0 + timedelta(minutes=5)], hour) == T0 + timedelta(minutes=5)


def test_a_round_renews_the_due_leaves_restarts_their_readers_in_order_and_never_a_ca(
    tmp_path: Path, key_pool: None
) -> None:
    config = tmp_path / "kbs.yaml"
    config.write_text(
        "apiVersion: kbs.dev/v1alpha1\nkind: KbsConfiguration\n"
        f"kubernetesDir: {tmp_path}\nreconciler:\n  stateDir: {tmp_path / 'state'}\n"
    )
    cfg = load_config(config, Overrides(cert_dir=str(tmp_path / "pki"), node_name="node-a"))
    ctx = pki_context(cfg)
    now = datetime.now(UTC)
    pki.generate(ctx, at=now - timedelta(days=340))  # 25 days left on the leaves: due; the CAs are not
    cas_before = {p: p.read_bytes() for p in (tmp_path / "pki").rglob("ca.crt")}
    restarted: list[str] = []

    result = worker.run_once(cfg, restart=lambda _cfg, component, _since: restarted.append(component))

    assert result is not None and result.ok, result
    assert set(result.renewed) == {*pki.renewal.renewable(ctx), "kubelet.conf"}  # the reconciler is the kubelet
    assert restarted == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert {p: p.read_bytes() for p in cas_before} == cas_before
    assert worker.read_last(cfg) == result
    assert worker.status_path(cfg).parent == tmp_path / "state"
    assert worker.run_once(cfg, restart=lambda *_: pytest.fail("nothing is due any more")) is None
    assert "Next automatic renewal by the reconciler" in next_renewal_text(cfg, datetime.now(UTC))


def test_ca_warning_within_a_year() -> None:
    soon = CertStatus("ca", "/p/ca.crt", "2027-01-01T00:00:00Z", 200, True)
    late = CertStatus("front-proxy-ca", "/p/f.crt", "2036-01-01T00:00:00Z", 3000, True)
    leaf = CertStatus("apiserver", "/p/a.crt", "2027-01-01T00:00:00Z", 20, False)
    assert ca_warnings([soon, late, leaf]) == [
        "CA ca expires in 200d (2027-01-01T00:00:00Z); CAs are never renewed automatically: plan its rotation"
    ]
