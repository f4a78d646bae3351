"""Benchmark: `kbs init` wall time to four healthy components, per phase, next to `docker run` of the same four.

Each round, in a fresh sandbox (every path under a temp dir, like tests/real), runs:
  kbs      `kbs init` as a fresh process (bytecode cached like an installed kbs, bench/installed.py, after one
           warm-up round that is not counted); time from spawn to the line "all 4 components healthy", the total, and
           each phase's own duration as kbs prints it; then `kbs reset --force`.
  direct   the same certificates and manifests (`kbs init --reconciler none`, not timed), then the four containers
           started with `docker run` and the manifests' exact image, command and mounts (bench/direct_run.py);
           time from the first `docker run` to all four health endpoints answering 200 (polled every 100 ms,
           the same probes kbs uses).
Rounds alternate kbs/direct so drift (page cache, CPU heat) hits both. Medians are printed as the Markdown of
docs/performance.md's "## Init" section. Needs root, Docker, the test bed images, and the control-plane host ports.

    .venv/bin/python bench/init_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import fcntl
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import direct_run
import installed

from bootstrap.config import load_config
from bootstrap.phases import health
from tests.real.conftest import CONTROL_PLANE_LOCK
from tests.support.control_plane import CONFIG, exclusive_ports

ROOT = Path(__file__).resolve().parents[1]
PHASE_LINE = re.compile(r"^\[([a-z-]+)\] .*\((\d+\.\d+)s\)$")


def sandbox() -> tuple[Path, Path]:
    root = Path(tempfile.mkdtemp(prefix="kbs-bench-init-"))
    config = root / "kbs.yaml"
    config.write_text(CONFIG.format(root=root, node="kbs-bench", port=20250, healthz=20248))
    return root, config


def kbs(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bootstrap", *args, "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def run_kbs() -> tuple[float, float, dict[str, float]]:
    root, config = sandbox()
    try:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "bootstrap", "init", "--config", str(config)],
            cwd=ROOT,
            env=installed.env(),  # the reconciler it starts inherits it
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        healthy_at = None
        phases: dict[str, float] = {}
        output: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "all 4 components healthy" in line and healthy_at is None:
                healthy_at = time.perf_counter() - start
            match = PHASE_LINE.match(line.strip())
            if match:
                phases[match[1]] = float(match[2])
        if process.wait() != 0 or healthy_at is None:
            log = root / "var/log/kbs/kbs-reconciler.log"
            tail = log.read_text().splitlines()[-30:] if log.exists() else []
            raise SystemExit("kbs init failed:\n" + "".join(output) + "reconciler log:\n" + "\n".join(tail))
        total = time.perf_counter() - start
        return healthy_at, total, phases
    finally:
        kbs(config, "reset", "--force")
        shutil.rmtree(root, ignore_errors=True)


def run_direct() -> float:
    root, config = sandbox()
    try:
        kbs(config, "init", "--reconciler", "none")
        cfg = load_config(config)
        manifests = sorted(cfg.manifests_dir.glob("*.yaml"))
        start = time.perf_counter()
        direct_run.up(manifests)
        while not all(p.healthy for p in health.probe_all(cfg, timeout=1.0)):
            time.sleep(0.1)
        return time.perf_counter() - start
    finally:
        direct_run.down()
        kbs(config, "reset", "--force")
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kbs_healthy: list[float] = []
    kbs_total: list[float] = []
    direct: list[float] = []
    per_phase: dict[str, list[float]] = {}
    # the control plane needs the host's ports to itself: the tests' lock, then wait for hand-started ones
    with CONTROL_PLANE_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with exclusive_ports():
            run_kbs()  # warm-up, not counted: writes kbs's bytecode cache (bench/installed.py)
            rounds(args.rounds, kbs_healthy, kbs_total, direct, per_phase)
    report(args.rounds, kbs_healthy, kbs_total, direct, per_phase)


def rounds(
    n: int, kbs_healthy: list[float], kbs_total: list[float], direct: list[float], per_phase: dict[str, list[float]]
) -> None:
    for i in range(n):
        healthy, total, phases = run_kbs()
        kbs_healthy.append(healthy)
        kbs_total.append(total)
        for name, seconds in phases.items():
            per_phase.setdefault(name, []).append(seconds)
        direct.append(run_direct())
        print(f"round {i + 1}: kbs healthy {healthy:.2f}s (total {total:.2f}s), docker run healthy {direct[-1]:.2f}s")


def report(
    n: int, kbs_healthy: list[float], kbs_total: list[float], direct: list[float], per_phase: dict[str, list[float]]
) -> None:
    med = statistics.median
    overhead = med(kbs_healthy) - med(direct)
    print()
    print(f"| measure (median of {n}) | seconds |")
    print("|---|---|")
    print(f"| `docker run` of the four containers -> all healthy | {med(direct):.2f} |")
    print(f"| `kbs init` -> all healthy | {med(kbs_healthy):.2f} |")
    print(f"| kbs overhead | {overhead:.2f} ({100 * overhead / med(direct):.0f}%) |")
    print(f"| `kbs init` total (with upload-config ... show-join-command) | {med(kbs_total):.2f} |")
    print()
    print("| phase | median seconds |")
    print("|---|---|")
    for name, values in per_phase.items():
        print(f"| {name} | {med(values):.2f} |")


if __name__ == "__main__":
    main()
