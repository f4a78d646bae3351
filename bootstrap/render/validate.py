"""Checks every rendered Pod passes before anything is written: the Kubernetes schema and the static-pod rules.

Static-pod rules are the kubelet's (PreventStaticPodAPIReferences, always on from v1.37; kubelet-static-pods.md
section 5): a static pod may not reference a ServiceAccount, Secret, ConfigMap, PVC, resource claim or a projected
token, since its mirror pod could not be admitted and the kubelet refuses the file. kbs also checks the Pod is the
component it is written as (kind, name, namespace) so a template override cannot put etcd's file in the API
server's place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bootstrap import constants
from bootstrap.errors import RenderError
from bootstrap.render import schema

_FORBIDDEN_VOLUMES = {
    "secret": "a Secret",
    "configMap": "a ConfigMap",
    "persistentVolumeClaim": "a PersistentVolumeClaim",
    "ephemeral": "an ephemeral volume claim",
    "csi": "a CSI driver volume",
    "glusterfs": "an Endpoints object (glusterfs)",
    "azureFile": "a Secret (azureFile)",
}
_FORBIDDEN_PROJECTIONS = {
    "secret": "a Secret",
    "configMap": "a ConfigMap",
    "serviceAccountToken": "a service account token",
    "clusterTrustBundle": "a ClusterTrustBundle",
    "podCertificate": "a pod certificate",
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def validate_pod(pod: dict[str, Any], component: str, minor: int) -> None:
    """Raise RenderError naming the manifest and the first problem; return quietly when the Pod is good."""
    problems = list(static_pod_problems(pod, component))
    if not problems:
        problems = schema.errors(pod, minor)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RenderError(
            f"{component}.yaml is not a valid static Pod for Kubernetes 1.{minor}: {problems[0]}{more}",
            hint="check the extraArgs/extraVolumes/extraEnvs of this component, or the --templates-dir template",
        )


def static_pod_problems(pod: dict[str, Any], component: str) -> Iterator[str]:
    if pod.get("apiVersion") != "v1" or pod.get("kind") != "Pod":
        yield f"expected apiVersion v1 and kind Pod, got {pod.get('apiVersion')!r} {pod.get('kind')!r}"
        return
    metadata = pod.get("metadata") or {}
    if metadata.get("name") != component:
        yield f"metadata.name is {metadata.get('name')!r}, expected {component!r}"
    if metadata.get("namespace") != constants.KUBE_SYSTEM:
        yield f"metadata.namespace is {metadata.get('namespace')!r}, expected {constants.KUBE_SYSTEM!r}"
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        yield "spec is missing"
        return
    for key in ("serviceAccountName", "serviceAccount"):
        if spec.get(key):
            yield f"spec.{key}: a static pod cannot use a ServiceAccount"
    if spec.get("automountServiceAccountToken"):
        yield "spec.automountServiceAccountToken: a static pod has no service account token"
    if spec.get("imagePullSecrets"):
        yield "spec.imagePullSecrets: a static pod cannot reference Secrets (use node credentials)"
    if spec.get("resourceClaims"):
        yield "spec.resourceClaims: static pods may not use ResourceClaims"
    if spec.get("ephemeralContainers"):
        yield "spec.ephemeralContainers: static pods do not support ephemeral containers"
    for index, volume in enumerate(spec.get("volumes") or []):
        yield from _volume_problems(volume, f"spec.volumes[{index}]")
    for list_name in _CONTAINER_LISTS:
        for index, container in enumerate(spec.get(list_name) or []):
            yield from _container_problems(container, f"spec.{list_name}[{index}]")


def _volume_problems(volume: Any, path: str) -> Iterator[str]:
    if not isinstance(volume, dict):
        return
    for key, what in _FORBIDDEN_VOLUMES.items():
        if key in volume:
            yield f"{path}.{key}: a static pod cannot reference {what}"
    for index, source in enumerate((volume.get("projected") or {}).get("sources") or []):
        for key, what in _FORBIDDEN_PROJECTIONS.items():
            if isinstance(source, dict) and key in source:
                yield f"{path}.projected.sources[{index}].{key}: a static pod cannot reference {what}"


def _container_problems(container: Any, path: str) -> Iterator[str]:
    if not isinstance(container, dict):
        return
    for index, env in enumerate(container.get("env") or []):
        source = env.get("valueFrom") if isinstance(env, dict) else None
        if isinstance(source, dict):
            for key, what in (("secretKeyRef", "a Secret"), ("configMapKeyRef", "a ConfigMap")):
                if key in source:
                    yield f"{path}.env[{index}].valueFrom.{key}: a static pod cannot reference {what}"
    for index, source in enumerate(container.get("envFrom") or []):
        if isinstance(source, dict) and ("secretRef" in source or "configMapRef" in source):
            yield f"{path}.envFrom[{index}]: a static pod cannot reference Secrets or ConfigMaps"
