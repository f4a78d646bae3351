"""The reconciler's API-server side: its static pods seen through the API server, as a kubelet shows them.

The reconciler runs the pods; this package only reports them, with the node's own identity (kubelet.conf,
`system:node:<node>`, so the Node authorizer and NodeRestriction apply as to a kubelet):

    heartbeat   the Node (labels, addresses, capacity 0 pods, conditions) and its Lease in kube-node-lease
    mirrorsync  read-only mirror pods: created, recreated when deleted or stale, removed with the static pod;
                their status (phase, conditions, container states, restartCount) patched when it changes
    eventsink   the reconciler's events (Pulling, Started, BackOff, Unhealthy, ...) as core/v1 Events
    server      the node API on port 10250 (TLS, client certificates or TokenReview, SubjectAccessReview):
                logs, exec/attach/port-forward (streaming over spdy; runtime/streams.py is Docker's side), stats
    publisher   the reconciler Listener tying them together on its own threads
    client      NodeAPI, the calls above over HTTPS; fake: an in-memory API server for unit tests

Wiring: `Settings(apiserver=ApiServerSettings(kubeconfig=...))` makes the Reconciler start a Publisher, or
`Publisher(reconciler, settings).start()` by hand. docs/reconciler-apiserver.md explains "static pods only".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bootstrap.reconciler.apiserver.settings import ApiServerSettings

if TYPE_CHECKING:
    from bootstrap.reconciler.apiserver.publisher import Publisher

__all__ = ["ApiServerSettings", "Publisher"]


def __getattr__(name: str) -> Any:
    if name == "Publisher":  # pulls in httpx and lightkube: only when a publisher is really made
        from bootstrap.reconciler.apiserver.publisher import Publisher

        return Publisher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
