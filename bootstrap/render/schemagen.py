"""Developer tool: cut the Pod schema of each supported Kubernetes minor out of kubernetes-validate's schemas.

    .venv/bin/python -m bootstrap.render.schemagen      # rewrites bootstrap/render/schemas/pod-v1.<minor>.json

kubernetes-validate (a dev dependency, ~100 MB of schemas, ~110 ms to import and validate) is too heavy for
`kbs render --dry-run`. kbs ships only the definitions a Pod reaches, without descriptions, and validates them
with bootstrap.render.schema; tests/unit/render/test_schema.py checks both agree and that these files are current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bootstrap import versions

SCHEMAS_DIR = Path(__file__).with_name("schemas")
_KEEP_X = {"x-kubernetes-list-type", "x-kubernetes-list-map-keys"}
_REF_PREFIX = "/api/_definitions.json#/$defs/"


def schema_file(minor: int) -> Path:
    return SCHEMAS_DIR / f"pod-v1.{minor}.json"


def trimmed_pod_schema(minor: int) -> dict[str, Any]:
    """The Pod schema of Kubernetes 1.<minor> with only the definitions it reaches, refs made local."""
    import importlib.resources

    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v1.{minor}.0-local-strict"
    pod = json.loads((root / "pod-v1.json").read_text())
    definitions = json.loads((root / "_definitions.json").read_text())["$defs"]
    kept: dict[str, Any] = {}

    def clean(node: Any) -> Any:
        if isinstance(node, list):
            return [clean(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("description", "$schema", "$id") or (key.startswith("x-") and key not in _KEEP_X):
                continue
            if key == "$ref":
                name = value.removeprefix(_REF_PREFIX).removeprefix("#/$defs/")
                if name not in kept:
                    kept[name] = {}
                    kept[name] = clean(definitions[name])
                out[key] = f"#/$defs/{name}"
            elif key == "properties":
                out[key] = {prop: clean(sub) for prop, sub in value.items()}
            else:
                out[key] = clean(value)
        return out

    schema: dict[str, Any] = clean(pod)
    schema["$defs"] = dict(sorted(kept.items()))
    return schema


def main() -> None:
    SCHEMAS_DIR.mkdir(exist_ok=True)
    for row in versions.supported():
        path = schema_file(row.minor)
        path.write_text(json.dumps(trimmed_pod_schema(row.minor), sort_keys=True, separators=(",", ":")) + "\n")
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
