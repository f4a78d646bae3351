"""From manifest bytes to a StaticPod: decode, the v1 scheme defaults, the kubelet's static-pod defaults, the UID.

The order is the kubelet's (`pkg/kubelet/config/common.go` applyDefaults, then the config mux):

1. decode YAML or JSON (first document only), require `apiVersion: v1`, `kind: Pod`, `metadata.name`;
2. apply the v1 scheme defaults that matter for running (restartPolicy, grace period, probe timings, pull policy...);
3. UID = 32 hex chars of a 128-bit BLAKE2b over the canonical JSON of that defaulted pod, then `host:<node>` and
   `file:<path>` (or only `url:<url>`): the same file and content give the same UID on every restart, any change
   gives a new one. A `metadata.uid` written in the manifest is kept;
4. name `<name>-<lower(node)>`, namespace `default`, `spec.nodeName`, annotations `kubernetes.io/config.hash`
   (= UID) and `kubernetes.io/config.source`, the `NoExecute`/`Exists` toleration for file pods, phase Pending;
5. validate and build the typed spec (parse.py). `kubernetes.io/config.seen` is stamped by the reconciler when it
   first sees the UID.

The hash is ours, not the kubelet's (a go-spew dump of Go structs cannot be reproduced): only its format matches.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import yaml

from bootstrap.reconciler import model
from bootstrap.reconciler.errors import InvalidManifestError
from bootstrap.reconciler.parse import parse_spec

CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_SEEN = "kubernetes.io/config.seen"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
LOCAL_ANNOTATIONS = frozenset({CONFIG_SOURCE, CONFIG_SEEN, CONFIG_MIRROR})
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


class _Loader(yaml.SafeLoader):
    """Safe YAML without timestamp resolution, so `2024-01-01` stays a string as in the API server's decoder."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode_document(data: bytes) -> Any:
    """The first YAML (or JSON) document in `data`; InvalidManifestError if it does not parse."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidManifestError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        loader = _Loader(text)
        try:
            # Only the first document counts, as with the kubelet's YAML decoder.
            return loader.get_data() if loader.check_data() else None  # type: ignore[no-untyped-call]
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidManifestError(f"not valid YAML or JSON{where}: {problem}") from None


def check_pod_document(doc: Any) -> dict[str, Any]:
    """`doc` if it is a v1 Pod with a name, else InvalidManifestError saying why (as the kubelet would)."""
    if not isinstance(doc, dict):
        raise InvalidManifestError("couldn't parse as pod: the document is not a mapping")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if kind != "Pod" or api_version != "v1":
        found = f"{api_version or '<no apiVersion>'}/{kind or '<no kind>'}"
        raise InvalidManifestError(f"couldn't parse as pod: expected apiVersion v1, kind Pod, found {found}")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise InvalidManifestError("invalid pod: name is needed for the pod")
    return doc


def default_pull_policy(image: str) -> str:
    """Always for `:latest` or no tag, else IfNotPresent (a digest counts as a tag)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_handler(handler: dict[str, Any]) -> None:
    http = handler.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_container(c: dict[str, Any], host_network: bool) -> None:
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if isinstance(c.get("image"), str):
        c.setdefault("imagePullPolicy", default_pull_policy(c["image"].strip()))
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if host_network and "hostPort" not in port and "containerPort" in port:
                port["hostPort"] = port["containerPort"]  # defaultHostNetworkPorts
    for key in _PROBES:
        probe = c.get(key)
        if isinstance(probe, dict):
            for field, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1)):
                probe.setdefault(field, value)
            probe.setdefault("failureThreshold", 3)
            _default_handler(probe)
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                _default_handler(lifecycle[hook])
    for env in c.get("env") or []:
        ref = env.get("valueFrom", {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    resources = c.get("resources")
    if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
        requests = resources.setdefault("requests", {})
        if isinstance(requests, dict):
            for name, value in resources["limits"].items():
                requests.setdefault(name, value)  # requests default to limits


def apply_scheme_defaults(pod: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `pod` with the v1 defaults the API server's decoder would fill in."""
    pod = copy.deepcopy(pod)
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return pod  # validation reports it
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                _default_container(container, host_network)
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            if set(volume) <= {"name"}:
                volume["emptyDir"] = {}
            host_path = volume.get("hostPath")
            if isinstance(host_path, dict):
                host_path.setdefault("type", "")
    return pod


def compute_uid(defaulted: dict[str, Any], *, node_name: str, source: str, origin: str) -> str:
    """32 lower-case hex chars: a 128-bit hash of the defaulted pod plus where it came from."""
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(json.dumps(defaulted, sort_keys=True, separators=(",", ":"), default=str).encode())
    if source == model.SOURCE_FILE:
        hasher.update(f"host:{node_name}".encode())
        hasher.update(f"file:{origin}".encode())
    else:
        hasher.update(f"url:{origin}".encode())
    return hasher.hexdigest()


def _add_noexecute_toleration(spec: dict[str, Any]) -> None:
    wanted = {"operator": "Exists", "effect": "NoExecute"}
    tolerations = spec.get("tolerations")
    if not isinstance(tolerations, list):
        tolerations = spec["tolerations"] = []
    for i, existing in enumerate(tolerations):
        if isinstance(existing, dict) and not existing.get("key") and existing.get("effect") == "NoExecute":
            tolerations[i] = {**existing, **wanted}
            return
    tolerations.append(wanted)


def static_pod_from_document(doc: Any, *, node_name: str, source: str, origin: str) -> model.StaticPod:
    """The defaulted, validated StaticPod for one decoded document; InvalidManifestError if it cannot run."""
    defaulted = apply_scheme_defaults(check_pod_document(doc))
    meta = defaulted["metadata"]
    uid = meta.get("uid") or compute_uid(defaulted, node_name=node_name, source=source, origin=origin)
    meta["uid"] = str(uid)
    meta["name"] = f"{meta['name']}-{node_name.lower()}"
    if not meta.get("namespace"):
        meta["namespace"] = "default"
    spec = defaulted["spec"]
    if isinstance(spec, dict):
        spec["nodeName"] = node_name
        if source == model.SOURCE_FILE:
            _add_noexecute_toleration(spec)
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = meta["annotations"] = {}
    annotations[CONFIG_HASH] = str(uid)
    annotations[CONFIG_SOURCE] = source
    defaulted["status"] = {"phase": "Pending"}
    return model.StaticPod(manifest=defaulted, spec=parse_spec(defaulted), source=source, origin=origin)


def pods_from_bytes(data: bytes, *, node_name: str, source: str, origin: str) -> model.StaticPod:
    """One Pod from a manifest file's bytes (the file source: a PodList is rejected)."""
    return static_pod_from_document(decode_document(data), node_name=node_name, source=source, origin=origin)


def seen_timestamp(now: datetime | None = None) -> str:
    """`kubernetes.io/config.seen`: RFC 3339 in UTC with 9 fraction digits (the kubelet's RFC3339NanoFixed)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


def semantically_equal(a: model.StaticPod, b: model.StaticPod) -> bool:
    """The kubelet's podsDifferSemantically, negated: spec, labels and non-local annotations."""
    ma, mb = a.manifest, b.manifest

    def annotations(pod: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in (pod["metadata"].get("annotations") or {}).items() if k not in LOCAL_ANNOTATIONS}

    return (
        ma.get("spec") == mb.get("spec")
        and ma["metadata"].get("labels") == mb["metadata"].get("labels")
        and annotations(ma) == annotations(mb)
    )
