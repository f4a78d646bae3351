"""kbs's own document, `kbs.dev/v1alpha1` KbsConfiguration: node paths and the reconciler's settings.

It lives in the same multi-document file as kubeadm's documents; kubeadm ignores it (unknown group), kbs ignores
the kubeadm kinds it does not use. Every field has a default, so the document is optional.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import field

from bootstrap import constants
from bootstrap.config.kinds import KBS_API_VERSION, KBS_KIND
from bootstrap.config.types import Document, Duration, Port

ReconcilerMode = Literal["bundled", "kubelet", "none"]
PodNetwork = Literal["none", "flannel"]


class Reconciler(Document):
    """Who runs the static pods: kbs's bundled reconciler on Docker, an existing kubelet, or nobody (files only)."""

    mode: ReconcilerMode = "bundled"
    docker_host: str | None = None  # None: $DOCKER_HOST, else the engine's default socket
    file_check_frequency: Duration = timedelta(seconds=20)  # the kubelet's default relist period
    http_check_frequency: Duration = timedelta(seconds=20)
    static_pod_url: str | None = field(default=None, name="staticPodURL")
    healthz_bind_address: str = "127.0.0.1"
    healthz_port: Port = constants.KUBELET_HEALTHZ_PORT
    port: Port = constants.KUBELET_PORT  # the read API (pods, logs) like the kubelet's 10250
    state_dir: Path = constants.KBS_STATE_DIR
    run_dir: Path = constants.KBS_RUN_DIR
    log_dir: Path = constants.KBS_LOG_DIR
    wait_timeout: Duration = timedelta(minutes=4)  # how long `kbs init` waits for the control plane to be healthy


class EtcdSnapshots(Document):
    """Snapshots of the local etcd (`kbs etcd snapshot`), k3s's defaults: every 12 hours, keep 5 scheduled ones.

    The directory defaults to `<reconciler.stateDir>/etcd-snapshots` (/var/lib/kbs/etcd-snapshots): outside the
    etcd data directory, which a restore moves aside, and outside /etc/kubernetes, which holds configuration.
    """

    dir: Path | None = None
    schedule_cron: str = constants.ETCD_SNAPSHOT_SCHEDULE
    retention: Annotated[int, msgspec.Meta(ge=1)] = (
        constants.ETCD_SNAPSHOT_RETENTION
    )  # scheduled snapshots kept; on-demand ones are never pruned
    disable_scheduled: bool = False


class CertificateRenewal(Document):
    """Leaf certificates and kubeconfig files renewed by the bundled reconciler before they expire (never a CA).

    A file is renewed once less than renewBefore of its validity is left; by default min(30 days, a third of its
    lifetime). The reconciler looks every checkInterval (and sleeps no longer than until the next renewal is due).
    """

    disabled: bool = False
    renew_before: Duration | None = None
    check_interval: Duration = timedelta(hours=1)


class KbsConfiguration(Document):
    api_version: Literal["kbs.dev/v1alpha1"] = KBS_API_VERSION
    kind: Literal["KbsConfiguration"] = KBS_KIND
    kubernetes_dir: Path = constants.KUBERNETES_DIR
    static_pod_path: Path | None = None  # default: <kubernetesDir>/manifests
    reconciler: Reconciler = field(default_factory=Reconciler)
    # The pod network `kbs init` applies after the addons; "none", like kubeadm, leaves the choice to the operator.
    pod_network: PodNetwork = "none"
    etcd_snapshots: EtcdSnapshots = field(default_factory=EtcdSnapshots)
    certificate_renewal: CertificateRenewal = field(default_factory=CertificateRenewal)
