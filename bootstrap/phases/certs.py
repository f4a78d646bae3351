"""The certs phase: the CAs, every certificate and key, and the service-account key pair.

The PKI layer keeps what is valid and never replaces a CA or a key; this phase records the paths in the ledger
first (so `kbs reset` can tell kbs's files from an operator's CA) and prints one line per file created or renewed.
"""

from __future__ import annotations

from bootstrap.phases import ledger as ledgers
from bootstrap.phases import pki_files
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome


def report(data: InitData, phase: str, results: list[object]) -> Outcome:
    counts: dict[str, int] = {}
    for result in results:
        action = str(getattr(result, "action", "kept"))
        counts[action] = counts.get(action, 0) + 1
        if action not in ("kept", "skipped"):
            data.out.line(phase, str(result))
        for warning in getattr(result, "warnings", ()):
            data.out.line(phase, f"warning: {warning}")
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to do"
    return Outcome(summary, changed=any(a in ("created", "renewed") for a in counts))


def run(data: InitData) -> Outcome:
    from bootstrap.config import pki_context

    ctx = pki_context(data.cfg)
    ledgers.record(data.cfg.kbs.reconciler.state_dir, pki_files.certificate_paths(ctx))
    return report(data, "certs", pki_files.call("ensure_certificates", ctx))
