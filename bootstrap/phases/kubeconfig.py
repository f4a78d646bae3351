"""The kubeconfig phase: admin, super-admin, kubelet, controller-manager and scheduler kubeconfig files.

Like certs: paths recorded in the ledger first, the PKI layer keeps valid files and writes missing ones.
"""

from __future__ import annotations

from bootstrap.phases import ledger as ledgers
from bootstrap.phases import pki_files
from bootstrap.phases.certs import report
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome


def run(data: InitData) -> Outcome:
    from bootstrap.config import pki_context

    ctx = pki_context(data.cfg)
    ledgers.record(data.cfg.kbs.reconciler.state_dir, pki_files.kubeconfig_paths(ctx))
    return report(data, "kubeconfig", pki_files.call("ensure_kubeconfigs", ctx))
