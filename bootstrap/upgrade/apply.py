"""`kbs upgrade apply`: kubeadm's static-pod upgrade of this node, with a journal and automatic rollback.

    preflight     the running version (kube-apiserver's image tag), the skew rule, every component healthy
    backup        <kubernetesDir>/tmp/kbs-upgrade-<target>-<date>-<time>/: the four manifests as they were and an
                  etcd snapshot (bootstrap/etcd, verified, with its checksum)
    components    etcd (unless --etcd-upgrade=false), kube-apiserver, kube-controller-manager, kube-scheduler: renew
                  the component's certificates (unless --certificate-renewal=false), write the new manifest, wait
                  (bootstrap.upgrade.waiting) until its mirror pod's hash changed, it runs the new image and its
                  health endpoint answers; if not within the timeout, restore it and every component before it
    cluster       the kubeadm-config and kubelet-config ConfigMaps (upload-config) and the CoreDNS and kube-proxy
                  addons, re-applied for the new version through the init phases that made them; the bundled
                  reconciler's configuration rewritten (it restarts and adopts the running containers)

The journal (bootstrap.upgrade.state) is written before each step acts; a re-run after a SIGKILL continues an
upgrade toward the same target, or finishes a rollback that had begun.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bootstrap import constants
from bootstrap.fsutil import ensure_dir
from bootstrap.phases.workflow import Reporter
from bootstrap.upgrade import plan, waiting
from bootstrap.upgrade.plan import Step, UpgradeError
from bootstrap.upgrade.state import UpgradeState

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig
    from bootstrap.kube.api import KubeAPI

PHASE = "upgrade"
BACKUP_PREFIX = "kbs-upgrade-"


@dataclass(frozen=True)
class ApplyOptions:
    target: str
    dry_run: bool = False
    etcd_upgrade: bool = True
    certificate_renewal: bool = True
    timeout: float | None = None  # seconds per component; None: the configuration's timeouts.upgradeManifests
    node: bool = False  # `kbs upgrade node`: this member only; the uploaded configuration and addons are apply's

    def rerun(self, target: str) -> str:
        """The command that finishes an interrupted run toward `target`."""
        return "kbs upgrade node" if self.node else f"kbs upgrade apply {target}"


Observe = Callable[["KbsConfig", "KubeAPI | None", str], waiting.Observation]


def manifest_path(cfg: KbsConfig, component: str) -> Path:
    return cfg.manifests_dir / f"{component}.yaml"


def read_manifests(directory: Path, components: tuple[str, ...] = plan.ORDER) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for component in components:
        try:
            result[component] = (directory / f"{component}.yaml").read_text()
        except FileNotFoundError:
            result[component] = None
    return result


def current_version(cfg: KbsConfig) -> str:
    """The version this node runs: the tag of kube-apiserver's image in its manifest."""
    path = manifest_path(cfg, constants.KUBE_APISERVER)
    try:
        tag = plan.image_tag(path.read_text())
    except FileNotFoundError:
        raise UpgradeError(
            f"{path} does not exist: there is no control plane here to upgrade",
            hint="run `kbs init` first, or pass the --config of the cluster you upgrade",
        ) from None
    if not tag or not tag.startswith("v"):
        raise UpgradeError(f"cannot tell the running version from the image in {path}")
    return tag.split("_")[0].replace("_", "+")


def new_manifests(cfg: KbsConfig) -> dict[str, str]:
    from bootstrap.render import render_manifests

    components = [c for c in plan.ORDER if c != constants.ETCD or cfg.local_etcd]
    return dict(render_manifests(cfg, components))


def upgrade_plan(cfg: KbsConfig, options: ApplyOptions) -> tuple[str, list[Step]]:
    """(the running version, the steps) for this node and `options`; the skew rule checked."""
    current = current_version(cfg)
    plan.check_skew(current, options.target)
    return current, plan.steps(read_manifests(cfg.manifests_dir), new_manifests(cfg), etcd_upgrade=options.etcd_upgrade)


