"""The addon phase: kubeadm's `addon/coredns` and `addon/kube-proxy`, the objects a worker needs for Services.

Each sub-phase builds kubeadm's objects (bootstrap.kube.coredns, bootstrap.kube.kube_proxy) from the
configuration and ensures them by server-side apply with field manager `kbs`: a re-run converges, and fields
kbs does not set (an annotation, a label, a user's extra toleration) are left to whoever set them. Two values
follow kubeadm's "keep what is deployed" rules: the CoreDNS Deployment keeps its current replicas (kubectl
scale survives), and an edited Corefile is kept (kubeadm's CreateOrRetain for a non-default Corefile).
`dns.disabled` / `proxy.disabled` in the ClusterConfiguration make the sub-phase do nothing, as kubeadm does.

The pods will not run on a kbs control-plane node (the reconciler runs static pods only); they run on workers.
"""

from __future__ import annotations

from bootstrap import constants
from bootstrap.config import kubeproxy
from bootstrap.kube import coredns
from bootstrap.kube import kube_proxy as proxy
from bootstrap.kube.api import Obj
from bootstrap.phases.apply import ensure_all
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

PHASE = "addon"


def coredns_objects(data: InitData, current: Obj | None = None, current_config: Obj | None = None) -> list[Obj]:
    """CoreDNS's objects for this configuration; `current`/`current_config`: the Deployment/ConfigMap in the
    cluster, whose replicas and edited Corefile are kept."""
    cfg = data.real_cfg or data.cfg
    replicas = constants.COREDNS_REPLICAS
    if current is not None and isinstance(current.get("spec", {}).get("replicas"), int):
        replicas = current["spec"]["replicas"]
    objects = coredns.objects(
        image=cfg.image(constants.COREDNS),
        dns_domain=cfg.cluster.networking.dns_domain,
        service_subnet=cfg.cluster.networking.service_subnet,
        replicas=replicas,
    )
    if current_config is not None and current_config.get("data", {}).get("Corefile"):
        objects = [o for o in objects if not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == constants.COREDNS)]
    return objects


def kube_proxy_objects(data: InitData, environ: dict[str, str] | None = None) -> list[Obj]:
    import os

    from bootstrap.render.context import proxy_env
    from bootstrap.versions import parse

    cfg = data.real_cfg or data.cfg
    config = kubeproxy.build(
        cfg.kube_proxy,
        advertise_address=cfg.advertise_address,
        pod_subnet=cfg.cluster.networking.pod_subnet,
        minor=parse(cfg.kubernetes_version)[:2],
    )
    return proxy.objects(
        config,
        server=cfg.api_server_url,
        image=cfg.image(constants.KUBE_PROXY),
        proxy_env=proxy_env(os.environ if environ is None else environ),
        sign=cfg.kube_proxy is None,
    )


def run_coredns(data: InitData) -> Outcome:
    if data.cfg.cluster.dns.disabled:
        return Outcome("skipped: dns.disabled is set in the ClusterConfiguration")
    api = data.api()
    current = api.get("apps/v1", "Deployment", constants.COREDNS, constants.KUBE_SYSTEM)
    config = api.get("v1", "ConfigMap", constants.COREDNS, constants.KUBE_SYSTEM)
    if config is not None and config.get("data", {}).get("Corefile") == coredns.corefile(
        (data.real_cfg or data.cfg).cluster.networking.dns_domain
    ):
        config = None  # kbs's own Corefile: keep converging it
    outcome = ensure_all(data, f"{PHASE}/coredns", coredns_objects(data, current, config))
    if config is not None:
        data.out.line(f"{PHASE}/coredns", "kept the existing Corefile of ConfigMap kube-system/coredns (edited)")
    return outcome


def run_kube_proxy(data: InitData) -> Outcome:
    if data.cfg.cluster.proxy.disabled:
        return Outcome("skipped: proxy.disabled is set in the ClusterConfiguration")
    return ensure_all(data, f"{PHASE}/kube-proxy", kube_proxy_objects(data))
