"""From `kbs reconcile` flag values to Settings: a kbs configuration file's defaults, the checks, the header syntax.

Independent of click: the CLI hands over the flag values by parameter name plus the names given on the command
line (those win over the configuration file), and turns a FlagError into a usage error (exit 2). The mapping from
a configuration file is the same one `kbs init` uses to start the reconciler.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from pathlib import Path
from typing import Any

from bootstrap import constants
from bootstrap.reconciler.settings import Settings


class FlagError(ValueError):
    """Flag values that cannot run a reconciler; `param_hint` names the flag when one is to blame."""

    def __init__(self, message: str, *, param_hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param_hint = param_hint


def parse_headers(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The kubelet's --manifest-url-header: 'a:hello,b:again', repeatable; repeated names append."""
    out: list[tuple[str, str]] = []
    for value in values:
        for pair in value.split(","):
            if not pair.strip():
                continue
            name, sep, content = pair.partition(":")
            if not sep or not name.strip():
                raise FlagError(f"{pair!r} is not NAME:VALUE", param_hint="--manifest-url-header")
            out.append((name.strip(), content.strip()))
    return tuple(out)


def from_config(path: Path) -> dict[str, Any]:
    """Flag values implied by a kbs configuration file (the same mapping `kbs init` uses to start us)."""
    from bootstrap.config import load_config
    from bootstrap.reconciler.apiserver import ApiServerSettings

    cfg = load_config(path)
    rec = cfg.kbs.reconciler
    return {
        "manifest_dir": cfg.manifests_dir,
        "node_name": cfg.node_name,
        "node_ip": cfg.advertise_address,
        "pod_infra_container_image": cfg.image("pause"),
        "state_dir": rec.state_dir / "reconciler",
        "healthz_port": rec.healthz_port,
        "healthz_bind_address": rec.healthz_bind_address,
        "file_check_frequency": rec.file_check_frequency.total_seconds(),
        "http_check_frequency": rec.http_check_frequency.total_seconds(),
        "manifest_url": rec.static_pod_url,
        "docker_host": rec.docker_host,
        # issue 6 hook: node, mirror pods, events, read API (reconciler/apiserver)
        "apiserver": ApiServerSettings.from_config(cfg),
    }


def build_settings(flags: Mapping[str, Any], given: Container[str]) -> Settings:
    """Settings from flag values by parameter name; `given`: the names set on the command line (they beat --config)."""
    from bootstrap.config.host import hostname
    from bootstrap.reconciler.settings import default_pause_image

    values = dict(flags)
    if values.get("config_file") is not None:
        for name, value in from_config(values["config_file"]).items():
            if name not in given:
                values[name] = value  # the command line wins over the file
    if values["no_manifest_dir"] and values["manifest_dir"] is not None:
        raise FlagError("--manifest-dir and --no-manifest-dir exclude each other")
    manifest_dir = None if values["no_manifest_dir"] else (values["manifest_dir"] or constants.MANIFESTS_DIR)
    if manifest_dir is None and not values["manifest_url"]:
        raise FlagError("nothing to run: give --manifest-dir or --manifest-url")
    node = values["node_name"] or hostname()
    if not node:
        raise FlagError("cannot tell the node name: pass --node-name")
    return Settings(
        node_name=node,
        manifest_dir=manifest_dir,
        manifest_url=values["manifest_url"],
        manifest_url_headers=parse_headers(values["manifest_url_header"]),
        file_check_frequency=values["file_check_frequency"],
        http_check_frequency=values["http_check_frequency"],
        healthz_port=values["healthz_port"] or None,
        healthz_bind_address=values["healthz_bind_address"],
        docker_host=values["docker_host"],
        state_dir=values["state_dir"],
        pause_image=values["pod_infra_container_image"] or default_pause_image(),
        node_ip=values["node_ip"],
        apiserver=values.get("apiserver"),  # issue 6 hook: only with --config (kubelet.conf's location)
    )
