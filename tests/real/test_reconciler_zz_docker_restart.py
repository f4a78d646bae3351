"""Docker engine restarted under a running reconciler: the pods come back by themselves.

Named `zz` so it runs after every other real test: it stops and starts the test bed's dockerd (the way
tests/testbed/testbed.sh `ensure_docker` starts it), which stops every container on the engine for a moment.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import docker

from tests.real.conftest import TestBed
from tests.support.reconciler import Bed
from tests.support.wait import wait_until

DOCKER_DIR = Path(os.environ.get("KBS_TESTBED_DIR", Path.home() / ".cache/kbs/testbed")) / "docker"
PIDFILE = DOCKER_DIR / "dockerd.pid"


BED_PREFIX = "kbs-dockerd"  # the node name of this module's beds (the `bed` fixture, tests/real/conftest.py)


def engine_answers() -> bool:
    try:
        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except docker.errors.DockerException:
        return False


def restart_dockerd() -> None:
    assert PIDFILE.is_file(), f"no dockerd pidfile at {PIDFILE}: the test bed's engine is not running"
    pid = int(PIDFILE.read_text().strip())
    os.kill(pid, signal.SIGTERM)
    wait_until("dockerd to exit", lambda: not Path(f"/proc/{pid}").exists(), timeout=90, interval=0.2)
    with (DOCKER_DIR / "dockerd.log").open("ab") as log:
        subprocess.Popen(
            ["dockerd", "--pidfile", str(PIDFILE)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    wait_until("dockerd to answer again", engine_answers, timeout=60, interval=0.5)


def test_pods_come_back_after_the_docker_engine_restarts(bed: Bed, testbed: TestBed) -> None:
    image = testbed.images["agnhost"]
    bed.write(
        "web.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: {image}
    args: ["netexec", "--http-port=8080"]
    readinessProbe: {{httpGet: {{port: 8080, path: /hostname}}, periodSeconds: 1}}
""",
    )
    bed.write(
        "host.yaml",
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: host}}\nspec:\n  hostNetwork: true\n"
        f"  terminationGracePeriodSeconds: 2\n  containers:\n  - {{name: c, image: {image}, args: [pause]}}\n",
    )
    bed.start()
    before = bed.status_when("web", lambda s: s.ready, "web ready")
    bed.status_when("host", lambda s: s.phase == "Running", "host running")
    restart_dockerd()
    first_id = before.container_statuses[0].container_id
    after = bed.status_when(
        "web", lambda s: s.ready and s.container_statuses[0].container_id != first_id, "web ready again", timeout=120
    )
    wait_until("host pod running again", lambda: bed.running("host", "c"), timeout=120, interval=0.1)
    assert after.uid == before.uid  # the same pod, new containers
    assert after.container_statuses[0].restart_count == 1
    sandboxes = [r for r in bed.containers("web") if r.is_sandbox and r.running]
    assert len(sandboxes) == 1 and sandboxes[0].attempt == 1
