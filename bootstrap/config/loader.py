"""load_config: file + flags -> validated, fully defaulted KbsConfig.

Steps, each with its own error wording: read the file; split the YAML stream into documents and sort them by
apiVersion/kind (unknown kinds are ignored with a note, unsupported kubeadm versions are errors); merge the flags
into the raw documents (so a flag is validated exactly like the same value in the file); decode into the msgspec
documents; fill the machine- and version-dependent defaults (bootstrap.config.defaults).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bootstrap.config import kubeproxy
from bootstrap.config.effective import KbsConfig
from bootstrap.config.errors import translate
from bootstrap.config.kbs import KbsConfiguration
from bootstrap.config.kinds import CLUSTER_KIND, INIT_KIND, KBS_API_VERSION, KBS_KIND, KUBEADM_API_VERSION
from bootstrap.config.kubeadm import ClusterConfiguration, InitConfiguration
from bootstrap.config.overrides import OVERRIDE_TARGETS, Overrides
from bootstrap.config.types import Document, decode
from bootstrap.config.yamlio import config_documents, read_config_text
from bootstrap.errors import ConfigError

MODELS: dict[str, type[Document]] = {
    INIT_KIND: InitConfiguration,
    CLUSTER_KIND: ClusterConfiguration,
    KBS_KIND: KbsConfiguration,
}
API_VERSIONS = {INIT_KIND: KUBEADM_API_VERSION, CLUSTER_KIND: KUBEADM_API_VERSION, KBS_KIND: KBS_API_VERSION}
KUBEADM_GROUP = KUBEADM_API_VERSION.split("/")[0]
KBS_GROUP = KBS_API_VERSION.split("/")[0]


@dataclass
class RawConfig:
    """The documents of one file, before validation, by kind."""

    docs: dict[str, dict[str, Any]]
    where: dict[str, str]  # kind -> "cfg.yaml (ClusterConfiguration, document 2)"
    notes: list[str]
    component_configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> document (kube-proxy's)


def read_file(path: Path) -> RawConfig:
    """Read and sort the documents of a config file (no validation of their fields yet)."""
    return split_documents(read_config_text(path), str(path))


def split_documents(text: str, name: str) -> RawConfig:
    raw = RawConfig(docs={}, where={}, notes=[])
    for label, doc in config_documents(text, name):
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
            raise ConfigError(
                f"{label}: not a Kubernetes-style document (apiVersion and kind are required)",
                hint=f"kbs reads {KUBEADM_API_VERSION} InitConfiguration/ClusterConfiguration and {KBS_API_VERSION} "
                f"{KBS_KIND} documents",
            )
        group = api_version.split("/")[0]
        if kind == kubeproxy.KIND and group == kubeproxy.GROUP:
            if kind in raw.component_configs:
                raise ConfigError(f"{label}: a second {kind} document; the file may hold only one")
            raw.component_configs[kind] = kubeproxy.check_document(doc, f"{name} ({kind})")
        elif kind in MODELS and group in (KUBEADM_GROUP, KBS_GROUP):
            if api_version != API_VERSIONS[kind]:
                raise ConfigError(
                    f"{label}: {kind} {api_version} is not supported; kbs reads {API_VERSIONS[kind]}",
                    hint="convert an older kubeadm file with `kubeadm config migrate --old-config FILE`"
                    if group == KUBEADM_GROUP
                    else None,
                )
            if kind in raw.docs:
                raise ConfigError(f"{label}: a second {kind} document; the file may hold only one")
            raw.docs[kind] = doc
            raw.where[kind] = f"{name} ({kind})"
        else:
            raw.notes.append(f"{label}: ignoring {kind} ({api_version}); kbs does not use it")
    if not raw.docs and not raw.component_configs:
        raise ConfigError(
            f"{name}: no {INIT_KIND}, {CLUSTER_KIND} or {KBS_KIND} document found",
            hint=f"a kubeadm config starts with `apiVersion: {KUBEADM_API_VERSION}` and `kind: {CLUSTER_KIND}`; "
            "see `kbs config print-defaults`",
        )
    return raw


def apply_overrides(raw: RawConfig, overrides: Overrides) -> dict[str, dict[str, str]]:
    """Write the given flags into the raw documents; returns kind -> {field path: flag} for error messages."""
    flags: dict[str, dict[str, str]] = {}
    for name, value in overrides.given().items():
        target = OVERRIDE_TARGETS[name]
        doc = raw.docs.setdefault(target.kind, {})
        raw.where.setdefault(target.kind, target.kind)
        node = doc
        for key in target.path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        leaf = target.path[-1]
        if target.append:
            existing = node.get(leaf)
            items = list(existing) if isinstance(existing, list) else []
            node[leaf] = items + [v for v in value if v not in items]  # type: ignore[attr-defined]
            for i in range(len(node[leaf])):
                flags.setdefault(target.kind, {})[".".join(target.path) + f"[{i}]"] = target.flag
        else:
            node[leaf] = value
        flags.setdefault(target.kind, {})[".".join(target.path)] = target.flag
    return flags


def validate(raw: RawConfig, flags: dict[str, dict[str, str]]) -> dict[str, Document]:
    models: dict[str, Document] = {}
    for kind, model in MODELS.items():
        data = raw.docs.get(kind, {})
        try:
            models[kind] = decode(data, model)
        except msgspec.ValidationError as exc:
            raise translate(
                exc, where=raw.where.get(kind, kind), model=model, data=data, flags=flags.get(kind)
            ) from None
    return models


def load_config(path: Path | None = None, overrides: Overrides | None = None) -> KbsConfig:
    """Read `path` (optional), apply `overrides` (flags win), validate and fill every default -> KbsConfig."""
    raw = read_file(path) if path is not None else RawConfig(docs={}, where={}, notes=[])
    return from_raw(raw, overrides, path)


def from_raw(raw: RawConfig, overrides: Overrides | None = None, path: Path | None = None) -> KbsConfig:
    """load_config's steps after reading: documents already sorted by kind (also what `kbs join` assembles)."""
    from bootstrap.config.defaults import complete

    raw.docs = copy.deepcopy(raw.docs)
    flags = apply_overrides(raw, overrides or Overrides())
    models = validate(raw, flags)
    cfg = complete(
        init=models[INIT_KIND],  # type: ignore[arg-type]
        cluster=models[CLUSTER_KIND],  # type: ignore[arg-type]
        kbs=models[KBS_KIND],  # type: ignore[arg-type]
        source=path,
        notes=raw.notes,
        flags={path: flag for by_kind in flags.values() for path, flag in by_kind.items()},
        where=raw.where,
    )
    given = frozenset(_dotted(raw.docs.get(KBS_KIND, {})))
    return dataclasses.replace(cfg, kube_proxy=raw.component_configs.get(kubeproxy.KIND), kbs_given=given)


def _dotted(doc: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """The dotted paths of a document's leaves: {"reconciler": {"mode": "kubelet"}} -> "reconciler.mode"."""
    for key, value in doc.items():
        if isinstance(value, Mapping) and value:
            yield from _dotted(value, f"{prefix}{key}.")
        elif key not in ("apiVersion", "kind") or prefix:
            yield f"{prefix}{key}"
