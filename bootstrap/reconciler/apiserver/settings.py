"""What the API-server side of the reconciler needs to know: its identity, the read API's port and certificate.

Plain data, no I/O. `kubeconfig` is the node's own kubeconfig (kubelet.conf, user `system:node:<node>`); nothing
here ever holds admin credentials. The read API (port 10250 by default) serves with `serving_cert`/`serving_key`;
when `pki` is given, a missing or unfit certificate is (re)issued from the cluster CA at start-up
(pki.ensure_serving_certificate), otherwise the files must already exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bootstrap import constants

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig
    from pki.context import PKIContext


@dataclass(frozen=True)
class ApiServerSettings:
    kubeconfig: Path  # kubelet.conf: the node identity the reconciler uses for everything
    read_api_port: int | None = constants.KUBELET_PORT  # None or 0: no read API (kubectl logs then fails)
    read_api_bind_address: str = "0.0.0.0"
    serving_cert: Path = constants.RECONCILER_SERVING_DIR / constants.RECONCILER_SERVING_CERT
    serving_key: Path = constants.RECONCILER_SERVING_DIR / constants.RECONCILER_SERVING_KEY
    client_ca: Path | None = None  # CA of the clients the read API accepts; None: the kubeconfig's cluster CA
    pki: PKIContext | None = None  # set: issue the serving certificate from this PKI's CA when missing or unfit
    request_timeout: float = 10.0

    @classmethod
    def kubeadm_layout(
        cls,
        *,
        kubernetes_dir: Path,
        cert_dir: Path,
        node_name: str,
        advertise_address: str,
        port: int | None = constants.KUBELET_PORT,
        state_dir: Path = constants.RECONCILER_STATE_DIR,
    ) -> ApiServerSettings:
        """The usual wiring (what `kbs reconcile --config` wants): kubelet.conf from `kubernetes_dir`, the serving
        certificate under `<state_dir>/pki`, issued from the CA in `cert_dir`."""
        from pki.context import PKIContext

        serving = state_dir / "pki"
        return cls(
            kubeconfig=kubernetes_dir / constants.KUBELET_KUBECONFIG,
            read_api_port=port,
            serving_cert=serving / constants.RECONCILER_SERVING_CERT,
            serving_key=serving / constants.RECONCILER_SERVING_KEY,
            pki=PKIContext(
                node_name=node_name,
                advertise_address=advertise_address,
                cert_dir=cert_dir,
                kubernetes_dir=kubernetes_dir,
            ),
        )

    @classmethod
    def from_config(cls, cfg: KbsConfig) -> ApiServerSettings:
        """What `kbs reconcile --config` (and so `kbs init`) runs with: kubelet.conf of the kubernetes dir, the read
        API on `reconciler.port`, its certificate issued from the cluster CA with the cluster's key algorithm."""
        from dataclasses import replace

        from bootstrap.config import pki_context

        rec = cfg.kbs.reconciler
        layout = cls.kubeadm_layout(
            kubernetes_dir=cfg.kubernetes_dir,
            cert_dir=cfg.cert_dir,
            node_name=cfg.node_name,
            advertise_address=cfg.advertise_address,
            port=rec.port,
            state_dir=rec.state_dir / "reconciler",
        )
        return replace(layout, pki=pki_context(cfg))
