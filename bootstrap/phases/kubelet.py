"""Find the staticPodPath of a kubelet already installed here, as the seeds find it by hand.

In order (the first answer wins, and kbs says which one it used):
1. an explicit setting (KbsConfiguration.staticPodPath / --static-pod-path);
2. a running kubelet (`ps aux | grep kubelet`), read the way the kubelet itself merges its settings: the
   `--pod-manifest-path` flag wins over the files; else the last `staticPodPath` among its `--config-dir`
   drop-ins (`*.conf`, in name order), else `staticPodPath` in the file its `--config` flag names (relative paths
   are relative to the kubelet's working directory, a relative staticPodPath to the config file's directory);
3. k3s's agent directory /var/lib/rancher/k3s/agent/pod-manifests, when k3s runs (its kubelet is in-process) or
   the directory exists;
4. `staticPodPath` in kubeadm's /var/lib/kubelet/config.yaml: a kubelet that is installed but not running yet
   (kubeadm's kubelet unit restarts it until its kubeconfig, which `kbs init` writes, exists).

A kubelet that runs but reads no static pods (no staticPodPath anywhere: the kubelet's own default is "", no file
source), or whose --config file cannot be read or parsed, is an error naming the process, the file and the field:
writing manifests nobody reads would only end in a timeout.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from bootstrap.errors import ConfigError

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

PROC = Path("/proc")
K3S_MANIFESTS = Path("/var/lib/rancher/k3s/agent/pod-manifests")
KUBEADM_KUBELET_CONFIG = Path("/var/lib/kubelet/config.yaml")
FIELD = "staticPodPath"
K3S_COMMANDS = frozenset({"k3s", "k3s-agent", "k3s-server"})  # k3s embeds its kubelet: no separate process


@dataclass(frozen=True)
class StaticPodPath:
    path: Path
    source: str  # for people: "kubelet --pod-manifest-path (pid 812)"


def _processes(proc: Path) -> Iterator[tuple[int, list[str]]]:
    for entry in sorted(proc.iterdir(), key=lambda p: (len(p.name), p.name)):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = [a for a in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if a]
            if args:
                yield int(entry.name), args


def flag_value(args: list[str], name: str) -> str | None:
    """`--name=value` or `--name value` (Go's flag package accepts both, and one dash too); the last one wins."""
    found = None
    for i, arg in enumerate(args):
        for dashes in ("--", "-"):
            if arg.startswith(f"{dashes}{name}="):
                found = arg.split("=", 1)[1]
            elif arg == f"{dashes}{name}" and i + 1 < len(args):
                found = args[i + 1]
    return found


def _clean(value: str) -> Path:
    """The kubelet trims trailing slashes from the staticPodPath (NewSourceFile)."""
    return Path(value.rstrip("/") or "/")


def static_pod_path_in(config_file: Path, shown: str | None = None) -> Path | None:
    """`staticPodPath` in a KubeletConfiguration file; None when the file does not set it (or is empty).

    Raises ConfigError naming the file and the field when the file cannot be read or is not a YAML mapping.
    `shown` is the name to print (the path as the kubelet sees it, when `config_file` is under a test root).
    """
    name = shown or str(config_file)
    try:
        document = yaml.safe_load(config_file.read_text())
    except OSError as exc:
        raise ConfigError(
            f"--reconciler kubelet: cannot read the kubelet's configuration {name} to find its {FIELD}: "
            f"{exc.strerror or exc}",
            hint="make the file readable (run kbs as root), or name the directory with --static-pod-path",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"--reconciler kubelet: the kubelet's configuration {name} is not valid YAML, so its {FIELD} is unknown: "
            f"{str(exc).splitlines()[0]}",
            hint="fix the file (the kubelet cannot start with it either), or name the directory with --static-pod-path",
        ) from exc
    if document is None:
        return None
    if not isinstance(document, dict):
        raise ConfigError(
            f"--reconciler kubelet: the kubelet's configuration {name} is not a KubeletConfiguration mapping",
            hint="fix the file, or name the directory with --static-pod-path",
        )
    value = document.get(FIELD)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(
            f"--reconciler kubelet: {name}: {FIELD} must be a path, got {value!r}",
            hint="fix the file, or name the directory with --static-pod-path",
        )
    path = _clean(value)
    return path if path.is_absolute() else Path(name).parent / path


def _under(root: Path, path: Path) -> Path:
    return root / path.relative_to("/") if path.is_absolute() else root / path


def _cwd(proc: Path, pid: int) -> Path:
    with contextlib.suppress(OSError):
        return Path(os.readlink(proc / str(pid) / "cwd"))
    return Path("/")


def _from_kubelet(pid: int, args: list[str], proc: Path, root: Path) -> StaticPodPath | None:
    """The staticPodPath of one running kubelet, as its flags and files set it (None: it reads no static pods)."""
    manifest_path = flag_value(args, "pod-manifest-path")
    if manifest_path:
        return StaticPodPath(_clean(manifest_path), f"kubelet --pod-manifest-path (pid {pid})")
    cwd = _cwd(proc, pid)
    drop_ins = flag_value(args, "config-dir")
    if drop_ins:
        directory = cwd / drop_ins
        found: StaticPodPath | None = None
        with contextlib.suppress(OSError):
            for item in sorted(_under(root, directory).iterdir()):
                if item.name.endswith(".conf") and item.is_file():
                    shown = directory / item.name
                    path = static_pod_path_in(item, str(shown))
                    if path is not None:
                        found = StaticPodPath(path, f"{FIELD} in {shown} (kubelet --config-dir, pid {pid})")
        if found:
            return found
    config = flag_value(args, "config")
    if config:
        shown = cwd / config
        path = static_pod_path_in(_under(root, shown), str(shown))
        if path is not None:
            return StaticPodPath(path, f"{FIELD} in {shown} (kubelet --config, pid {pid})")
    return None


def detect(explicit: Path | None, proc: Path = PROC, root: Path = Path("/")) -> StaticPodPath:
    """Where the installed kubelet reads static pods from; ConfigError when no kubelet can be found."""
    if explicit is not None:
        return StaticPodPath(explicit, "the explicit staticPodPath setting")
    k3s_running = False
    without: list[str] = []  # running kubelets that read no static pods
    for pid, args in _processes(proc):
        command = os.path.basename(args[0])
        k3s_running = k3s_running or command in K3S_COMMANDS
        if command != "kubelet":
            continue
        found = _from_kubelet(pid, args, proc, root)
        if found is not None:
            return found
        config = flag_value(args, "config")
        without.append(f"pid {pid}" + (f", --config {config}" if config else ", no --config"))
    k3s_dir = _under(root, K3S_MANIFESTS)
    if k3s_running or k3s_dir.is_dir():
        return StaticPodPath(K3S_MANIFESTS, "k3s's agent pod-manifests directory")
    if without:
        raise ConfigError(
            f"--reconciler kubelet: the running kubelet ({'; '.join(without)}) reads no static pods: "
            f"neither --pod-manifest-path nor {FIELD} in its configuration is set",
            hint=f"set {FIELD} in the kubelet's configuration and restart it, or pass --static-pod-path",
        )
    kubeadm_config = _under(root, KUBEADM_KUBELET_CONFIG)
    if kubeadm_config.exists():
        path = static_pod_path_in(kubeadm_config, str(KUBEADM_KUBELET_CONFIG))
        if path is not None:
            return StaticPodPath(path, f"{FIELD} in {KUBEADM_KUBELET_CONFIG} (the kubelet is not running yet)")
    raise ConfigError(
        "--reconciler kubelet: no kubelet with a staticPodPath was found on this machine "
        f"(no kubelet process, no k3s, no {FIELD} in {KUBEADM_KUBELET_CONFIG})",
        hint="start the kubelet, or name the directory with --static-pod-path (or use --reconciler bundled)",
    )


def resolve(cfg: KbsConfig) -> tuple[KbsConfig, StaticPodPath | None]:
    """`cfg` with the installed kubelet's staticPodPath when kbs hands its pods to a kubelet (mode kubelet and no
    explicit staticPodPath); any other configuration comes back unchanged, with None."""
    if cfg.kbs.reconciler.mode != "kubelet":
        return cfg, None
    found = detect(cfg.kbs.static_pod_path)
    if found.path == cfg.kbs.static_pod_path:
        from bootstrap.phases import node_setup

        if node_setup.from_record(cfg):
            found = StaticPodPath(found.path, "kbs's record of this node's setup")
        return cfg, found
    import dataclasses

    from msgspec.structs import replace

    return dataclasses.replace(cfg, kbs=replace(cfg.kbs, static_pod_path=found.path)), found


KUBELET_CERT_DIR = Path("/var/lib/kubelet/pki")  # the kubelet's --cert-dir default (<root-dir>/pki)
CLIENT_CERT_PREFIX = "kubelet-client-"  # the kubelet's client certificates: <prefix><date>.pem, <prefix>current.pem


def cert_dir(proc: Path = PROC) -> Path:
    """Where the kubelet keeps its client certificates: a running kubelet's --cert-dir (or <--root-dir>/pki)."""
    for _, args in _processes(proc):
        if os.path.basename(args[0]) == "kubelet":
            if explicit := flag_value(args, "cert-dir"):
                return Path(explicit)
            if root := flag_value(args, "root-dir"):
                return Path(root) / "pki"
            break
    return KUBELET_CERT_DIR


def client_certificates_issued_by(ca_pem: bytes, directory: Path) -> list[Path]:
    """The kubelet's client certificates in `directory` that `ca_pem` signed, and the `current` link to one.

    The kubelet takes its first client certificate from kubelet.conf and keeps it (and each rotation) there; after
    the cluster that issued them is gone, the kubelet would still present them to the next cluster's API server
    (which rejects them) instead of the new kubelet.conf's: `kbs reset` removes the ones its cluster's CA signed.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    ca = x509.load_pem_x509_certificate(ca_pem)
    found: list[Path] = []
    try:
        entries = sorted(p for p in directory.iterdir() if p.name.startswith(CLIENT_CERT_PREFIX))
    except OSError:
        return []
    for path in entries:
        if path.is_symlink():
            continue
        with contextlib.suppress(OSError, ValueError, TypeError, InvalidSignature):
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            cert.verify_directly_issued_by(ca)
            found.append(path)
    for path in entries:
        if path.is_symlink() and (directory / os.readlink(path)).resolve() in {p.resolve() for p in found}:
            found.append(path)
    return found
