"""How fast the API server shows what kbs's reconciler does: mirror pods after the API server comes up, a
container restart in the mirror's restartCount, a deleted mirror coming back. Not a test: it prints p50/p95.

    .venv/bin/python bench/mirror_bench.py --rounds 8 --pods 10

One control plane (test bed, sandboxed, tests/support/mirror_plane.py) run by an in-process reconciler with
its publisher; it takes the control-plane lock like the real tests. Three measurements:

cold      the publisher is stopped, every mirror deleted, kube-apiserver's manifest moved out (the reconciler stops
          it), a new publisher started (it polls a closed port), the manifest moved back: time from the first
          `/readyz` = ok (polled every 20 ms) to every mirror pod present, per round.
restart   `docker kill` of each of `--pods` pods' container: time from the new container's StartedAt (Docker's
          clock, same host) to the mirror's restartCount going up. Two kills per pod (the second after the
          crash-loop backoff), so the samples see a publisher already busy with other pods.
recreate  `kubectl delete --grace-period=0 --force` of a mirror: time to a mirror with a new UID.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stats import pct  # noqa: E402

from bootstrap.reconciler.apiserver.publisher import Publisher  # noqa: E402
from tests.real.conftest import CONTROL_PLANE_LOCK, TESTBED, TestBed  # noqa: E402
from tests.support.mirror_plane import Plane, control_plane  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402

NODE = "kbs-mirror-bench"
PORT = 21251
POLL = 0.02
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def testbed() -> TestBed:
    def run(*args: str) -> str:
        return subprocess.run([str(TESTBED), *args], capture_output=True, text=True, check=True).stdout.strip()

    refs = run("images").splitlines()
    return TestBed(Path(run("bin-dir")), {ref.rsplit("/", 1)[-1].split(":")[0]: ref for ref in refs})


def pod_manifest(name: str, agnhost: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: {agnhost}
    args: [pause]
"""


class API:
    """Fast reads with the admin identity (a kubectl process per poll would cost ~100 ms): plain HTTP over the
    connection lightkube builds from admin.conf."""

    def __init__(self, plane: Plane) -> None:
        import httpx2
        import lightkube
        from lightkube.config.client_adapter import Client, ConnectionParams

        config = lightkube.KubeConfig.from_file(plane.kubernetes_dir / "admin.conf").get()
        assert config is not None
        self.http = Client(config, ConnectionParams(timeout=httpx2.Timeout(2.0), trust_env=False))

    def readyz(self) -> int | None:
        """/readyz's HTTP status, None while nothing answers."""
        try:
            return int(self.http.get("/readyz").status_code)
        except Exception:
            return None

    def mirrors(self, namespace: str | None = None) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        items = self.http.get(path).json().get("items") or []
        return {
            p["metadata"]["name"]: p
            for p in items
            if "kubernetes.io/config.mirror" in p["metadata"].get("annotations", {})
        }

    def close(self) -> None:
        self.http.close()


def summary(name: str, values: list[float]) -> dict[str, Any]:
    return {
        "measure": name,
        "n": len(values),
        "p50_s": round(statistics.median(values), 3),
        "p95_s": round(pct(values, 0.95), 3),
        "max_s": round(max(values), 3),
    }


def cold(plane: Plane, api: API, expected: set[str]) -> tuple[float, float]:
    """(first HTTP answer -> every mirror, /readyz ok -> every mirror) for one cold start of the API server."""
    reconciler = plane.reconciler
    old: Publisher = reconciler._publisher  # type: ignore[assignment]
    old.stop()
    for name in api.mirrors():
        namespace = "kube-system" if any(name.startswith(c) for c in COMPONENTS) else "default"
        plane.kubectl("delete", "pod", "-n", namespace, name, "--grace-period=0", "--force", check=False)
    manifest = plane.manifests / "kube-apiserver.yaml"
    parked = plane.root / "kube-apiserver.yaml"
    manifest.rename(parked)
    wait_until("kube-apiserver to stop", lambda: not plane.containers("kube-apiserver"), timeout=120)
    publisher = Publisher(reconciler, old.settings)
    publisher.start()
    reconciler._publisher = publisher
    parked.rename(manifest)
    answered_at = ready_at = None
    while ready_at is None:
        code = api.readyz()
        if code is not None and answered_at is None:
            answered_at = time.monotonic()
        if code == 200:
            ready_at = time.monotonic()
        time.sleep(POLL)
    while not expected <= set(api.mirrors()):
        time.sleep(POLL)
    done = time.monotonic()
    assert answered_at is not None
    return done - answered_at, max(0.0, done - ready_at)


def docker_time(text: str) -> float:
    head, _, rest = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (rest or "0"))


