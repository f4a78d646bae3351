"""Validate a defaulted v1 Pod (a dict) and build the typed PodSpec the reconciler runs.

Validation and parsing are one pass: each field is read through a `Reader` that knows its path, so the first
problem becomes one InvalidManifestError naming the field (`spec.containers[0].image: required`). The rules are
the parts of the API server's ValidatePodCreate that matter for running a pod, plus the kubelet's static-pod
restrictions (v1.37: no references to Secrets, ConfigMaps, service accounts, PVCs, ...).
This module parses the pod level (metadata, spec, volumes); each container is parse_container.py's, and the
Reader itself lives in fields.py.
"""

from __future__ import annotations

from typing import Any, cast

from bootstrap.reconciler import model
from bootstrap.reconciler.fields import DNS_LABEL, DNS_SUBDOMAIN, Reader, forbid, unique
from bootstrap.reconciler.parse_container import merge_pod_security, parse_container
from bootstrap.reconciler.quantity import whole

HOSTPATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
# Volume sources a static pod may not use (PreventStaticPodAPIReferences, always on since v1.37).
_API_VOLUMES = {
    "secret": "secrets",
    "configMap": "configmaps",
    "persistentVolumeClaim": "persistentvolumeclaims",
    "csi": "csidrivers",
    "ephemeral": "persistentvolumeclaims",
    "azureFile": "secrets",
    "glusterfs": "endpoints",
}
_API_PROJECTIONS = {
    "secret": "secrets",
    "configMap": "configmaps",
    "serviceAccountToken": "serviceaccounts",
    "clusterTrustBundle": "clustertrustbundles",
    "podCertificate": "podcertificaterequests",
}


def parse_spec(pod: dict[str, Any]) -> model.PodSpec:
    """The typed spec of a defaulted pod; InvalidManifestError (with the field path) if it is not valid."""
    root = Reader(pod, "")
    meta = root.sub("metadata")
    if meta is None:
        raise root.fail("metadata", "required")
    name = meta.text("name", required=True)
    if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        raise meta.fail("name", f"{name!r} must be a lower-case DNS subdomain (a-z, 0-9, '-', '.')")
    namespace = meta.text("namespace", "default")
    if len(namespace) > 63 or not DNS_LABEL.match(namespace):
        raise meta.fail("namespace", f"{namespace!r} must be a lower-case DNS label")
    for key in ("labels", "annotations"):
        values = meta.sub(key)
        if values and not all(isinstance(k, str) and isinstance(v, str) for k, v in values.data.items()):
            raise meta.fail(key, "keys and values must be strings")
    spec = root.sub("spec")
    if spec is None:
        raise root.fail("spec", "required")
    return _pod_spec(spec)


