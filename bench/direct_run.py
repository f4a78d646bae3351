"""Start the containers of static pod manifests directly with `docker run` (no kbs, no kubelet): the baseline.

Each manifest's single container is run on the host network with the manifest's image, command, args, env and
hostPath volumes (optionally remapped), as the same flags kbs's reconciler would pass. Used by bench/init_bench.py
to measure the components' own start-up time next to `kbs init`'s, and handy for poking at a control plane by hand:

    python bench/direct_run.py up /etc/kubernetes/manifests
    python bench/direct_run.py down
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import yaml

PREFIX = "kbs-direct-"


def _run_args(manifest: dict[str, Any], remap: Callable[[str], str]) -> dict[str, Any]:
    spec = manifest["spec"]
    container = spec["containers"][0]
    volumes = {v["name"]: v["hostPath"] for v in spec.get("volumes", []) if "hostPath" in v}
    binds = {}
    for mount in container.get("volumeMounts", []):
        source = volumes.get(mount["name"])
        if source is None:
            continue
        host = remap(source["path"])
        if source.get("type") == "DirectoryOrCreate":
            Path(host).mkdir(parents=True, exist_ok=True)
        elif not Path(host).exists():
            continue  # the kubelet would refuse a missing File/Directory; optional mounts (ca-certificates) skip
        binds[host] = {"bind": mount["mountPath"], "mode": "ro" if mount.get("readOnly") else "rw"}
    command = container.get("command") or []
    return {
        "image": container["image"],
        "entrypoint": command[:1] or None,
        "command": command[1:] + container.get("args", []),
        "environment": {e["name"]: e.get("value", "") for e in container.get("env", [])},
        "volumes": binds,
        "network_mode": "host",
        "detach": True,
        "name": PREFIX + manifest["metadata"]["name"],
    }


def up(manifests: list[Path], remap: Callable[[str], str] = lambda p: p) -> list[str]:
    """`docker run` every manifest's container; returns the container names."""
    client = docker.from_env()
    names = []
    try:
        for path in manifests:
            args = _run_args(yaml.safe_load(path.read_text()), remap)
            client.containers.run(**args)
            names.append(args["name"])
    finally:
        client.close()
    return names


def down() -> list[str]:
    client = docker.from_env()
    removed = []
    try:
        for container in client.containers.list(all=True, filters={"name": PREFIX}):
            container.remove(force=True)
            removed.append(str(container.name))
    finally:
        client.close()
    return removed


if __name__ == "__main__":
    if sys.argv[1:2] == ["up"]:
        print("\n".join(up(sorted(Path(sys.argv[2]).glob("*.yaml")))))
    elif sys.argv[1:2] == ["down"]:
        print("\n".join(down()))
    else:
        sys.exit(__doc__)
