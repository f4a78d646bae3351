"""Find the staticPodPath of a kubelet already installed here, as the seeds find it by hand.

In order (the first answer wins, and kbs says which one it used):
1. an explicit setting (KbsConfiguration.staticPodPath / --static-pod-path);
2. the running kubelet's `--pod-manifest-path` flag (`ps aux | grep kubelet`);
3. `staticPodPath` in the file its `--config` flag names (relative paths are relative to that file);
4. k3s's agent directory /var/lib/rancher/k3s/agent/pod-manifests, when k3s runs or the directory exists;
5. `staticPodPath` in kubeadm's /var/lib/kubelet/config.yaml (a kubelet that is installed but not running).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bootstrap.errors import ConfigError

PROC = Path("/proc")
K3S_MANIFESTS = Path("/var/lib/rancher/k3s/agent/pod-manifests")
KUBEADM_KUBELET_CONFIG = Path("/var/lib/kubelet/config.yaml")


@dataclass(frozen=True)
class StaticPodPath:
    path: Path
    source: str  # for people: "kubelet --pod-manifest-path (pid 812)"


def _processes(proc: Path) -> Iterator[tuple[int, list[str]]]:
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = [a for a in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if a]
            if args:
                yield int(entry.name), args


def flag_value(args: list[str], name: str) -> str | None:
    """`--name=value` or `--name value` (Go's flag package accepts both); the last occurrence wins."""
    found = None
    for i, arg in enumerate(args):
        if arg.startswith(f"--{name}="):
            found = arg.split("=", 1)[1]
        elif arg == f"--{name}" and i + 1 < len(args):
            found = args[i + 1]
    return found


def static_pod_path_in(config_file: Path) -> Path | None:
    try:
        document = yaml.safe_load(config_file.read_text())
    except (OSError, yaml.YAMLError):
        return None
    value = document.get("staticPodPath") if isinstance(document, dict) else None
    if not value:
        return None
    path = Path(str(value))
    return path if path.is_absolute() else config_file.parent / path


def detect(explicit: Path | None, proc: Path = PROC, root: Path = Path("/")) -> StaticPodPath:
    """Where the installed kubelet reads static pods from; ConfigError when no kubelet can be found."""
    if explicit is not None:
        return StaticPodPath(explicit, "the explicit staticPodPath setting")
    k3s_running = False
    for pid, args in _processes(proc):
        command = os.path.basename(args[0])
        if command in ("k3s", "k3s-agent", "k3s-server"):  # k3s embeds its kubelet: no separate process
            k3s_running = True
        if command != "kubelet":
            continue
        manifest_path = flag_value(args, "pod-manifest-path")
        if manifest_path:
            return StaticPodPath(Path(manifest_path), f"kubelet --pod-manifest-path (pid {pid})")
        config = flag_value(args, "config")
        if config:
            config_path = root / config.lstrip("/") if Path(config).is_absolute() else root / config
            found = static_pod_path_in(config_path)
            if found:
                return StaticPodPath(found, f"staticPodPath in {config} (kubelet --config, pid {pid})")
    k3s_dir = root / K3S_MANIFESTS.relative_to("/")
    if k3s_running or k3s_dir.is_dir():
        return StaticPodPath(K3S_MANIFESTS, "k3s's agent pod-manifests directory")
    found = static_pod_path_in(root / KUBEADM_KUBELET_CONFIG.relative_to("/"))
    if found:
        return StaticPodPath(found, f"staticPodPath in {KUBEADM_KUBELET_CONFIG} (kubelet not running)")
    raise ConfigError(
        "--reconciler kubelet: no kubelet with a staticPodPath was found on this machine",
        hint="start the kubelet, or name the directory with --static-pod-path (or use --reconciler bundled)",
    )
