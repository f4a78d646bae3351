"""InitData: what every init phase receives — the configuration, the options of this run, and its seams.

Dry-run works the way kubeadm's does, by redirection rather than by `if dry_run:` in every phase: the
configuration handed to the phases has every directory moved under a temporary directory (bootstrap.phases.dryrun),
and `api()` returns an in-memory API server that records what would be written. The few phases that act on
the machine itself (starting the reconciler, waiting for health) ask `dry_run` and describe instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap import constants
from bootstrap.phases.workflow import Reporter

if TYPE_CHECKING:
    from collections.abc import Callable

    from bootstrap.config.effective import KbsConfig
    from bootstrap.kube.api import KubeAPI
    from bootstrap.kube.memory import Action


@dataclass
class InitOptions:
    """Flags of `kbs init` that are about this run, not about the cluster (those live in KbsConfig)."""

    dry_run: bool = False
    ignore_preflight_errors: frozenset[str] = frozenset()  # lower-cased check names, or "all"
    adopt: bool = False  # take over foreign manifests already in the staticPodPath
    wait_timeout: timedelta | None = None  # None: the configuration's (4m by default)
    token_ttl: timedelta | None = None  # None: the configuration's bootstrapTokens[0].ttl, else 24h
    interactive: bool = False  # a terminal: live progress display while waiting
    upload_certs: bool = False  # store the shared certificates in kube-system/kubeadm-certs
    certificate_key: str | None = field(default=None, repr=False)  # None: the configuration's, else a new one
    skip_certificate_key_print: bool = False


@dataclass
class JoinOptions:
    """`kbs join --control-plane`: how this node finds and trusts the cluster (the config comes from the cluster)."""

    endpoint: str  # host:port of the control plane (controlPlaneEndpoint), the join command's argument
    token: str = field(repr=False)
    ca_hashes: tuple[str, ...]
    certificate_key: str = field(default="", repr=False)  # empty: the shared certificates are already on disk
    discovery_timeout: float = 300.0  # seconds: how long discovery waits for the API server and the signature


@dataclass
class InitData:
    cfg: KbsConfig  # with dry-run, the redirected copy
    out: Reporter
    options: InitOptions = field(default_factory=InitOptions)
    real_cfg: KbsConfig | None = None  # with dry-run: the configuration as it would apply on the machine
    dry_run_dir: Path | None = None
    scratch: dict[str, Any] = field(default_factory=dict)  # values one phase leaves for a later one
    join: JoinOptions | None = None  # set when the workflow is `kbs join --control-plane`
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run by close(), last first
    _api: KubeAPI | None = None

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    @property
    def admin_kubeconfig(self) -> Path:
        return self.cfg.kubeconfig(constants.ADMIN_KUBECONFIG)

    def api(self) -> KubeAPI:
        """The API client of this run: in-memory with dry-run, else admin.conf's cluster (built once)."""
        if self._api is None:
            if self.dry_run:
                from bootstrap.kube.memory import MemoryAPI

                self._api = MemoryAPI()
            else:
                from bootstrap.kube.admin import ensure_admin_binding
                from bootstrap.kube.api import LightkubeAPI

                timeout = self.cfg.init.timeouts.kubernetes_api_call.total_seconds()
                api = LightkubeAPI(self.admin_kubeconfig, timeout=timeout)
                super_admin = self.cfg.kubeconfig(constants.SUPER_ADMIN_KUBECONFIG)
                if ensure_admin_binding(api, super_admin, timeout=timeout):
                    self.out.line("kubeconfig", "bound admin.conf's group kubeadm:cluster-admins to cluster-admin")
                self._api = api
        return self._api

    def recorded_actions(self) -> list[Action]:
        """With --dry-run: the writes the in-memory API server recorded (what kbs would create or change)."""
        from bootstrap.kube.memory import MemoryAPI

        return list(self._api.actions) if isinstance(self._api, MemoryAPI) else []

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
        while self.cleanups:
            self.cleanups.pop()()
