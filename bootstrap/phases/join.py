"""`kbs join --control-plane`'s phases, in kubeadm's order and with its names, as data — and `prepare`.

    preflight                 the machine checks of init, plus kubeadm's: a controlPlaneEndpoint must exist
    control-plane-prepare
      download-certs          kube-system/kubeadm-certs, decrypted with the certificate key (nothing written on error)
      certs                   this node's own certificates, signed by the downloaded CAs (SANs: its address, the
                              controlPlaneEndpoint)
      kubeconfig              admin.conf (the endpoint), controller-manager, scheduler and kubelet kubeconfigs
      control-plane           kube-apiserver, kube-controller-manager and kube-scheduler manifests
    kubelet-start             kbs's kubelet: the bundled reconciler (as `kbs init`'s reconciler phase)
    etcd-join                 add this member as a learner, write etcd.yaml with the existing cluster, promote it
    wait-control-plane        the four components healthy
    control-plane-join
      mark-control-plane      label and taint the Node (the reconciler registered it and publishes mirror pods)

Every phase reuses `kbs init`'s own (they take the same InitData) except download-certs and etcd-join. `prepare`
does discovery first — the token, the CA pin — and builds the node's configuration from the cluster's
ClusterConfiguration (bootstrap.config.join), so `kbs join phase certs` on its own gets the same answer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap.errors import ConfigError
from bootstrap.phases.context import InitData, InitOptions, JoinOptions
from bootstrap.phases.workflow import Outcome, Phase, Reporter, Workflow

if TYPE_CHECKING:
    from bootstrap.config.join import JoinFile
    from bootstrap.config.overrides import Overrides


def _call(module: str, function: str = "run") -> Callable[[InitData], Outcome]:
    def run(data: InitData) -> Outcome:
        outcome: Outcome = getattr(importlib.import_module(f"bootstrap.phases.{module}"), function)(data)
        return outcome

    return run


def _download_certs(data: InitData) -> Outcome:
    from bootstrap.phases.download_certs import DownloadRequest, download_certs

    join = _options(data)
    if not join.certificate_key:
        from bootstrap.kube import copycerts

        missing = [str(p) for p in copycerts.shared_files(data.cfg.cert_dir).values() if p and not p.exists()]
        if missing and not data.dry_run:
            raise ConfigError(
                f"no --certificate-key and the shared certificates are not on this node: {', '.join(missing)}",
                hint="pass the key `kbs init --upload-certs` printed (or run `kbs init phase upload-certs "
                "--upload-certs` on a control plane for a new one), or copy the files from a control plane",
            )
        return Outcome("no --certificate-key: using the shared certificates already in certificatesDir")
    timeout = data.cfg.init.timeouts.kubernetes_api_call.total_seconds()
    request = DownloadRequest(
        join.endpoint, join.token, join.ca_hashes, join.certificate_key, data.cfg.cert_dir, data.dry_run, timeout
    )
    from bootstrap.phases import ledger

    def record(paths: list[Path]) -> None:
        ledger.record(data.cfg.kbs.reconciler.state_dir, [*{p.parent for p in paths}, *paths])

    return download_certs(request, data.out, before_write=record)


def _preflight(data: InitData) -> Outcome:
    if not data.cfg.control_plane_endpoint:
        raise ConfigError(
            "unable to add a new control plane instance to a cluster that doesn't have a stable "
            "controlPlaneEndpoint address",
            hint="initialise the cluster with `kbs init --control-plane-endpoint HOST:PORT` (a load balancer or DNS "
            "name in front of every API server); see docs/operations.md (High availability)",
        )
    return _call("preflight")(data)


def _options(data: InitData) -> JoinOptions:
    assert data.join is not None, "a join phase ran outside `kbs join`"
    return data.join


_PREPARE = (
    Phase(
        "download-certs", "Download the certificates shared among control-plane nodes (kubeadm-certs).", _download_certs
    ),
    Phase("certs", "Generate this node's certificates, signed by the shared CAs.", _call("certs")),
    Phase(
        "kubeconfig", "Write admin, controller-manager, scheduler and kubelet kubeconfig files.", _call("kubeconfig")
    ),
    Phase(
        "control-plane", "Write the kube-apiserver, controller-manager and scheduler manifests.", _call("control_plane")
    ),
)
_MARK = (Phase("mark-control-plane", "Label and taint this node as a control plane.", _call("mark_control_plane")),)

JOIN = Workflow[InitData](
    "kbs join",
    [
        Phase("preflight", "Check the machine, and that the cluster has a controlPlaneEndpoint.", _preflight),
        Phase(
            "control-plane-prepare",
            "Prepare the machine for serving a control plane.",
            _call("certs"),
            children=_PREPARE,
        ),
        Phase(
            "kubelet-start",
            "Start what runs the static pods: kbs's bundled reconciler (or the kubelet).",
            _call("reconciler"),
        ),
        Phase(
            "etcd-join",
            "Add this node's etcd member (a learner, then promoted) and write its manifest.",
            _call("etcd_join"),
        ),
        Phase(
            "wait-control-plane",
            "Wait until etcd, kube-apiserver, controller-manager and scheduler are healthy.",
            _call("wait_control_plane"),
        ),
        Phase(
            "control-plane-join",
            "Join the machine as a control plane instance.",
            _call("mark_control_plane"),
            children=_MARK,
        ),
    ],
)


def cluster_configuration(join: JoinOptions, timeout: float, reporter: Reporter) -> dict[str, Any]:
    """Discovery (token + CA pin), then the cluster's ClusterConfiguration read with the bootstrap token."""
    from bootstrap.kube import discovery
    from bootstrap.kube import token as tokens
    from bootstrap.phases.download_certs import cluster_document

    token = tokens.parse(join.token, ttl=None)
    info = discovery.discover(join.endpoint, token, join.ca_hashes, timeout=timeout, wait=join.discovery_timeout)
    reporter.line("discovery", f"cluster-info signed by token {token.token_id}, CA pinned; API server {info.server}")
    api = discovery.bootstrap_api(info, token, timeout=timeout)
    try:
        return cluster_document(api)
    finally:
        api.close()


def prepare(
    join: JoinOptions, file: JoinFile | None, overrides: Overrides, options: InitOptions, reporter: Reporter
) -> InitData:
    """Discover the cluster, build this node's configuration from its ClusterConfiguration, redirect for --dry-run."""
    import dataclasses

    from bootstrap.config.join import node_config
    from bootstrap.phases import init

    cluster = cluster_configuration(join, 30.0, reporter)
    cfg = node_config(cluster, file, overrides)
    data = init.prepare(cfg, options, reporter)
    return dataclasses.replace(data, join=join)
