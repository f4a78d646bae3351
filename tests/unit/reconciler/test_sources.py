"""The file source (inotify + relist, kubelet rules) and the URL source (Pod/PodList, errors keep pods)."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.reconciler import model
from bootstrap.reconciler.events import Recorder
from bootstrap.reconciler.sources.file import FileSource
from bootstrap.reconciler.sources.url import URLSource
from tests.support.wait import wait_until

from .conftest import IMAGE, NODE

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers: [{{name: c, image: " + IMAGE + "}}]\n"
)


class Sets:
    def __init__(self) -> None:
        self.calls: list[list[model.StaticPod]] = []

    def __call__(self, source: str, pods: list[model.StaticPod]) -> None:
        self.calls.append(pods)

    def names(self) -> set[str] | None:
        return {p.name for p in self.calls[-1]} if self.calls else None


def put(path: Path, text: str) -> None:
    """Write atomically (a hidden temporary file renamed into place), as careful writers do."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.rename(path)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, Sets, Recorder]]:
    sets, recorder = Sets(), Recorder()
    source = FileSource(tmp_path, node_name=NODE, period=0.3, on_set=sets, recorder=recorder)
    source.start()
    try:
        yield tmp_path, sets, recorder
    finally:
        source.stop()


def test_empty_directory_is_an_empty_set(watched: tuple[Path, Sets, Recorder]) -> None:
    _, sets, _ = watched
    assert wait_until("first set", lambda: sets.names() == set() or None, timeout=2, interval=0.1) is True


def test_new_and_removed_files_are_seen(watched: tuple[Path, Sets, Recorder]) -> None:
    directory, sets, _ = watched
    (directory / "a.yaml").write_text(POD.format(name="a"))
    wait_until("a added", lambda: sets.names() == {"a-node-1"}, timeout=2, interval=0.1)
    (directory / "a.yaml").unlink()
    wait_until("a removed", lambda: sets.names() == set(), timeout=2, interval=0.1)


def test_hidden_files_directories_are_ignored_symlinks_followed(watched: tuple[Path, Sets, Recorder]) -> None:
    directory, sets, _ = watched
    (directory / ".a.yaml.swp").write_text(POD.format(name="swap"))
    (directory / "sub").mkdir()
    (directory / "sub" / "inner.yaml").write_text(POD.format(name="inner"))
    target = directory.parent / f"{directory.name}-target.yaml"
    target.write_text(POD.format(name="linked"))
    os.symlink(target, directory / "link.yaml")
    (directory / "backup.yaml~").write_text(POD.format(name="backup"))  # no extension filter, like the kubelet
    wait_until(
        "only the visible files", lambda: sets.names() == {"linked-node-1", "backup-node-1"}, timeout=3, interval=0.1
    )


def test_invalid_file_is_reported_once_and_does_not_disturb_others(watched: tuple[Path, Sets, Recorder]) -> None:
    directory, sets, recorder = watched
    put(directory / "good.yaml", POD.format(name="good"))
    put(directory / "bad.yaml", "kind: Pod\n")
    wait_until("good pod only", lambda: sets.names() == {"good-node-1"}, timeout=3, interval=0.1)
    wait_until("several relists", lambda: len(sets.calls) > 5, timeout=5, interval=0.1)
    reports = [e for e in recorder.recent() if e.reason == "FailedValidation"]
    assert len(reports) == 1 and reports[0].origin == str(directory / "bad.yaml")


def test_a_file_over_10_mib_is_rejected(watched: tuple[Path, Sets, Recorder]) -> None:
    directory, sets, recorder = watched
    (directory / "big.yaml").write_text(POD.format(name="big") + "#" + "x" * (10 * 1024 * 1024))
    wait_until(
        "size error", lambda: any("larger than" in e.message for e in recorder.recent()), timeout=3, interval=0.1
    )
    assert sets.names() == set()


def test_duplicate_names_later_file_wins_and_the_other_is_reported(watched: tuple[Path, Sets, Recorder]) -> None:
    directory, sets, recorder = watched
    (directory / "a.yaml").write_text(POD.format(name="same"))
    (directory / "b.yaml").write_text(POD.format(name="same").replace("spec:", "spec:\n  hostNetwork: true"))
    wait_until(
        "b wins",
        lambda: sets.calls and len(sets.calls[-1]) == 1 and sets.calls[-1][0].origin.endswith("b.yaml"),
        timeout=3,
        interval=0.1,
    )
    wait_until(
        "duplicate reported",
        lambda: any("duplicate pod name" in e.message for e in recorder.recent()),
        timeout=3,
        interval=0.1,
    )


def test_invalid_edit_keeps_the_old_pod_until_the_next_relist(tmp_path: Path) -> None:
    sets, recorder = Sets(), Recorder()
    source = FileSource(tmp_path, node_name=NODE, period=60, on_set=sets, recorder=recorder)
    (tmp_path / "a.yaml").write_text(POD.format(name="a"))
    source.start()
    try:
        wait_until("a", lambda: sets.names() == {"a-node-1"}, timeout=2, interval=0.1)
        (tmp_path / "a.yaml").write_text("kind: Pod\n")  # inotify change with invalid content
        wait_until(
            "reported", lambda: any(e.reason == "FailedValidation" for e in recorder.recent()), timeout=2, interval=0.1
        )
        assert sets.names() == {"a-node-1"}
        source._relist()  # the periodic relist drops it, as the kubelet's does
        assert sets.names() == set()
    finally:
        source.stop()


class _Server:
    def __init__(self) -> None:
        self.status, self.body = 200, b""
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pods"


def test_url_source_pod_podlist_errors_and_empty_body() -> None:
    server = _Server()
    sets, recorder = Sets(), Recorder()
    source = URLSource(server.url, headers=(), node_name=NODE, period=60, on_set=sets, recorder=recorder)
    try:
        source.fetch_once()
        assert sets.calls == [[]]  # an empty body: no URL pods
        server.body = POD.format(name="a").encode()
        source.fetch_once()
        assert sets.names() == {"a-node-1"} and sets.calls[-1][0].source == "http"
        server.body = (
            "apiVersion: v1\nkind: PodList\nitems:\n"
            f"- {{metadata: {{name: a}}, spec: {{containers: [{{name: c, image: {IMAGE}}}]}}}}\n"
            f"- {{metadata: {{name: b}}, spec: {{containers: [{{name: c, image: {IMAGE}}}]}}}}\n"
        ).encode()
        source.fetch_once()
        assert sets.names() == {"a-node-1", "b-node-1"}
        calls = len(sets.calls)
        server.status = 500
        source.fetch_once()
        server.status, server.body = 200, b"kind: Pod\n"
        source.fetch_once()
        source.fetch_once()  # the same broken body is not processed again
        assert len(sets.calls) == calls  # errors send no update: the last good pods keep running
        assert len([e for e in recorder.recent() if e.reason == "FailedValidation"]) == 1
        server.body = b""
        source.fetch_once()
        assert sets.names() == set()
    finally:
        server.server.shutdown()
        server.server.server_close()
