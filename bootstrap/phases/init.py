"""`kbs init`'s phases, in order, as data — and `prepare`, which builds the InitData they share.

Each entry names a module whose `run(data) -> Outcome` does one step; the CLI generates `kbs init phase <name>`
from this tuple and checks `--skip-phases` against it. Every phase converges: run it again and it reports
"unchanged" instead of failing or redoing work.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from bootstrap.phases.context import InitData, InitOptions
from bootstrap.phases.workflow import Outcome, Phase, Reporter, Workflow

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


def _lazy_run(module: str, function: str = "run") -> Callable[[InitData], Outcome]:
    """`module.function`, imported only when it runs (keeps `kbs init --help` fast)."""

    def run(data: InitData) -> Outcome:
        mod = importlib.import_module(f"bootstrap.phases.{module}")
        outcome: Outcome = getattr(mod, function)(data)
        return outcome

    return run


def _lazy(module: str) -> Phase[InitData]:
    children = tuple(
        Phase(name, text, _lazy_run(module, function)) for name, (function, text) in _CHILDREN.get(module, {}).items()
    )
    return Phase(module.replace("_", "-"), _HELP[module], _lazy_run(module), children=children)


_HELP = {
    "preflight": "Check the machine: root, CPUs, memory, swap, ports, Docker, images, clock.",
    "reconciler": "Start what runs the static pods: the bundled reconciler, or hand over to the kubelet.",
    "certs": "Create the CA and every certificate and key the control plane needs (existing ones are kept).",
    "kubeconfig": "Write admin, super-admin, controller-manager, scheduler and kubelet kubeconfig files.",
    "etcd": "Write the local etcd static pod manifest into the staticPodPath.",
    "control_plane": "Write the kube-apiserver, kube-controller-manager and kube-scheduler manifests.",
    "wait_control_plane": "Wait until etcd, kube-apiserver, controller-manager and scheduler are healthy.",
    "upload_config": "Store the ClusterConfiguration and kubelet configuration in the cluster.",
    "upload_certs": "Store the shared CA, front-proxy, service-account and etcd CA keys, encrypted (--upload-certs).",
    "mark_control_plane": "Label and taint this node as a control-plane node.",
    "bootstrap_token": "Create a bootstrap token, its RBAC rules and the signed cluster-info ConfigMap.",
    "addon": "Install the CoreDNS and kube-proxy addons through the API server (sub-phases coredns, kube-proxy).",
    "pod_network": "Install the pod network chosen with --pod-network (flannel); nothing when it is none.",
    "show_join_command": "Print the `kubeadm join` commands (workers, control planes) and how to use admin.conf.",
}

# phase module -> sub-phase name -> (function of that module, help); kubeadm's `addon/coredns`, `addon/kube-proxy`
_CHILDREN = {
    "addon": {
        "coredns": ("run_coredns", "Install the CoreDNS addon: ConfigMap, Deployment, kube-dns Service, RBAC."),
        "kube-proxy": ("run_kube_proxy", "Install the kube-proxy addon: ConfigMap, DaemonSet, RBAC."),
    }
}

INIT = Workflow[InitData]("kbs init", [_lazy(name) for name in _HELP])


def prepare(cfg: KbsConfig, options: InitOptions, reporter: Reporter) -> InitData:
    """Resolve what depends on the machine (the kubelet's staticPodPath), then redirect for --dry-run."""
    if cfg.kbs.reconciler.mode == "kubelet":
        from bootstrap.phases import kubelet

        cfg, found = kubelet.resolve(cfg)
        if found is not None:
            reporter.line("kubelet", f"staticPodPath {found.path} (from {found.source})")
    if not options.dry_run:
        return InitData(cfg=cfg, out=reporter, options=options)
    from bootstrap.phases import dryrun

    root = dryrun.make_dir()
    reporter.line("dryrun", f"writing everything under {root} instead of the real directories")
    return InitData(cfg=dryrun.redirect(cfg, root), out=reporter, options=options, real_cfg=cfg, dry_run_dir=root)


def sync_skipped_addons(cfg: KbsConfig, skipped: frozenset[str]) -> KbsConfig:
    """kubeadm's manageSkippedAddons: skipping `addon` or a sub-phase marks that addon disabled in the configuration
    (so the ClusterConfiguration uploaded says so, and `kubeadm upgrade` leaves it alone)."""
    import dataclasses

    from msgspec.structs import replace

    cluster = cfg.cluster
    if skipped & {"addon", "addon/coredns"} and not cluster.dns.disabled:
        cluster = replace(cluster, dns=replace(cluster.dns, disabled=True))
    if skipped & {"addon", "addon/kube-proxy"} and not cluster.proxy.disabled:
        cluster = replace(cluster, proxy=replace(cluster.proxy, disabled=True))
    return cfg if cluster is cfg.cluster else dataclasses.replace(cfg, cluster=cluster)


def start_early_work(data: InitData, phases: Collection[str]) -> None:
    """Start, in the background, work that later phases will need: the keys of the certs and kubeconfig phases.

    RSA key generation is most of those phases' time; begun here it overlaps the preflight checks (which wait on
    Docker) and the reconciler's start, instead of delaying the first manifest. close() cancels what is unused.
    """
    certificates, kubeconfigs = "certs" in phases, "kubeconfig" in phases
    if not (certificates or kubeconfigs):
        return
    from bootstrap.config import pki_context
    from bootstrap.phases import pki_files
    from pki.keys import RESERVE

    data.cleanups.append(RESERVE.close)
    pki_files.reserve_keys(pki_context(data.cfg), certificates=certificates, kubeconfigs=kubeconfigs)