def instrument(plane: Plane) -> dict[tuple[str, int], float]:
    """When the publisher was handed each (pod, restartCount) status: splits a restart's latency in two."""
    publisher: Publisher = plane.reconciler._publisher  # type: ignore[assignment]
    handed: dict[tuple[str, int], float] = {}
    original = publisher.on_pod_status

    def on_pod_status(status: Any) -> None:
        if status.container_statuses and status.container_statuses[0].running:
            handed.setdefault((status.name, status.container_statuses[0].restart_count), time.time())
        original(status)

    publisher.on_pod_status = on_pod_status  # type: ignore[method-assign]
    return handed


def restarts(
    plane: Plane, api: API, names: list[str], handed: dict[tuple[str, int], float], results: dict[str, list[float]]
) -> list[float]:
    """Kill every pod's container at once; for each, new container's StartedAt -> restartCount up in the API.

    One poller for all pods (every POLL seconds, one list call), so the measurement does not load the API server.
    The split: StartedAt -> the reconciler hands the status to the publisher -> the API server shows it.
    """
    full = {n: f"{n}-{plane.node}" for n in names}
    mirrors = api.mirrors("default")
    before = {n: mirrors[full[n]]["status"]["containerStatuses"][0]["restartCount"] for n in names}
    old = {n: plane.containers(n)[0] for n in names}
    for container in old.values():
        container.kill()
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 120
    while len(seen) < len(names) and time.monotonic() < deadline:
        mirrors = api.mirrors("default")
        now = time.time()
        for n in names:
            mirror = mirrors.get(full[n])
            if n not in seen and mirror and mirror["status"]["containerStatuses"][0]["restartCount"] > before[n]:
                seen[n] = now
        time.sleep(POLL)
    out = []
    for n, at in seen.items():
        new = plane.containers(n)[0]
        assert new.id != old[n].id
        started = docker_time(new.attrs["State"]["StartedAt"])
        out.append(at - started)
        given = handed.get((full[n], before[n] + 1))
        if given is not None:
            results["restart-reconciler"].append(given - started)
            results["restart-publisher"].append(at - given)
    return out


def recreate(plane: Plane, api: API, name: str) -> float:
    full = f"{name}-{plane.node}"
    uid = api.mirrors("default")[full]["metadata"]["uid"]
    t0 = time.monotonic()
    plane.kubectl("delete", "pod", "-n", "default", full, "--grace-period=0", "--force", "--wait=false")
    while True:
        mirror = api.mirrors("default").get(full)
        if mirror and mirror["metadata"]["uid"] != uid:
            return time.monotonic() - t0
        time.sleep(POLL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="cold-start rounds")
    parser.add_argument("--pods", type=int, default=10, help="extra static pods for the restart measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    bed = testbed()
    names = [f"bench-{i}" for i in range(args.pods)]
    extra = {n: pod_manifest(n, bed.images["agnhost"]) for n in names}
    CONTROL_PLANE_LOCK.touch(exist_ok=True)
    with CONTROL_PLANE_LOCK.open("r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with control_plane(bed, node=NODE, port=PORT, extra=extra, grant_logs=False) as plane:
            api = API(plane)
            expected = {f"{c}-{NODE}" for c in COMPONENTS} | {f"{n}-{NODE}" for n in names}
            wait_until("every mirror", lambda: expected <= set(api.mirrors()), timeout=180)
            results: dict[str, list[float]] = {
                "cold-answer": [],
                "cold-readyz": [],
                "restart": [],
                "restart-reconciler": [],
                "restart-publisher": [],
                "recreate": [],
            }
            for i in range(args.rounds):
                from_answer, from_ready = cold(plane, api, expected)
                results["cold-answer"].append(from_answer)
                results["cold-readyz"].append(from_ready)
                print(
                    f"cold {i}: {from_answer:.3f}s after the first answer, {from_ready:.3f}s after /readyz", flush=True
                )
            wait_until(
                "every mirror running",
                lambda: all(p["status"].get("phase") == "Running" for p in api.mirrors().values()),
                timeout=120,
            )
            handed = instrument(plane)
            for _ in range(2):  # all pods at once: a burst of restarts; the second after the crash-loop backoff
                results["restart"].extend(restarts(plane, api, names, handed, results))
                print(f"restart round: {len(results['restart'])} samples", flush=True)
            for name in names:
                results["recreate"].append(recreate(plane, api, name))
            api.close()
    rows = [summary(k, v) for k, v in results.items() if v]
    print(f"{'measure':12} {'n':>3} {'p50':>8} {'p95':>8} {'max':>8}")
    for row in rows:
        print(f"{row['measure']:12} {row['n']:>3} {row['p50_s']:>7.3f}s {row['p95_s']:>7.3f}s {row['max_s']:>7.3f}s")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "raw": results}, indent=1))


if __name__ == "__main__":
    main()
