"""Benchmark: a full PKI tree (certificates + the five kubeconfigs), kbs next to kubeadm, same configuration.

For each algorithm (RSA-2048, ECDSA-P256) and each run, in alternating order and fresh directories:
  kubeadm    `kubeadm init phase certs all` + `kubeadm init phase kubeconfig all` (two processes)
  kbs        `python -m bootstrap certs generate --config FILE` (one process: start-up, config, PKI), with its
             bytecode cached like an installed copy (bench/installed.py)
  kbs (lib)  `pki.generate(ctx)` in this process: the PKI work alone, without interpreter start or config loading
Prints medians and the median of the per-run ratios kbs/kubeadm as a Markdown table (docs/performance.md, "PKI").

    .venv/bin/python bench/pki_bench.py --runs 15 [--kubeadm PATH]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import installed  # noqa: E402

CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 10.1.2.3
nodeRegistration:
  name: node-a
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.2
certificatesDir: {cert_dir}
encryptionAlgorithm: {algorithm}
controlPlaneEndpoint: cp.example.com
"""


def default_kubeadm() -> str:
    out = subprocess.run(
        [str(REPO / "tests" / "testbed" / "testbed.sh"), "bin-dir"], capture_output=True, text=True, check=True
    )
    return str(Path(out.stdout.strip()) / "kubeadm")


def prepare(root: Path, algorithm: str) -> tuple[Path, Path]:
    kdir = root / "etc-kubernetes"
    kdir.mkdir(parents=True)
    config = root / "kubeadm.yaml"
    config.write_text(CONFIG.format(cert_dir=kdir / "pki", algorithm=algorithm))
    return kdir, config


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def run_kubeadm(kubeadm: str, root: Path, algorithm: str) -> float:
    kdir, config = prepare(root, algorithm)
    certs = timed([kubeadm, "init", "phase", "certs", "all", "--config", str(config)])
    kubeconfigs = [kubeadm, "init", "phase", "kubeconfig", "all", "--config", str(config), "--kubeconfig-dir"]
    return certs + timed([*kubeconfigs, str(kdir)])


def run_kbs(root: Path, algorithm: str) -> float:
    kdir, config = prepare(root, algorithm)
    return timed([sys.executable, "-m", "bootstrap", "certs", "generate", "--config", str(config),
                  "--kubernetes-dir", str(kdir)], installed.env())  # fmt: skip


def run_library(root: Path, algorithm: str) -> float:
    import pki
    from bootstrap.config import Overrides, load_config, pki_context

    kdir, config = prepare(root, algorithm)
    ctx = pki_context(load_config(config, Overrides(kubernetes_dir=str(kdir))))
    start = time.perf_counter()
    pki.generate(ctx)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--kubeadm", default=None, help="kubeadm binary (default: the test bed's)")
    parser.add_argument("--algorithms", default="RSA-2048,ECDSA-P256")
    args = parser.parse_args()
    kubeadm = args.kubeadm or default_kubeadm()

    rows = []
    for algorithm in args.algorithms.split(","):
        theirs: list[float] = []
        ours: list[float] = []
        lib: list[float] = []
        run_library(Path(tempfile.mkdtemp(prefix="kbs-bench-")), algorithm)  # warm the imports once
        for i in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="kbs-bench-") as tmp:
                root = Path(tmp)
                order = ["kubeadm", "kbs", "lib"] if i % 2 == 0 else ["lib", "kbs", "kubeadm"]
                for who in order:
                    if who == "kubeadm":
                        theirs.append(run_kubeadm(kubeadm, root / "a", algorithm))
                    elif who == "kbs":
                        ours.append(run_kbs(root / "b", algorithm))
                    else:
                        lib.append(run_library(root / "c", algorithm))
        ratio = statistics.median(o / t for o, t in zip(ours, theirs, strict=True))
        lib_ratio = statistics.median(o / t for o, t in zip(lib, theirs, strict=True))
        rows.append((algorithm, theirs, ours, lib, ratio, lib_ratio))
        print(f"{algorithm}: done", file=sys.stderr)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} ms (best {min(values) * 1000:.0f})"

    print(f"runs per cell: {args.runs}; kubeadm: {kubeadm}")
    print("| algorithm | kubeadm certs+kubeconfig | kbs certs generate (process) | ratio kbs/kubeadm | "
          "pki.generate (in process) | ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for algorithm, theirs, ours, lib, ratio, lib_ratio in rows:
        print(f"| {algorithm} | {ms(theirs)} | {ms(ours)} | {ratio:.2f} | {ms(lib)} | {lib_ratio:.2f} |")


if __name__ == "__main__":
    main()
