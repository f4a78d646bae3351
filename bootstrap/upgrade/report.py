"""`kbs upgrade plan`'s text: versions, the skew rules' verdict, and the manifests' diff for the next version."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from bootstrap import constants, versions
from bootstrap.upgrade import plan
from bootstrap.upgrade.apply import current_version, new_manifests, read_manifests
from bootstrap.upgrade.state import UpgradeState

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


def with_version(cfg: KbsConfig, version: str) -> KbsConfig:
    """`cfg` for another Kubernetes version (what `kbs render --kubernetes-version` would render)."""
    from msgspec.structs import replace

    cluster = replace(cfg.cluster, kubernetes_version=version)
    return dataclasses.replace(cfg, cluster=cluster, version=versions.lookup(version))


def plan_text(cfg: KbsConfig) -> str:
    from bootstrap.render.writer import diff_manifests

    current = current_version(cfg)
    supported = [v.version for v in versions.supported()]
    targets = plan.available(current, supported)
    lines = [f"This node runs Kubernetes {current}.", ""]
    state = UpgradeState.load(cfg.kbs.reconciler.state_dir)
    if state is not None:
        lines += [
            f"An upgrade to {state.target} was interrupted ({state.phase}); `kbs upgrade apply {state.target}` "
            "finishes it.",
            "",
        ]
    if not targets:
        lines.append(f"No upgrade available: kbs supports {', '.join(supported)}, one minor at a time.")
        return "\n".join(lines) + "\n"
    old = read_manifests(cfg.manifests_dir)
    for target in targets:
        target_cfg = with_version(cfg, target)
        rows = versions.lookup(target)
        lines.append(f"Upgrade to {target}: `kbs upgrade apply {target}`")
        lines.append(f"  {'COMPONENT':26} {'CURRENT':18} TARGET")
        new = new_manifests(target_cfg)
        for component in plan.ORDER:
            if component in new:
                lines.append(
                    f"  {component:26} {plan.image_tag(old.get(component)) or '-':18} {plan.image_tag(new[component])}"
                )
        lines.append(f"  {'coredns':26} {'':18} {rows.coredns_tag}")
        lines.append(f"  {constants.KUBE_PROXY:26} {'':18} {target}")
        diff = diff_manifests(new, cfg.manifests_dir)
        lines += ["", "  The manifests would change so:", *("    " + d for d in diff.splitlines())] if diff else []
        lines.append("")
    lines.append("Skew rules: one minor at a time; kubelets may be up to three minors older, never newer.")
    return "\n".join(lines) + "\n"
