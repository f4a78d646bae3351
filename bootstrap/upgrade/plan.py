"""The pure part of an upgrade: which versions may follow which, what changes, in which order, what to undo.

kubeadm's rules (reference: node-ha-upgrade.md §2): one minor at a time, never a downgrade of the minor, etcd
first, then kube-apiserver, kube-controller-manager, kube-scheduler; a component whose new manifest equals the
current one is skipped; when a component does not become healthy in time, it and every component upgraded before
it get their old manifests back, last first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bootstrap import constants
from bootstrap.errors import KbsError
from bootstrap.versions import parse

ORDER = constants.ALL_COMPONENTS  # etcd, kube-apiserver, kube-controller-manager, kube-scheduler


class UpgradeError(KbsError):
    """An upgrade that must not start, could not finish, or was rolled back."""


@dataclass(frozen=True)
class Step:
    component: str
    old: str | None  # the manifest before the upgrade (None: there was none)
    new: str


def check_skew(current: str, target: str) -> None:
    """kubeadm's version-skew rule for `upgrade apply`: the same minor (a patch) or the next one, never older."""
    cur, tgt = parse(current), parse(target)
    if tgt[0] != cur[0]:
        raise UpgradeError(f"cannot upgrade from {current} to {target}: a different major version")
    if tgt[1] > cur[1] + 1:
        raise UpgradeError(
            f"cannot upgrade from {current} to {target}: one minor at a time",
            hint=f"upgrade to v{cur[0]}.{cur[1] + 1}.x first",
        )
    if tgt < cur:
        raise UpgradeError(
            f"{target} is older than the running {current}: kbs upgrade does not downgrade",
            hint="restore the manifests and the etcd snapshot of the backup directory to go back",
        )


def steps(old: Mapping[str, str | None], new: Mapping[str, str], *, etcd_upgrade: bool = True) -> list[Step]:
    """The components to rewrite, in kubeadm's order, leaving out unchanged ones (and etcd when not wanted)."""
    result = []
    for component in ORDER:
        if component not in new or (component == constants.ETCD and not etcd_upgrade):
            continue
        if old.get(component) == new[component]:
            continue
        result.append(Step(component, old.get(component), new[component]))
    return result


def rollback_order(done: list[Step], failed: Step) -> list[Step]:
    """What to restore when `failed` did not become healthy: it and everything before it, last first."""
    return [failed, *reversed([s for s in done if s.component != failed.component])]


def available(current: str, supported: list[str]) -> list[str]:
    """The versions `upgrade apply` accepts from `current`: newer, and at most one minor ahead (newest first)."""
    result = []
    for version in supported:
        try:
            check_skew(current, version)
        except UpgradeError:
            continue
        if version != current:
            result.append(version)
    return result


def image_ref(manifest: str | None) -> str | None:
    """The first image a manifest's text names (a control-plane manifest has one container)."""
    for line in (manifest or "").splitlines():
        text = line.strip().removeprefix("- ")
        if text.startswith("image:"):
            return text.split(":", 1)[1].strip().strip("'\"") or None
    return None


def image_tag(manifest: str | None) -> str | None:
    """The tag of that image: for kube-apiserver's manifest, the Kubernetes version the node runs."""
    image = image_ref(manifest)
    if image is None or ":" not in image.rsplit("/", 1)[-1]:
        return None
    return image.rsplit(":", 1)[1]


# kubeadm's renewCertsByComponent: the certificates and kubeconfig files each component's upgrade renews.
CERTS_BY_COMPONENT: dict[str, tuple[str, ...]] = {
    constants.ETCD: ("etcd-server", "etcd-peer", "etcd-healthcheck-client"),
    constants.KUBE_APISERVER: ("apiserver", "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client"),
    constants.KUBE_CONTROLLER_MANAGER: (constants.CONTROLLER_MANAGER_KUBECONFIG,),
    constants.KUBE_SCHEDULER: (constants.SCHEDULER_KUBECONFIG,),
}
