"""Shared by the etcd and control-plane phases: render, guard against foreign files, record, write.

A control-plane manifest already in the staticPodPath that kbs did not write (the ledger says so) is an error
unless the operator passes --adopt: kbs never silently replaces someone else's static pod. Unchanged files are
not rewritten (bootstrap.render.write_manifests compares bytes), so a converged node sees no file event.
"""

from __future__ import annotations

from pathlib import Path

from bootstrap import constants
from bootstrap.errors import FileWriteError
from bootstrap.phases import ledger as ledgers
from bootstrap.phases import node_setup
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome


def write(data: InitData, phase: str, components: list[str], data_dirs: tuple[Path, ...] = ()) -> Outcome:
    from bootstrap.render import Change, manifest_path, render_manifests, write_manifests

    cfg = data.cfg
    directory = cfg.manifests_dir
    state_dir = cfg.kbs.reconciler.state_dir
    ledger = ledgers.Ledger.load(state_dir)
    paths = [manifest_path(directory, c) for c in components]
    for path in paths:
        if path.exists() and not ledger.owns(path):
            if not data.options.adopt:
                raise FileWriteError(
                    f"{path} exists and kbs did not write it; kbs will not replace another tool's static pod",
                    hint="move it away, or run again with --adopt to let kbs take it over",
                )
            ledger.adopt(path)
            data.out.line(phase, f"adopting {path} (--adopt): kbs now manages it and `kbs reset` removes it")
    ledger.classify_data_dirs([state_dir])
    ledger.classify([directory, *paths])
    ledger.classify_data_dirs(data_dirs)
    ledger.remember_node(node_setup.describe(cfg))
    ledger.save()
    # --dry-run: the manifests name the real paths (what would be written), though they land in the temp dir
    manifests = render_manifests(data.real_cfg or cfg, components)
    data.scratch.setdefault("manifests", []).extend(components)
    changes = write_manifests(manifests, directory)
    for change in changes:
        if change.change is not Change.UNCHANGED:
            data.out.line(phase, f"{change.change.value} {change.path}")
    changed = [c for c in changes if c.change is not Change.UNCHANGED]
    names = ", ".join(f"{c.component}.yaml" for c in changes)
    if not changed:
        return Outcome(f"{names} unchanged")
    return Outcome(f"wrote {', '.join(f'{c.component}.yaml' for c in changed)}", changed=True)


def control_plane_components() -> list[str]:
    return list(constants.CONTROL_PLANE_COMPONENTS)