def apply(cfg: KbsConfig, options: ApplyOptions, out: Reporter, *, observe: Observe = waiting.observe) -> str:
    """Upgrade this node to `cfg`'s version (cfg is the configuration with kubernetesVersion = the target)."""
    state_dir = cfg.kbs.reconciler.state_dir
    state = UpgradeState.load(state_dir)
    if state is not None and state.target != options.target:
        raise UpgradeError(
            f"an upgrade to {state.target} was interrupted ({UpgradeState.path(state_dir)})",
            hint=f"run `{options.rerun(state.target)}` to finish or roll it back first",
        )
    timeout = options.timeout or cfg.init.timeouts.upgrade_manifests.total_seconds()
    if state is not None and options.dry_run:
        return f"an interrupted upgrade to {state.target} is recorded; a run without --dry-run finishes it"
    api = None if options.dry_run else _api(cfg)
    try:
        if state is not None and state.phase == "rolling-back":
            out.line(PHASE, f"finishing the rollback of the interrupted upgrade to {state.target}")
            _rollback(_Run(cfg, state, api, observe, timeout, out, options.rerun(state.target)))
            raise UpgradeError(
                f"an interrupted upgrade to {state.target} was rolled back; the node runs {state.source} again",
                hint=f"run `{options.rerun(options.target)}` again to retry",
            )
        if state is None:
            current, steps = upgrade_plan(cfg, options)
            out.line(PHASE, f"this node runs {current}; target {options.target}")
            if options.dry_run:
                return _describe(steps, out)
            if steps:
                _preflight(cfg, out)
                state = _begin(cfg, options, current, out)
            else:
                out.line(PHASE, "every manifest is already the target version's")
        else:
            out.line(PHASE, f"continuing the interrupted upgrade from {state.source} to {state.target}")
            old = read_manifests(Path(state.backup_dir) / "manifests")
            steps = plan.steps(old, new_manifests(cfg), etcd_upgrade=options.etcd_upgrade)
        if state is not None:
            _components(_Run(cfg, state, api, observe, timeout, out, options.rerun(state.target)), options, steps)
        _cluster_objects(cfg, out, node_only=options.node)
        if state is not None:
            UpgradeState.clear(state_dir)
            out.line(PHASE, f"backups of this upgrade: {state.backup_dir}")
        return f"the control plane of this node runs {options.target}"
    finally:
        if api is not None:
            api.close()


def _api(cfg: KbsConfig) -> KubeAPI | None:
    from bootstrap.errors import KbsError
    from bootstrap.kube.api import LightkubeAPI

    try:
        return LightkubeAPI(cfg.kubeconfig(constants.ADMIN_KUBECONFIG), timeout=5.0)
    except KbsError:
        return None


def _describe(steps: list[Step], out: Reporter) -> str:
    for step in steps:
        out.line(
            PHASE, f"[dryrun] would upgrade {step.component}: {plan.image_ref(step.old)} -> {plan.image_ref(step.new)}"
        )
    return f"dry run: {len(steps)} component(s) would change; nothing was written"


def _preflight(cfg: KbsConfig, out: Reporter) -> None:
    from bootstrap.phases import health

    unhealthy = [f"{p.component} ({p.detail})" for p in health.probe_all(cfg) if not p.healthy]
    if unhealthy:
        raise UpgradeError(
            f"the control plane is not healthy: {', '.join(unhealthy)}; kbs upgrades only a healthy control plane",
            hint="see `kbs status`, fix the component and run the upgrade again",
        )
    out.line(PHASE, "preflight: every component is healthy")


def _begin(cfg: KbsConfig, options: ApplyOptions, current: str, out: Reporter) -> UpgradeState:
    """The backup directory (manifests, etcd snapshot) and the journal that names it."""
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    backup = cfg.kubernetes_dir / "tmp" / f"{BACKUP_PREFIX}{options.target}-{stamp}"
    ensure_dir(backup / "manifests", mode=0o700)
    backup.chmod(0o700)
    for component, text in read_manifests(cfg.manifests_dir).items():
        if text is not None:
            shutil.copy2(manifest_path(cfg, component), backup / "manifests" / f"{component}.yaml")
    if cfg.local_etcd:
        from bootstrap.etcd.save import save
        from bootstrap.etcd.snapshots import checksum_path

        saved = save(cfg, f"pre-upgrade-{options.target}-{stamp}")
        saved.path.replace(backup / saved.path.name)
        checksum_path(saved.path).replace(checksum_path(backup / saved.path.name))
        out.line(PHASE, f"etcd snapshot {backup / saved.path.name} ({saved.size} bytes, verified)")
    out.line(PHASE, f"backed up the manifests in {backup / 'manifests'}")
    state = UpgradeState(target=options.target, source=current, backup_dir=str(backup))
    state.save(cfg.kbs.reconciler.state_dir)
    return state


@dataclass
class _Run:
    """What the component steps and the rollback share."""

    cfg: KbsConfig
    state: UpgradeState
    api: KubeAPI | None
    observe: Observe
    timeout: float
    out: Reporter
    rerun: str  # the command that retries


