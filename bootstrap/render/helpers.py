"""The small pieces of kubeadm's manifest logic that templates call: flag merging, volume and env merging, URLs.

Each is a pure function over plain data, named after what kubeadm does (ArgumentsToCommand, VolumeMapToSlice,
MergeKubeadmEnvVars, getEtcdCertVolumes), so templates stay declarative and these stay unit-testable.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from bootstrap.errors import RenderError

Arg = Mapping[str, str]  # {"name": ..., "value": ...}

# Directories that /etc/ssl/certs may link into; kubeadm mounts each that exists on the host (volumes.go).
HOST_CA_DIRS = (
    "/etc/pki/ca-trust",
    "/etc/pki/tls/certs",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
)
CA_CERTS_DIR = "/etc/ssl/certs"


def command(binary: str, defaults: Mapping[str, str], extra: Iterable[Arg]) -> list[str]:
    """kubeadm's ArgumentsToCommand: defaults not overridden by `extra`, sorted, then `extra` in its order.

    An extra flag replaces every default of the same name; repeated extra flags are all kept (v1beta4).
    """
    extra = list(extra)
    overridden = {a["name"] for a in extra}
    kept = sorted((name, value) for name, value in defaults.items() if name not in overridden)
    return [binary] + [f"--{n}={v}" for n, v in kept] + [f"--{a['name']}={a['value']}" for a in extra]


def arg(extra: Iterable[Arg], name: str, default: str | None = None) -> str | None:
    """The value of the last `name` flag in `extra` (kubeadm's GetArgValue from the end), else `default`."""
    found = default
    for item in extra:
        if item["name"] == name:
            found = item["value"]
    return found


def has_arg(extra: Iterable[Arg], name: str) -> bool:
    return any(item["name"] == name for item in extra)


def join(*parts: str) -> str:
    """Go's filepath.Join: joined and cleaned."""
    return posixpath.normpath(posixpath.join(*parts))


def host_port(host: str, port: int | str) -> str:
    """net.JoinHostPort: brackets around an IPv6 literal."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def url(scheme: str, host: str, port: int | str) -> str:
    return f"{scheme}://{host_port(host, port)}"


def split_url(value: str) -> dict[str, Any]:
    """{scheme, host, port} of the first URL in a comma-separated list (like kubeadm's etcd probe endpoint)."""
    first = value.split(",", maxsplit=1)[0].strip()
    parts = urlsplit(first)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.scheme or parts.hostname is None or port is None:
        raise RenderError(f"{first!r} is not a URL with a scheme, a host and a port")
    return {"scheme": parts.scheme.upper(), "host": parts.hostname, "port": port}


def bind_probe_host(bind_address: str) -> str | None:
    """The probe host for a component bound to `bind_address`; None (no host field) for 0.0.0.0 and ::."""
    return None if bind_address in ("0.0.0.0", "::", "") else bind_address


def hostpath(
    name: str, path: str, mount_path: str | None = None, read_only: bool = False, path_type: str = "DirectoryOrCreate"
) -> dict[str, Any]:
    """One hostPath volume and its mount, in the shape `volumes()` and `volume_mounts()` read."""
    return {
        "name": name,
        "hostPath": path,
        "mountPath": mount_path or path,
        "readOnly": read_only,
        "pathType": path_type,
    }


def merge_mounts(*groups: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Mounts by name, a later one replacing an earlier one of the same name (AddExtraHostPathMounts)."""
    by_name: dict[str, Mapping[str, Any]] = {}
    for group in groups:
        for item in group:
            by_name[item["name"]] = item
    return list(by_name.values())


def sort_by_name(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """VolumeMapToSlice / VolumeMountMapToSlice order."""
    return sorted(items, key=lambda item: item["name"])


def merge_env(*groups: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """MergeKubeadmEnvVars: later lists win by name; the result sorted by name."""
    by_name: dict[str, Mapping[str, Any]] = {}
    for group in groups:
        for item in group:
            by_name[item["name"]] = item
    return [by_name[name] for name in sorted(by_name)]


def etcd_cert_dirs(files: Iterable[str], cert_dir: str) -> list[str]:
    """Directories to mount for external etcd cert files (getEtcdCertVolumes): outside the already-mounted
    certificate and CA directories, a parent directory absorbing its children, sorted."""
    dirs: set[str] = set()
    for path in files:
        directory = posixpath.dirname(path) or "."
        if path == "" or directory == ".":
            continue
        if any(directory.startswith(p) for p in (*HOST_CA_DIRS, CA_CERTS_DIR, cert_dir)):
            continue
        if any(directory.startswith(existing) for existing in dirs):
            continue
        dirs = {existing for existing in dirs if not existing.startswith(directory)}
        dirs.add(directory)
    return sorted(dirs)
