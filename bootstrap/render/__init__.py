"""Manifests from templates: rendering, injection checks, validation, writing.

    render_manifests(cfg, components=None, templates_dir=None) -> {component: text}   validated, nothing written
    write_manifests(manifests, directory) -> [ManifestChange]                        atomic, 0600 files, 0700 dir
    diff_manifests(manifests, directory) -> str                                       unified diff vs. the disk
    as_stream(manifests) -> str                                                       one multi-document YAML

Modules: quoting (values -> YAML scalars), engine (templates, structure check), context (template data),
versiondata (what changes per release), helpers (kubeadm's merge rules), schema and validate (Pod checks),
manifests (the pipeline), writer (disk), schemagen (developer tool for the trimmed schemas).
"""

from bootstrap.render.manifests import components_for, render_manifests
from bootstrap.render.writer import Change, ManifestChange, as_stream, diff_manifests, manifest_path, write_manifests

__all__ = [
    "Change",
    "ManifestChange",
    "as_stream",
    "components_for",
    "diff_manifests",
    "manifest_path",
    "render_manifests",
    "write_manifests",
]
