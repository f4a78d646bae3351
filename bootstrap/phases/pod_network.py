"""The pod-network phase: kbs's one step beyond kubeadm init, opt-in with `--pod-network flannel` (or
`podNetwork: flannel` in the KbsConfiguration).

kubeadm leaves the pod network to the operator (`kubectl apply -f <network>.yaml` after init), and so does kbs by
default ("none"). A lab wants a cluster whose workers turn Ready without a download, so kbs can apply flannel
itself: the objects of bootstrap.kube.flannel for this cluster's podSubnet, by server-side apply like the addons,
so a re-run converges. Another network is installed the kubeadm way, with kubectl, after `kbs init`
(docs/operations.md).
"""

from __future__ import annotations

from bootstrap import versions
from bootstrap.kube import flannel
from bootstrap.kube.api import Obj
from bootstrap.phases.apply import ensure_all
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

PHASE = "pod-network"


def pod_network_objects(data: InitData) -> list[Obj]:
    """The chosen network's objects (loading the configuration checked that podSubnet has an IPv4 range)."""
    cfg = data.real_cfg or data.cfg
    images = versions.pod_network(cfg.kbs.pod_network)
    return flannel.objects(
        pod_subnet=cfg.cluster.networking.pod_subnet, image=images.image, cni_plugin_image=images.cni_plugin_image
    )


def run(data: InitData) -> Outcome:
    if data.cfg.kbs.pod_network == "none":
        return Outcome("skipped: no --pod-network chosen (install one with kubectl, as after kubeadm init)")
    return ensure_all(data, PHASE, pod_network_objects(data))
