"""The etcd phase: the local etcd static pod manifest (nothing with external etcd).

The etcd data directory is recorded in the ledger as kbs's when it does not exist yet: the etcd container creates
it (hostPath DirectoryOrCreate) because kbs asked for it, so `kbs reset` removes it. When it exists and is empty
(what `kubeadm reset` leaves), its contents are recorded as kbs's: reset empties it, and a re-run accepts it.
"""

from __future__ import annotations

from bootstrap import constants
from bootstrap.phases import manifests
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome


def run(data: InitData) -> Outcome:
    if not data.cfg.local_etcd:
        return Outcome("external etcd: no local etcd manifest")
    return manifests.write(data, "etcd", [constants.ETCD], data_dirs=(data.cfg.etcd_data_dir,))
