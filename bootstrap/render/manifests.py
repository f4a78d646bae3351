"""render_manifests: configuration -> validated manifest text per component.

One pass per component: template (bootstrap.render.engine, injection-checked) -> static-pod rules and schema of the
target minor (bootstrap.render.validate) -> canonical YAML (keys sorted, 2-space indent, list items at their key's
indent, like kubeadm's output) -> parsed back once more and compared, so the bytes written are the structure that
was validated. Nothing is written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bootstrap import constants
from bootstrap.errors import RenderError

if TYPE_CHECKING:
    from bootstrap.config import KbsConfig

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def components_for(cfg: KbsConfig, wanted: Iterable[str] | None = None) -> list[str]:
    """The components to render, in kubeadm's order; etcd only with local etcd."""
    available = list(constants.ALL_COMPONENTS if cfg.local_etcd else constants.CONTROL_PLANE_COMPONENTS)
    if wanted is None:
        return available
    chosen = list(dict.fromkeys(wanted))
    for name in chosen:
        if name not in constants.ALL_COMPONENTS:
            raise RenderError(f"unknown component {name!r}", hint=f"use one of {', '.join(constants.ALL_COMPONENTS)}")
        if name not in available:
            raise RenderError(
                "etcd is external (etcd.external in the ClusterConfiguration): kbs writes no etcd manifest",
                hint="drop --component etcd, or configure etcd.local",
            )
    return [name for name in available if name in chosen]


def to_yaml(pod: Mapping[str, Any]) -> str:
    """Canonical manifest text: sorted keys, block style, no line folding."""
    text: str = yaml.dump(pod, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=1 << 30)
    return text


def render_manifests(
    cfg: KbsConfig,
    components: Iterable[str] | None = None,
    templates_dir: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    host_root: Path = Path("/"),
) -> dict[str, str]:
    """component -> manifest text, each rendered, injection-checked and validated for cfg's Kubernetes minor.

    `environ` (proxy variables) and `host_root` (which CA directories exist) default to this machine's, like
    kubeadm; tests pass their own.
    """
    from bootstrap.render import context, engine, validate

    names = components_for(cfg, components)
    ctx = context.build(cfg, environ=environ, host_root=host_root)
    out: dict[str, str] = {}
    for name in names:
        pod = engine.render_text(name, ctx, templates_dir)
        validate.validate_pod(pod, name, cfg.version.minor)
        text = to_yaml(pod)
        if yaml.load(text, Loader=_Loader) != pod:  # a SafeLoader
            raise RenderError(f"{name}.yaml does not read back as the Pod kbs validated; nothing was written")
        out[name] = text
    return out
