"""Benchmark: start-up of `kbs --help` and `kbs render --dry-run`, and which imports it is spent on.

kbs keeps heavy imports (docker, lightkube, cryptography, jinja2's compiler) inside the functions that need them,
so `kbs --help` and `kbs render` stay fast. Nothing else checks that: this benchmark does, by numbers, not by a
timed test. Each command runs as a fresh process after one warm-up; the median and best wall time of N runs are
printed, then Python's `-X importtime` of one more run: the modules with the largest cumulative import time
(top-level packages first), so a new module-level import that costs start-up shows by name.

    .venv/bin/python bench/startup_bench.py [--runs 10] [--top 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
COMMANDS = {
    "kbs --help": ["--help"],
    "kbs render --dry-run": ["render", "--dry-run"],
}


def _cmd(args: list[str]) -> list[str]:
    return [PYTHON, "-c", "import sys; from bootstrap.cli.main import main; sys.argv[0] = 'kbs'; main()", *args]


def wall(cmd: list[str], runs: int) -> tuple[float, float]:
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm-up, bytecode
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def import_times(cmd: list[str]) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) for every module the command imported, largest first."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    print("| command | median | best |\n|---|---|---|")
    for label, argv in COMMANDS.items():
        median, best = wall(_cmd(argv), args.runs)
        print(f"| `{label}` | {median * 1000:.0f} ms | {best * 1000:.0f} ms |")
    for label, argv in COMMANDS.items():
        print(f"\nImports of `{label}` (cumulative ms, top {args.top}):")
        for micros, name in import_times(_cmd(argv))[: args.top]:
            print(f"  {micros / 1000:7.1f}  {name}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