def _pod_spec(spec: Reader) -> model.PodSpec:
    for key, resource in (("serviceAccountName", "serviceaccounts"), ("serviceAccount", "serviceaccounts")):
        if spec.data.get(key):
            raise forbid(spec.at(key), resource)
    if spec.data.get("imagePullSecrets"):
        raise forbid(spec.at("imagePullSecrets"), "secrets")
    if spec.data.get("resourceClaims"):
        raise forbid(spec.at("resourceClaims"), "resourceclaims")
    if spec.data.get("ephemeralContainers"):
        raise spec.fail("ephemeralContainers", "static pods do not support ephemeral containers")
    volumes = tuple((v.text("name", required=True), _volume(v)) for v in spec.items("volumes"))
    unique([n for n, _ in volumes], spec.at("volumes"), "volume name")
    for vol_name, _ in volumes:
        if len(vol_name) > 63 or not DNS_LABEL.match(vol_name):
            raise spec.fail("volumes", f"volume name {vol_name!r} must be a lower-case DNS label")
    host_network = spec.flag("hostNetwork")
    names = {n for n, _ in volumes}
    containers = tuple(parse_container(c, names, host_network) for c in spec.items("containers"))
    if not containers:
        raise spec.fail("containers", "at least one container is required")
    init = tuple(parse_container(c, names, host_network) for c in spec.items("initContainers"))
    unique([c.name for c in (*init, *containers)], spec.at("containers"), "container name")
    restart = spec.text("restartPolicy", "Always")
    if restart not in ("Always", "OnFailure", "Never"):
        raise spec.fail("restartPolicy", f"must be Always, OnFailure or Never, not {restart!r}")
    pod_sc = spec.sub("securityContext") or Reader({}, spec.at("securityContext"))
    dns = spec.sub("dnsConfig") or Reader({}, spec.at("dnsConfig"))
    options = []
    for option in dns.items("options"):
        value = option.opt_str("value")
        options.append(option.text("name", required=True) + (f":{value}" if value else ""))
    aliases = tuple((a.text("ip", required=True), a.strings("hostnames")) for a in spec.items("hostAliases"))
    groups = pod_sc.data.get("supplementalGroups") or []
    if not isinstance(groups, list) or not all(isinstance(g, int) for g in groups):
        raise pod_sc.fail("supplementalGroups", "must be a list of integers")
    sysctls = tuple((s.text("name", required=True), s.text("value", "")) for s in pod_sc.items("sysctls"))
    return model.PodSpec(
        containers=tuple(merge_pod_security(c, pod_sc) for c in containers),
        init_containers=tuple(merge_pod_security(c, pod_sc) for c in init),
        volumes=volumes,
        restart_policy=cast("Any", restart),
        termination_grace_period=spec.number("terminationGracePeriodSeconds", 30, minimum=0),
        host_network=host_network,
        host_pid=spec.flag("hostPID"),
        host_ipc=spec.flag("hostIPC"),
        share_process_namespace=spec.flag("shareProcessNamespace"),
        hostname=spec.opt_str("hostname"),
        subdomain=spec.opt_str("subdomain"),
        dns_policy=spec.text("dnsPolicy", "ClusterFirst"),
        dns_nameservers=dns.strings("nameservers"),
        dns_searches=dns.strings("searches"),
        dns_options=tuple(options),
        host_aliases=aliases,
        supplemental_groups=tuple(groups),
        fs_group=pod_sc.number("fsGroup") if pod_sc.has("fsGroup") else None,
        sysctls=sysctls,
    )


def _volume(vol: Reader) -> model.Volume:
    sources = [k for k, v in vol.data.items() if k != "name" and v is not None]
    if len(sources) != 1:
        raise vol.fail("name", f"volume must have exactly one source, found {sources or 'none'}")
    kind = sources[0]
    if kind in _API_VOLUMES:
        raise forbid(vol.at(kind), _API_VOLUMES[kind])
    if kind == "hostPath":
        host = vol.sub("hostPath") or Reader({}, vol.at("hostPath"))
        path = host.text("path", required=True)
        if not path.startswith("/"):
            raise host.fail("path", f"{path!r} must be an absolute path")
        kind_of = host.text("type", "")
        if kind_of not in HOSTPATH_TYPES:
            raise host.fail("type", f"must be one of {', '.join(t for t in HOSTPATH_TYPES if t)}, not {kind_of!r}")
        return model.HostPathVolume(path=path, type=kind_of)
    if kind == "emptyDir":
        empty = vol.sub("emptyDir") or Reader({}, vol.at("emptyDir"))
        medium = empty.text("medium", "")
        if medium not in ("", "Memory"):
            raise empty.fail("medium", f'must be "" or Memory, not {medium!r}')
        size = empty.data.get("sizeLimit")
        try:
            limit = whole(size) if size is not None else None
        except ValueError as exc:
            raise empty.fail("sizeLimit", str(exc)) from None
        return model.EmptyDirVolume(medium=medium, size_limit=limit)
    if kind == "projected":
        for i, projection in enumerate((vol.sub("projected") or Reader({}, "")).items("sources")):
            for key, resource in _API_PROJECTIONS.items():
                if projection.has(key):
                    raise forbid(f"{vol.at('projected')}.sources[{i}].{key}", resource)
    raise vol.fail(kind, "this volume type is not supported by kbs's reconciler (use hostPath or emptyDir)")
