"""A real kubelet with its own containerd, in a private directory tree on this machine.

Nothing touches the machine's /var/lib/kubelet, /etc/kubernetes or /var/lib/containerd: containerd gets its own
root, state and socket, the kubelet its own --root-dir, pod log directory, volume plugin directory and ports,
and it runs standalone (no API server) with cgroupsPerQOS off, so it makes no kubepods cgroup tree on the host.
On exit every pod is stopped and removed, then the kubelet and containerd, and any mount left under the tree.

The containerd configuration is the test bed's (tests/testbed/image/node/containerd.toml), the one the worker
node image uses, with this tree's paths filled in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]
CONTAINERD_TEMPLATE = REPO / "tests" / "testbed" / "image" / "node" / "containerd.toml"


@dataclass
class LocalKubelet:
    root: Path
    bin_dir: Path
    socket: Path
    manifests: Path
    healthz_port: int
    kubelet: subprocess.Popen[bytes]
    containerd: subprocess.Popen[bytes]

    def crictl(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [str(self.bin_dir / "crictl"), "--runtime-endpoint", f"unix://{self.socket}", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"crictl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def ctr(self, *args: str, stdin: bytes | None = None) -> None:
        subprocess.run(
            [str(self.bin_dir / "ctr"), "--address", str(self.socket), "--namespace", "k8s.io", *args],
            input=stdin,
            capture_output=True,
            check=True,
        )

    def log(self, name: str = "kubelet") -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-4000:]


def mounts_under(root: Path) -> list[str]:
    prefix = str(root)
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(prefix)]


CGROUP_ROOT = Path("/sys/fs/cgroup")


def runtime_cgroups() -> set[Path]:
    """The cgroups containerd makes for its k8s.io namespace (one per hierarchy, removed with the last pod)."""
    return set(CGROUP_ROOT.glob("*/k8s.io"))


def processes_under(root: Path) -> list[int]:
    """Processes whose command line names the tree (containerd, its shims, the kubelet)."""
    found = []
    needle = str(root).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@contextmanager
def local_kubelet(
    bin_dir: Path, pause_image: str, *, healthz_port: int = 11248, port: int = 11250
) -> Iterator[LocalKubelet]:
    # A short path: the containerd socket's path must fit a unix socket address (108 bytes).
    root = Path(tempfile.mkdtemp(prefix="kbs-kubelet-", dir="/tmp"))
    cgroups_before = runtime_cgroups()
    for sub in ("containerd/root", "containerd/state", "kubelet", "manifests", "pods-logs", "cni/net.d", "plugins"):
        (root / sub).mkdir(parents=True)
    socket = root / "containerd.sock"
    config = CONTAINERD_TEMPLATE.read_text()
    for key, value in {
        "ROOT": root / "containerd/root",
        "STATE": root / "containerd/state",
        "SOCKET": socket,
        "RUNC": bin_dir / "runc",
        "CNI_BIN": bin_dir / "cni",
        "CNI_CONF": root / "cni/net.d",
        "PAUSE": pause_image,
    }.items():
        config = config.replace(f"@{key}@", str(value))
    (root / "containerd.toml").write_text(config)
    kubelet_config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "staticPodPath": str(root / "manifests"),
        "fileCheckFrequency": "1s",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,  # this kind of machine has hybrid cgroup v1
        "failSwapOn": False,
        "cgroupsPerQOS": False,  # no kubepods cgroup tree on the host
        "enforceNodeAllocatable": [],
        "port": port,
        "readOnlyPort": 0,
        "healthzPort": healthz_port,
        "healthzBindAddress": "127.0.0.1",
        "address": "127.0.0.1",
        "podLogsDir": str(root / "pods-logs"),
        "volumePluginDir": str(root / "plugins"),
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{socket}",
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"memory.available": "0%", "nodefs.available": "0%", "imagefs.available": "0%"},
    }
    (root / "kubelet.yaml").write_text(yaml.safe_dump(kubelet_config))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    containerd = subprocess.Popen(
        [str(bin_dir / "containerd"), "--config", str(root / "containerd.toml")],
        stdout=(root / "containerd.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    kubelet: subprocess.Popen[bytes] | None = None
    node: LocalKubelet | None = None
    try:
        wait_until("containerd's socket", lambda: socket.exists() or None, timeout=60)
        kubelet = subprocess.Popen(
            [
                str(bin_dir / "kubelet"),
                f"--config={root / 'kubelet.yaml'}",
                f"--root-dir={root / 'kubelet'}",
                f"--cert-dir={root / 'kubelet' / 'pki'}",
                "--hostname-override=kbs-smoke",
            ],
            stdout=(root / "kubelet.log").open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        node = LocalKubelet(root, bin_dir, socket, root / "manifests", healthz_port, kubelet, containerd)
        yield node
    finally:
        _teardown(root, bin_dir, socket, kubelet, containerd)
        for cgroup in runtime_cgroups() - cgroups_before:
            with contextlib.suppress(OSError):  # a busy one is left for the test to report
                cgroup.rmdir()


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _teardown(
    root: Path,
    bin_dir: Path,
    socket: Path,
    kubelet: subprocess.Popen[bytes] | None,
    containerd: subprocess.Popen[bytes],
) -> None:
    # The kubelet leaves its pods running when it stops, as on a node: remove them through the runtime first.
    _stop(kubelet)
    if containerd.poll() is None and socket.exists():
        crictl = [str(bin_dir / "crictl"), "--runtime-endpoint", f"unix://{socket}", "--timeout", "20s"]
        subprocess.run([*crictl, "rmp", "--all", "--force"], capture_output=True, check=False)
    _stop(containerd)
    for pid in processes_under(root):  # shims outlive containerd by design; none should remain once pods are gone
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for mount in sorted(mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)
