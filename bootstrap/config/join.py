"""The configuration of a joining control-plane node: the cluster's ClusterConfiguration plus this node's own part.

kubeadm's JoinConfiguration (v1beta4) says how to find the cluster (discovery.bootstrapToken) and what is this
node's (nodeRegistration, controlPlane.localAPIEndpoint, controlPlane.certificateKey, timeouts, skipPhases). The
rest — certificatesDir, etcd, networking, controlPlaneEndpoint, extra args — is the cluster's, read from the
kubeadm-config ConfigMap once discovery has made the API server trusted. Both are assembled into the same
documents `kbs init` reads (the node's part as an InitConfiguration), so a joining node's certificates, kubeconfigs
and manifests come from exactly the code and validation that made the first node's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap.config.effective import KbsConfig
from bootstrap.config.kinds import CLUSTER_KIND, INIT_KIND, KBS_API_VERSION, KBS_KIND, KUBEADM_API_VERSION
from bootstrap.config.loader import RawConfig, from_raw
from bootstrap.config.overrides import Overrides
from bootstrap.config.yamlio import config_documents, read_config_text
from bootstrap.errors import ConfigError

JOIN_KIND = "JoinConfiguration"


@dataclass(frozen=True)
class JoinFile:
    """What a JoinConfiguration file (plus an optional KbsConfiguration) says; empty values: not given."""

    path: Path
    endpoint: str = ""
    token: str = field(default="", repr=False)
    ca_hashes: tuple[str, ...] = ()
    certificate_key: str = field(default="", repr=False)
    control_plane: bool = False
    skip_phases: tuple[str, ...] = ()
    node: dict[str, Any] = field(default_factory=dict)  # the InitConfiguration fields this node sets
    kbs: dict[str, Any] | None = None  # a KbsConfiguration document, as given


def _mapping(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def read_join_file(path: Path) -> JoinFile:
    """Read a `kbs join --config` file: one JoinConfiguration (kubeadm.k8s.io/v1beta4), optionally a
    KbsConfiguration; other documents are refused (an InitConfiguration here is a mistake worth saying)."""
    join: dict[str, Any] | None = None
    kbs: dict[str, Any] | None = None
    for where, doc in config_documents(read_config_text(path), str(path)):
        kind, api_version = doc.get("kind"), doc.get("apiVersion")
        if kind == JOIN_KIND:
            if api_version != KUBEADM_API_VERSION:
                raise ConfigError(
                    f"{where}: {JOIN_KIND} {api_version} is not supported; kbs reads {KUBEADM_API_VERSION}",
                    hint="convert it with `kubeadm config migrate --old-config FILE`",
                )
            join = doc
        elif kind == KBS_KIND and api_version == KBS_API_VERSION:
            kbs = doc
        else:
            raise ConfigError(
                f"{where}: {kind} ({api_version}) does not belong in a join configuration",
                hint=f"kbs join reads a {KUBEADM_API_VERSION} {JOIN_KIND} (and a {KBS_KIND}); the cluster's "
                "ClusterConfiguration comes from the cluster",
            )
    if join is None:
        raise ConfigError(f"{path}: no {JOIN_KIND} document", hint=f"start it with `apiVersion: {KUBEADM_API_VERSION}`")
    where = f"{path} ({JOIN_KIND})"
    discovery = _mapping(join.get("discovery"), f"{where} discovery")
    token = _mapping(discovery.get("bootstrapToken"), f"{where} discovery.bootstrapToken")
    control_plane = join.get("controlPlane")
    plane = _mapping(control_plane, f"{where} controlPlane")
    node: dict[str, Any] = {}
    if join.get("nodeRegistration") is not None:
        node["nodeRegistration"] = _mapping(join["nodeRegistration"], f"{where} nodeRegistration")
    if plane.get("localAPIEndpoint") is not None:
        node["localAPIEndpoint"] = _mapping(plane["localAPIEndpoint"], f"{where} controlPlane.localAPIEndpoint")
    if join.get("timeouts") is not None:
        node["timeouts"] = _mapping(join["timeouts"], f"{where} timeouts")
    return JoinFile(
        path=path,
        endpoint=str(token.get("apiServerEndpoint") or ""),
        token=str(token.get("token") or discovery.get("tlsBootstrapToken") or ""),
        ca_hashes=tuple(str(h) for h in token.get("caCertHashes") or ()),
        certificate_key=str(plane.get("certificateKey") or ""),
        control_plane=control_plane is not None,
        skip_phases=tuple(str(p) for p in join.get("skipPhases") or ()),
        node=node,
        kbs=kbs,
    )


def node_config(cluster: dict[str, Any], join: JoinFile | None, overrides: Overrides) -> KbsConfig:
    """The effective configuration of the joining node: the cluster's ClusterConfiguration, this node's
    registration and API endpoint (file, then flags), kbs's own settings."""
    cluster = {k: v for k, v in cluster.items() if k not in ("apiVersion", "kind")}
    docs: dict[str, dict[str, Any]] = {
        CLUSTER_KIND: {"apiVersion": KUBEADM_API_VERSION, "kind": CLUSTER_KIND, **cluster},
        INIT_KIND: {"apiVersion": KUBEADM_API_VERSION, "kind": INIT_KIND, **(join.node if join else {})},
    }
    where = {CLUSTER_KIND: "the cluster's kube-system/kubeadm-config (ClusterConfiguration)"}
    if join is not None:
        where[INIT_KIND] = f"{join.path} ({JOIN_KIND})"
        if join.kbs is not None:
            docs[KBS_KIND] = join.kbs
            where[KBS_KIND] = f"{join.path} ({KBS_KIND})"
    return from_raw(RawConfig(docs=docs, where=where, notes=[]), overrides, join.path if join else None)
