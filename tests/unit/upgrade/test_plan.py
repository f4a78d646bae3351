"""bootstrap.upgrade.plan and waiting.judge/wait: the pure parts of `kbs upgrade`."""

from __future__ import annotations

import pytest

from bootstrap.upgrade import plan, waiting
from bootstrap.upgrade.plan import Step, UpgradeError
from bootstrap.upgrade.state import UpgradeState


@pytest.mark.parametrize(
    ("current", "target"),
    [("v1.36.3", "v1.37.2"), ("v1.37.0", "v1.37.2"), ("v1.37.2", "v1.37.2"), ("v1.36.0", "v1.36.3")],
)
def test_skew_accepts_a_patch_or_the_next_minor(current: str, target: str) -> None:
    plan.check_skew(current, target)


@pytest.mark.parametrize(
    ("current", "target", "words"),
    [
        ("v1.35.4", "v1.37.2", "one minor at a time"),
        ("v1.37.2", "v1.36.3", "does not downgrade"),
        ("v1.37.2", "v1.37.1", "does not downgrade"),
        ("v1.37.2", "v2.0.0", "major"),
    ],
)
def test_skew_refuses_skipping_a_minor_and_downgrades(current: str, target: str, words: str) -> None:
    with pytest.raises(UpgradeError, match=words):
        plan.check_skew(current, target)


def test_available_lists_newer_versions_at_most_one_minor_ahead() -> None:
    assert plan.available("v1.35.4", ["v1.37.2", "v1.36.3", "v1.35.4"]) == ["v1.36.3"]
    assert plan.available("v1.36.3", ["v1.37.2", "v1.36.3", "v1.35.4"]) == ["v1.37.2"]
    assert plan.available("v1.37.2", ["v1.37.2", "v1.36.3"]) == []


def _manifest(image: str) -> str:
    return f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - x\n    image: {image}\n"


def test_steps_in_kubeadms_order_skipping_unchanged_and_etcd_when_not_wanted() -> None:
    old = {
        "etcd": _manifest("r/etcd:3.6.8-0"),
        "kube-apiserver": _manifest("r/kube-apiserver:v1.36.3"),
        "kube-controller-manager": _manifest("r/kube-controller-manager:v1.36.3"),
        "kube-scheduler": _manifest("r/kube-scheduler:v1.37.2"),
    }
    new = {
        "kube-scheduler": _manifest("r/kube-scheduler:v1.37.2"),
        "kube-controller-manager": _manifest("r/kube-controller-manager:v1.37.2"),
        "kube-apiserver": _manifest("r/kube-apiserver:v1.37.2"),
        "etcd": _manifest("r/etcd:3.7.0-0"),
    }
    assert [s.component for s in plan.steps(old, new)] == ["etcd", "kube-apiserver", "kube-controller-manager"]
    assert [s.component for s in plan.steps(old, new, etcd_upgrade=False)] == [
        "kube-apiserver",
        "kube-controller-manager",
    ]


def test_rollback_restores_the_failed_component_then_the_earlier_ones_last_first() -> None:
    done = [Step("etcd", "a", "b"), Step("kube-apiserver", "a", "b"), Step("kube-controller-manager", "a", "b")]
    failed = done[-1]
    assert [s.component for s in plan.rollback_order(done, failed)] == [
        "kube-controller-manager",
        "kube-apiserver",
        "etcd",
    ]


def test_image_ref_and_tag_read_the_manifest() -> None:
    text = _manifest("registry.k8s.io/kube-apiserver:v1.36.3")
    assert plan.image_ref(text) == "registry.k8s.io/kube-apiserver:v1.36.3"
    assert plan.image_tag(text) == "v1.36.3"
    assert plan.image_tag(_manifest("localhost:5000/kube-apiserver")) is None
    assert plan.image_tag(None) is None


IMAGE = "r/kube-apiserver:v1.37.2"


@pytest.mark.parametrize(
    ("obs", "not_hash", "ok"),
    [
        (waiting.Observation("new", (IMAGE,), True), "old", True),
        (waiting.Observation("old", (IMAGE,), True), "old", False),  # the mirror pod still shows the old manifest
        (waiting.Observation("new", ("r/kube-apiserver:v1.36.3",), True), "old", False),  # old container running
        (waiting.Observation("new", (IMAGE,), False), "old", False),  # unhealthy
        (waiting.Observation(None, (), True), "old", False),  # the change was not seen
        (waiting.Observation("x", (IMAGE,), True), None, True),  # no old hash known: image and health decide
        (waiting.Observation("x", (), True), None, False),  # no running container reported
    ],
)
def test_judge(obs: waiting.Observation, not_hash: str | None, ok: bool) -> None:
    assert waiting.judge(obs, image=IMAGE, not_hash=not_hash) is ok


def test_wait_needs_two_good_observations_in_a_row_and_gives_up_at_the_deadline() -> None:
    now = [0.0]
    good = waiting.Observation("new", (IMAGE,), True)
    bad = waiting.Observation("new", (IMAGE,), False, "connection refused")
    seen = iter([good, bad, good, good])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ok, last = waiting.wait(
        lambda: next(seen), image=IMAGE, not_hash="old", timeout=10, clock=lambda: now[0], sleep=sleep
    )
    assert ok and last == good and now[0] == 1.5

    ok, last = waiting.wait(lambda: bad, image=IMAGE, not_hash="old", timeout=2, clock=lambda: now[0], sleep=sleep)
    assert not ok and last.detail == "connection refused"


def test_state_round_trip_and_clear(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert UpgradeState.load(tmp_path) is None
    state = UpgradeState(
        target="v1.37.2", source="v1.36.3", backup_dir="/b", written=["etcd"], old_hashes={"etcd": "h"}
    )
    state.save(tmp_path)
    assert UpgradeState.load(tmp_path) == state
    assert oct(UpgradeState.path(tmp_path).stat().st_mode & 0o777) == "0o600"
    UpgradeState.clear(tmp_path)
    assert UpgradeState.load(tmp_path) is None
    UpgradeState.path(tmp_path).write_text("{not json")
    with pytest.raises(UpgradeError, match="cannot read the upgrade journal"):
        UpgradeState.load(tmp_path)
