"""Single-node upgrade: how long the API server is away while `kbs upgrade apply` runs (v1.36.3 -> v1.37.2).

Each round brings up a sandboxed control plane with `kbs init --kubernetes-version v1.36.3` (tests/support's
sandbox: every path under a temp dir), then polls https://<advertise>:6443/readyz every 100 ms from a thread while
`kbs upgrade apply v1.37.2` runs, and reports the upgrade's wall time and the longest gap between two successful
answers (the API unavailability a client sees). Run it under the real-test lock:

    flock /tmp/kbs-real-tests.lock .venv/bin/python bench/upgrade_bench.py --rounds 2

The kubeadm side of the comparison (`kubeadm upgrade apply` with a real kubelet) is not here yet: it needs a node
image with the previous minor's kubelet and images (docs/performance.md).
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.real.conftest import TestBed, _testbed
from tests.support.control_plane import exclusive_ports, sandbox

OLD, NEW = "v1.36.3", "v1.37.2"
POLL = 0.1


class Poller(threading.Thread):
    def __init__(self, url: str, ca: Path) -> None:
        super().__init__(daemon=True)
        self.url, self.context = url, ssl.create_default_context(cafile=str(ca))
        self.ok_times: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=1.0, context=self.context) as response:
                    if response.status == 200:
                        self.ok_times.append(time.monotonic())
            except OSError:
                self.failures += 1
            self.stop.wait(POLL)

    def longest_gap(self) -> float:
        return max((b - a for a, b in zip(self.ok_times, self.ok_times[1:], strict=False)), default=0.0)


def one_round(testbed: TestBed) -> tuple[float, float, int]:
    with exclusive_ports(), sandbox(testbed) as box:
        box.kbs("init", "--kubernetes-version", OLD)
        server = box.kubectl("config", "view", "-o", "jsonpath={.clusters[0].cluster.server}").stdout
        poller = Poller(f"{server}/readyz", box.root / "etc/kubernetes/pki/ca.crt")
        poller.start()
        time.sleep(2)
        started = time.monotonic()
        box.kbs("upgrade", "apply", NEW)
        took = time.monotonic() - started
        time.sleep(2)
        poller.stop.set()
        poller.join()
        return took, poller.longest_gap(), poller.failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    testbed = TestBed(bin_dir=Path(_testbed("bin-dir")), images={})
    rows = [one_round(testbed) for _ in range(args.rounds)]
    for i, (took, gap, failures) in enumerate(rows, 1):
        print(f"round {i}: upgrade {took:.1f} s, longest API gap {gap:.1f} s, failed polls {failures}")
    print(
        f"median: upgrade {statistics.median(r[0] for r in rows):.1f} s, "
        f"longest API gap {statistics.median(r[1] for r in rows):.1f} s"
    )


if __name__ == "__main__":
    main()
