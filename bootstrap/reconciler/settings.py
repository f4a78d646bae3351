"""Settings of one reconciler: what `kbs reconcile` flags or `kbs init` give it. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bootstrap import constants

if TYPE_CHECKING:
    from bootstrap.reconciler.apiserver.settings import ApiServerSettings


def default_pause_image() -> str:
    from bootstrap import versions

    return f"{constants.DEFAULT_IMAGE_REPOSITORY}/pause:{versions.default().pause_tag}"


@dataclass(frozen=True)
class Settings:
    node_name: str
    manifest_dir: Path | None = constants.MANIFESTS_DIR  # None: no file source
    manifest_url: str | None = None
    manifest_url_headers: tuple[tuple[str, str], ...] = ()
    file_check_frequency: float = constants.FILE_CHECK_FREQUENCY
    http_check_frequency: float = constants.HTTP_CHECK_FREQUENCY
    state_dir: Path = constants.RECONCILER_STATE_DIR
    docker_host: str | None = None
    healthz_port: int | None = None  # None or 0: no /healthz server
    healthz_bind_address: str = "127.0.0.1"
    pause_image: str = field(default_factory=default_pause_image)
    node_ip: str | None = None  # None: the default-route address (hostNetwork pods' IP, probe host)
    instance: str | None = None  # io.kbs.reconciler label value; None: the node name
    relist_period: float = constants.RUNTIME_RELIST_PERIOD
    resync_period: float = constants.POD_RESYNC_PERIOD
    housekeeping_period: float = constants.HOUSEKEEPING_PERIOD
    gc_period: float = constants.CONTAINER_GC_PERIOD
    apiserver: ApiServerSettings | None = None  # issue 6 hook: set -> mirror pods, node, events, read API

    @property
    def label_value(self) -> str:
        return self.instance or self.node_name.lower()

    @property
    def sources(self) -> tuple[str, ...]:
        out = []
        if self.manifest_dir is not None:
            out.append("file")
        if self.manifest_url:
            out.append("http")
        return tuple(out)
