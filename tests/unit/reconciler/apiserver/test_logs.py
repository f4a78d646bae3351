"""`/containerLogs` options and container choice, with the kubelet's answers when there is nothing to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bootstrap.reconciler.apiserver import logs
from bootstrap.reconciler.runtime import ContainerRecord, naming

from .test_mirror import status_of


def record(uid: str, attempt: int, *, name: str = "c", cid: str | None = None) -> ContainerRecord:
    labels = {
        naming.POD_UID: uid,
        naming.POD_NAME: "web-node-1",
        naming.POD_NAMESPACE: "kube-system",
        naming.CONTAINER_NAME: name,
        naming.DOCKER_TYPE: naming.TYPE_CONTAINER,
        naming.ANNOTATION + naming.RESTART_COUNT: str(attempt),
    }
    return ContainerRecord(
        id=cid or f"{name}{attempt}", name=f"k8s_{name}_{attempt}", labels=labels, state="exited", image="i"
    )


def test_options_come_from_the_api_servers_query() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    query = {
        "follow": ["true"],
        "previous": ["false"],
        "tailLines": ["10"],
        "sinceSeconds": ["60"],
        "limitBytes": ["5"],
    }
    options = logs.LogOptions.from_query(query, now=now)
    assert options == logs.LogOptions(True, False, False, 10, now - timedelta(seconds=60), 5)
    assert logs.LogOptions.from_query({"sinceTime": ["2026-01-01T00:00:00Z"]}).since == now


@pytest.mark.parametrize("query", [{"tailLines": ["x"]}, {"limitBytes": ["-1"]}, {"sinceTime": ["yesterday"]}])
def test_bad_options_are_400(query: dict[str, list[str]]) -> None:
    with pytest.raises(logs.LogRequestError) as caught:
        logs.LogOptions.from_query(query)
    assert caught.value.code == 400


def test_current_is_the_newest_attempt_and_previous_the_one_before() -> None:
    status = status_of()
    records = [record(status.uid, 0), record(status.uid, 1), record("other-uid", 7)]
    assert logs.pick(records, status, "web-node-1", "kube-system", "c", previous=False).id == "c1"
    assert logs.pick(records, status, "web-node-1", "kube-system", "c", previous=True).id == "c0"


def test_missing_things_get_the_kubelets_messages() -> None:
    status = status_of()
    with pytest.raises(logs.LogRequestError, match='previous terminated container "c" in pod "web-node-1" not found'):
        logs.pick([record(status.uid, 0)], status, "web-node-1", "kube-system", "c", previous=True)
    with pytest.raises(logs.LogRequestError, match="waiting to start") as waiting:
        logs.pick([], status, "web-node-1", "kube-system", "c", previous=False)
    assert waiting.value.code == 400
    with pytest.raises(logs.LogRequestError, match='container "nope" not found') as nope:
        logs.pick([], status, "web-node-1", "kube-system", "nope", previous=False)
    assert nope.value.code == 404
    with pytest.raises(logs.LogRequestError, match="does not exist"):
        logs.pick([], None, "web-node-1", "kube-system", "c", previous=False)


def test_since_filters_by_docker_timestamps_and_hides_them_unless_asked() -> None:
    chunks = [b"2026-01-01T00:00:00.1Z old\n2026-01-01T00:00:05.000000001Z ne", b"w\n2026-01-01T00:00:06Z last"]
    since = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert b"".join(logs.shape(chunks, logs.LogOptions(since=since))) == b"new\nlast"
    shown = b"".join(logs.shape(chunks, logs.LogOptions(since=since, timestamps=True)))
    assert shown.startswith(b"2026-01-01T00:00:05.000000001Z new\n")
    assert logs.docker_options(logs.LogOptions(since=since)) == {"follow": False, "tail": None, "timestamps": True}


def test_limit_bytes_cuts_the_stream() -> None:
    assert b"".join(logs.shape([b"abc", b"def"], logs.LogOptions(limit_bytes=4))) == b"abcd"
