"""The phase runner: order, skipping, timing, error propagation, and the 'changed' verdict."""

from __future__ import annotations

import pytest

from bootstrap.errors import ConfigError, KbsError
from bootstrap.phases.init import INIT
from bootstrap.phases.workflow import Outcome, Phase, Workflow
from tests.support.reporter import Collect


def _flow(calls: list[str], changed: set[str] = frozenset(), fail: str = "") -> Workflow[None]:  # type: ignore[assignment]
    def make(name: str) -> Phase[None]:
        def run(_: None) -> Outcome:
            calls.append(name)
            if name == fail:
                raise KbsError(f"{name} broke")
            return Outcome(f"{name} ok", changed=name in changed)

        return Phase(name, f"{name} help", run)

    return Workflow("test", [make(n) for n in ("a", "b", "c")])


def test_init_phases_are_kubeadms_order_with_the_reconciler_started_first() -> None:
    assert INIT.names() == [
        "preflight",
        "reconciler",
        "certs",
        "kubeconfig",
        "etcd",
        "control-plane",
        "wait-control-plane",
        "upload-config",
        "upload-certs",
        "mark-control-plane",
        "bootstrap-token",
        "addon",
        "pod-network",  # kbs's own, after kubeadm's addons; does nothing unless --pod-network is given
        "show-join-command",
    ]


def test_phases_run_in_order_and_each_prints_its_duration() -> None:
    calls: list[str] = []
    out = Collect()
    ticks = iter([0.0, 1.5, 2.0, 2.25, 3.0, 3.0])
    result = _flow(calls).run(None, out, clock=lambda: next(ticks))
    assert calls == ["a", "b", "c"]
    assert out.lines == ["[a] a ok (1.50s)", "[b] b ok (0.25s)", "[c] c ok (0.00s)"]
    assert not result.changed


def test_skipped_phases_do_not_run_and_say_so() -> None:
    calls: list[str] = []
    out = Collect()
    flow = _flow(calls)
    flow.run(None, out, skip=flow.check_skip(["a,c"]))
    assert calls == ["b"]
    assert "[a] skipped (--skip-phases)" in out.lines


def test_unknown_skip_name_is_an_error_listing_the_phases() -> None:
    with pytest.raises(ConfigError) as err:
        _flow([]).check_skip(["b,nope"])
    assert "nope" in err.value.message and err.value.hint and "a, b, c" in err.value.hint


def test_a_failing_phase_stops_the_run() -> None:
    calls: list[str] = []
    out = Collect()
    with pytest.raises(KbsError):
        _flow(calls, fail="b").run(None, out)
    assert calls == ["a", "b"]
    assert out.lines[-1].startswith("[b] failed after")


def test_one_changed_phase_makes_the_run_changed() -> None:
    assert _flow([], changed={"b"}).run(None, Collect()).changed


def test_only_runs_a_single_phase() -> None:
    calls: list[str] = []
    _flow(calls).run(None, Collect(), only="b")
    assert calls == ["b"]


def test_sub_phases_run_in_order_and_each_is_skippable_as_parent_slash_child() -> None:
    calls: list[str] = []

    def make(name: str) -> Phase[None]:
        def run(_: None) -> Outcome:
            calls.append(name)
            return Outcome(f"{name} done", changed=True)

        return Phase(name, f"{name} help", run)

    parent = Phase("addon", "help", make("unused").run, children=(make("coredns"), make("kube-proxy")))
    flow = Workflow("test", [make("a"), parent])
    out = Collect()
    assert flow.qualified_names() == ["a", "addon", "addon/coredns", "addon/kube-proxy"]
    result = flow.run(None, out, skip=flow.check_skip(["addon/coredns"]))
    assert calls == ["a", "kube-proxy"] and result.changed
    calls.clear()
    flow.run(None, out, only="addon/kube-proxy")
    assert calls == ["kube-proxy"]
    with pytest.raises(ConfigError, match="unknown phase addon/nope"):
        flow.check_skip(["addon/nope"])
