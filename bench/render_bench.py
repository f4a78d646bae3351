"""Benchmark: wall time of `kbs render --dry-run` next to `kubeadm init phase control-plane all --dry-run`.

Both get the same configuration (this machine's defaults: the default-route address, the lower-cased hostname, the
default Kubernetes version) and write nothing that stays: kubeadm's dry-run directory is a temp dir. Each command
runs as a fresh process, as an operator would run it (kbs with its bytecode cached, like an installed copy: see
bench/installed.py), after one warm-up; the median and the best of N are printed
as a Markdown table (docs/performance.md, section "Render"). Also reports where kbs's time goes, in process.

    .venv/bin/python bench/render_bench.py [--runs 20] [--kubeadm PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import installed

ROOT = Path(__file__).resolve().parents[1]
KBS = [str(ROOT / ".venv" / "bin" / "kbs")]


def wall(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def stages() -> dict[str, float]:
    """Where one in-process `render --dry-run` spends its time (cold imports included, as in a fresh CLI)."""
    code = """
import time, json
t0 = time.perf_counter()
import bootstrap.cli.main
t1 = time.perf_counter()
from bootstrap.config import load_config
cfg = load_config()
t2 = time.perf_counter()
from bootstrap.render import context, engine, validate, manifests
ctx = context.build(cfg)
env = engine._environment(engine.search_path(None))
for name in manifests.components_for(cfg):
    env.get_template(engine.template_name(name))
t3 = time.perf_counter()
pods = {n: engine.render_text(n, ctx) for n in manifests.components_for(cfg)}
t4 = time.perf_counter()
for n, p in pods.items():
    validate.validate_pod(p, n, cfg.version.minor)
t5 = time.perf_counter()
texts = [manifests.to_yaml(p) for p in pods.values()]
t6 = time.perf_counter()
print(json.dumps({"cli import": t1 - t0, "config (msgspec documents: import + load)": t2 - t1,
  "render imports + template load": t3 - t2, "render x2 + structure check": t4 - t3,
  "schema + static-pod rules": t5 - t4, "yaml dump": t6 - t5}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    import json

    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kubeadm", help="kubeadm binary (default: the test bed's)")
    args = parser.parse_args()
    kubeadm = args.kubeadm or str(
        Path(
            subprocess.run(
                [str(ROOT / "tests/testbed/testbed.sh"), "bin-dir"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        / "kubeadm"
    )
    with tempfile.TemporaryDirectory(prefix="kbs-render-bench-") as tmp:
        config = Path(tmp) / "kubeadm.yaml"
        printed = subprocess.run([*KBS, "config", "print-defaults"], capture_output=True, text=True, check=True)
        config.write_text(printed.stdout.split("---\n", 2)[0] + "---\n" + printed.stdout.split("---\n", 2)[1])
        env = {**os.environ, "KUBEADM_INIT_DRYRUN_DIR": tmp}
        rows = [
            ("kbs render --dry-run (4 manifests)", wall([*KBS, "render", "--dry-run"], args.runs, installed.env())),
            (
                "kbs render --dry-run --config FILE",
                wall([*KBS, "render", "--dry-run", "--config", str(config)], args.runs, installed.env()),
            ),
            (
                "kubeadm init phase control-plane all --dry-run (3)",
                wall(
                    [kubeadm, "init", "phase", "control-plane", "all", "--config", str(config), "--dry-run"],
                    args.runs,
                    env,
                ),
            ),
            (
                "kubeadm init phase etcd local --dry-run (1)",
                wall([kubeadm, "init", "phase", "etcd", "local", "--config", str(config), "--dry-run"], args.runs, env),
            ),
        ]
    print(f"| command | median | best | ({args.runs} runs, {os.cpu_count()} CPUs) |")
    print("|---|---|---|---|")
    for label, (median, best) in rows:
        print(f"| {label} | {median * 1000:.0f} ms | {best * 1000:.0f} ms | |")
    print()
    print("| kbs stage (in process, cold) | time |")
    print("|---|---|")
    for stage, seconds in stages().items():
        print(f"| {stage} | {seconds * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
