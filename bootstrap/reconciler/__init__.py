"""The bundled reconciler: runs static pods on Docker with the kubelet's semantics (kbs's own kubelet subset).

Data flows one way: sources (manifest dir via inotify + relist, manifest URL) -> defaulting (kubelet static-pod
defaults, deterministic UID) -> the PodRegistry's diff -> one PodWorker per pod, executing what
compute_pod_actions decides (sandbox, containers, restarts with crash-loop backoff, probes, termination) -> the
Runtime (Docker, or a fake in unit tests) -> status files and events for the rest of kbs.

    from bootstrap.reconciler import Reconciler, Settings, read_statuses
    r = Reconciler(Settings(node_name="node1", manifest_dir=path, state_dir=tmp)); r.start(); r.wait_synced(30)
    read_statuses(tmp)  # typed PodStatus list, no Docker import needed

Seams for the next layer (the API-server publisher): events.Listener (events, status changes, removals, with a
replay of recent events), the status files (status.py: full v1 Pod + status per pod), the runtime's `logs`.
Modules: settings, flags (`kbs reconcile` flags -> Settings), model, parse (+ parse_container, fields),
defaulting, quantity, sources/, runtime/, pods/, orphans, registry, housekeeping, manager, events, status,
logfmt, daemon, systemd, inspect (the read side of `kbs ps` / `kbs logs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bootstrap.reconciler.settings import Settings
from bootstrap.reconciler.status import PodStatus, read_status, read_statuses

if TYPE_CHECKING:
    from bootstrap.reconciler.events import Event, Listener
    from bootstrap.reconciler.manager import Reconciler

__all__ = ["Event", "Listener", "PodStatus", "Reconciler", "Settings", "read_status", "read_statuses"]


def __getattr__(name: str) -> Any:
    # The manager pulls in the pod workers and (through DockerRuntime, lazily) docker; keep `import` cheap.
    if name == "Reconciler":
        from bootstrap.reconciler.manager import Reconciler

        return Reconciler
    if name in ("Event", "Listener"):
        from bootstrap.reconciler import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
