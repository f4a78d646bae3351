"""How kbs set this node up, remembered for the next command: who runs the static pods, and from which directory.

`kbs init --reconciler kubelet` hands the manifests to the installed kubelet, in the staticPodPath it found. The
next `kbs status`, `kbs reset` or re-run of `kbs init` must act on the same node without the operator repeating
the flag: a plain `kbs reset` that believed in the bundled reconciler would not wait for the kubelet to stop the
control plane, and a plain re-run would start a second runtime next to the kubelet. kubeadm answers the same need
with the node's own files (the kubelet's config.yaml and kubeadm-flags.env); kbs keeps the answer in its ledger
(bootstrap.phases.ledger), written by the phase that decides who runs the pods and by every phase that writes
into the staticPodPath, and removed by `kbs reset` with the ledger.

Precedence: a flag or a --config setting that agrees with the record is fine; one that disagrees stops the command
with an error naming both, since switching runtimes or directories under a running control plane would orphan
what the first one runs (`kbs reset` first, then set the node up again). Nothing recorded (a node kbs never set
up, or one it reset): the configuration as given.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from msgspec.structs import replace

from bootstrap.config.kbs import ReconcilerMode
from bootstrap.errors import ConfigError
from bootstrap.phases import ledger as ledgers

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig

MODE, STATIC_POD_PATH = ledgers.NODE_FIELDS  # the record's fields, named as in KbsConfiguration
GIVEN_MODE, GIVEN_STATIC_POD_PATH = "reconciler.mode", "staticPodPath"  # KbsConfig.kbs_given's names for them


def describe(cfg: KbsConfig) -> dict[str, str]:
    """The record for `cfg`: the reconciler mode and the staticPodPath (given, defaulted, or found in the installed
    kubelet's settings)."""
    node: dict[str, str] = {MODE: cfg.kbs.reconciler.mode}
    if cfg.kbs.static_pod_path is not None:
        node[STATIC_POD_PATH] = str(cfg.kbs.static_pod_path)
    return node


def apply(cfg: KbsConfig) -> KbsConfig:
    """`cfg` with the node's recorded mode and staticPodPath where the flags and the file leave them to defaults.

    Raises ConfigError when a flag or setting contradicts the record."""
    node = ledgers.Ledger.load(cfg.kbs.reconciler.state_dir).node
    if not node:
        return cfg
    mode, path = node.get(MODE, cfg.kbs.reconciler.mode), node.get(STATIC_POD_PATH)
    setup = f"--reconciler {mode}" + (f", staticPodPath {path}" if path else "")
    where = cfg.kbs.reconciler.state_dir / ledgers.LEDGER_FILE
    if mode not in get_args(ReconcilerMode) or (path is not None and not Path(path).is_absolute()):
        raise ConfigError(
            f"{where}: node: the record of this node's setup is not one kbs writes ({setup})",
            hint=f"set node.reconciler to one of {', '.join(get_args(ReconcilerMode))} and node.staticPodPath to an "
            "absolute path, as the node was set up, or remove the `node` entry and pass the flags again",
        )
    asked = []
    if GIVEN_MODE in cfg.kbs_given and cfg.kbs.reconciler.mode != mode:
        asked.append(f"--reconciler {cfg.kbs.reconciler.mode}")
    if path and GIVEN_STATIC_POD_PATH in cfg.kbs_given and cfg.kbs.static_pod_path != Path(path):
        asked.append(f"staticPodPath {cfg.kbs.static_pod_path}")
    if asked:
        raise ConfigError(
            f"this node was set up by kbs with {setup} (recorded in {where}), but this command asks for "
            f"{' and '.join(asked)}",
            hint="leave the setting out to act on the node as it was set up, or `kbs reset` the node first to set it "
            "up again differently",
        )
    kbs = cfg.kbs
    if kbs.reconciler.mode != mode:  # not given (else it would have been refused above)
        kbs = replace(kbs, reconciler=replace(kbs.reconciler, mode=mode))
        if mode == "kubelet" and GIVEN_STATIC_POD_PATH not in cfg.kbs_given:
            kbs = replace(kbs, static_pod_path=None)  # not <kubernetesDir>/manifests: the kubelet's (below, or found)
    if path and kbs.static_pod_path != Path(path):
        kbs = replace(kbs, static_pod_path=Path(path))
    if kbs is cfg.kbs:
        return cfg
    note = f"this node was set up with {setup} (recorded in {where}): acting on it that way"
    return dataclasses.replace(cfg, kbs=kbs, notes=(*cfg.notes, note))


def from_record(cfg: KbsConfig) -> bool:
    """Whether `cfg`'s staticPodPath is the node's record rather than a flag or a --config setting."""
    return cfg.kbs.static_pod_path is not None and GIVEN_STATIC_POD_PATH not in cfg.kbs_given