def _components(run: _Run, options: ApplyOptions, steps: list[Step]) -> None:
    from bootstrap.render import write_manifests

    cfg, state, api, out, timeout = run.cfg, run.state, run.api, run.out, run.timeout
    state_dir = cfg.kbs.reconciler.state_dir
    for step in steps:
        component = step.component
        if options.certificate_renewal and component not in state.renewed:
            _renew(cfg, component, out)
            state.renewed.append(component)
            state.save(state_dir)
        if component not in state.old_hashes:
            pod = waiting.mirror_pod(api, cfg, component)
            state.old_hashes[component] = str(
                ((pod or {}).get("metadata") or {}).get("annotations", {}).get(waiting.CONFIG_HASH, "")
            )
        if component not in state.written:
            state.written.append(component)
        state.save(state_dir)  # before the write: a SIGKILL after it still knows what to undo
        write_manifests({component: step.new}, cfg.manifests_dir)
        out.line(PHASE, f"wrote the {options.target} manifest of {component}; waiting up to {timeout:.0f}s")
        started = time.monotonic()
        if component == constants.KUBE_APISERVER:
            from bootstrap.upgrade.hurry import hurry_old_apiserver

            hurry_old_apiserver(cfg, state.old_hashes[component], min(timeout, 60.0), out.detail)
        ok, last = waiting.wait(
            lambda c=component: run.observe(cfg, api, c),  # type: ignore[misc]
            image=plan.image_ref(step.new) or "",
            not_hash=state.old_hashes[component] or None,
            timeout=timeout,
        )
        if ok:
            out.detail(
                f"{component} runs {plan.image_ref(step.new)} and is healthy after {time.monotonic() - started:.1f}s"
            )
            continue
        out.line(PHASE, f"{component} did not become healthy within {timeout:.0f}s: {last.detail}; rolling back")
        state.phase = "rolling-back"
        state.save(state_dir)
        undone = _rollback(run)
        raise UpgradeError(
            f"{component} did not become healthy with its {options.target} manifest ({last.detail}); "
            f"rolled back {', '.join(undone)}: the node runs {state.source}",
            hint=f"see `kbs logs {component}-{cfg.node_name}` for why; backups: {state.backup_dir}",
        )


def _rollback(run: _Run) -> list[str]:
    """Restore the backed-up manifest of every written component, last first, each waited for."""
    from bootstrap.render import write_manifests

    cfg, state, api, out, timeout, observe = run.cfg, run.state, run.api, run.out, run.timeout, run.observe
    old = read_manifests(Path(state.backup_dir) / "manifests")
    undone = []
    for component in reversed(state.written):
        text = old.get(component)
        if text is None:
            manifest_path(cfg, component).unlink(missing_ok=True)
            continue
        write_manifests({component: text}, cfg.manifests_dir)
        ok, last = waiting.wait(
            lambda c=component: observe(cfg, api, c),  # type: ignore[misc]
            image=plan.image_ref(text) or "",
            not_hash=None,
            timeout=timeout,
        )
        if not ok:
            raise UpgradeError(
                f"{component} is not healthy after its old manifest was restored ({last.detail})",
                hint=f"the journal {UpgradeState.path(cfg.kbs.reconciler.state_dir)} is kept; the backups "
                f"(manifests, etcd snapshot) are in {state.backup_dir}; `{run.rerun}` retries "
                "the rollback",
            )
        out.line(PHASE, f"rolled back {component}: it runs {plan.image_ref(text)} and is healthy")
        undone.append(component)
    UpgradeState.clear(cfg.kbs.reconciler.state_dir)
    return undone


def _renew(cfg: KbsConfig, component: str, out: Reporter) -> None:
    from bootstrap.config import pki_context
    from pki.renewal import renew, renewable

    ctx = pki_context(cfg)
    names = [n for n in plan.CERTS_BY_COMPONENT.get(component, ()) if n in renewable(ctx)]
    for name in names:
        renew(ctx, name)
    if names:
        out.line(PHASE, f"renewed {', '.join(names)}")


def _cluster_objects(cfg: KbsConfig, out: Reporter, *, node_only: bool = False) -> None:
    """kubeadm's post-upgrade: the uploaded configuration and the addons, for the new version (apply only), and
    this node's reconciler configuration (apply and node)."""
    from bootstrap.phases import addon, reconciler, upload_config
    from bootstrap.phases.context import InitData

    data = InitData(cfg=cfg, out=out)
    try:
        cluster_wide = (
            ("upload-config", upload_config.run),
            ("addon/coredns", addon.run_coredns),
            ("addon/kube-proxy", addon.run_kube_proxy),
        )
        for name, run in (
            *(() if node_only else cluster_wide),
            # this node's "kubelet": its configuration names the new version; a changed one restarts it, and it
            # adopts the running containers (what upgrading the kubelet package is on a kubeadm node)
            ("reconciler", reconciler.run),
        ):
            outcome = run(data)
            out.line(name, outcome.summary)
    finally:
        data.close()
