"""Docker-era names and labels of static-pod containers (dockershim / cri-dockerd), so `docker ps` looks familiar.

    sandbox    k8s_POD_<pod>_<namespace>_<uid>_<attempt>
    container  k8s_<container>_<pod>_<namespace>_<uid>_<restartCount>

Labels: the pod's labels (sandbox) and `io.kubernetes.pod.name|namespace|uid`, `io.kubernetes.container.name`
(`POD` on the sandbox), `io.kubernetes.docker.type` (podsandbox|container), `io.kubernetes.sandbox.id`; the
kubelet's annotations become labels prefixed `annotation.` (config.hash/source/seen on the sandbox; the container
hash, restartCount, terminationGracePeriod, preStopHandler, ports on containers). From those alone a restarted
reconciler can adopt, stop and clean up containers without their manifest. `io.kbs.reconciler=<instance>` scopes
every list to the containers of one reconciler (tests run several side by side on one engine).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from bootstrap.constants import RECONCILER_LABEL
from bootstrap.reconciler import model

PREFIX = "k8s"
SANDBOX_CONTAINER = "POD"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
DOCKER_TYPE = "io.kubernetes.docker.type"
SANDBOX_ID = "io.kubernetes.sandbox.id"
TYPE_SANDBOX = "podsandbox"
TYPE_CONTAINER = "container"
ANNOTATION = "annotation."
CONTAINER_HASH = "io.kubernetes.container.hash"
RESTART_COUNT = "io.kubernetes.container.restartCount"
TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy"
TERMINATION_GRACE = "io.kubernetes.pod.terminationGracePeriod"
PRE_STOP = "io.kubernetes.container.preStopHandler"
PORTS = "io.kubernetes.container.ports"
CONTAINER_TYPE = "io.kubernetes.container.type"
ATTEMPT = "io.kbs.attempt"  # the sandbox attempt (Docker has no CRI metadata to keep it in)
INIT = "init"


def sandbox_name(pod: model.StaticPod, attempt: int) -> str:
    return f"{PREFIX}_{SANDBOX_CONTAINER}_{pod.name}_{pod.namespace}_{pod.uid}_{attempt}"


def container_name(pod: model.StaticPod, container: str, restart_count: int) -> str:
    return f"{PREFIX}_{container}_{pod.name}_{pod.namespace}_{pod.uid}_{restart_count}"


def container_hash(container: model.Container) -> str:
    """The kubelet's HashContainer since v1.31 covers only name and image (fnv32a there, crc32 here)."""
    return format(zlib.crc32(f"{container.name}\0{container.image}".encode()), "x")


def _handler_json(handler: model.Handler) -> dict[str, Any]:
    if isinstance(handler, model.ExecAction):
        return {"exec": {"command": list(handler.command)}}
    if isinstance(handler, model.HTTPGetAction):
        body: dict[str, Any] = {"port": handler.port, "path": handler.path, "scheme": handler.scheme}
        if handler.host:
            body["host"] = handler.host
        return {"httpGet": body}
    if isinstance(handler, model.TCPSocketAction):
        return {"tcpSocket": {"port": handler.port, **({"host": handler.host} if handler.host else {})}}
    if isinstance(handler, model.SleepAction):
        return {"sleep": {"seconds": handler.seconds}}
    return {"grpc": {"port": handler.port, "service": handler.service}}


def handler_from_json(text: str | None) -> model.Handler | None:
    """The preStop handler stored in a container's labels (for stopping it without its manifest)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        if "exec" in data:
            return model.ExecAction(tuple(data["exec"]["command"]))
        if "httpGet" in data:
            h = data["httpGet"]
            return model.HTTPGetAction(
                port=h["port"], path=h.get("path", "/"), scheme=h.get("scheme", "HTTP"), host=h.get("host")
            )
        if "tcpSocket" in data:
            return model.TCPSocketAction(port=data["tcpSocket"]["port"], host=data["tcpSocket"].get("host"))
        if "sleep" in data:
            return model.SleepAction(int(data["sleep"]["seconds"]))
    except (ValueError, KeyError, TypeError):
        return None
    return None


def _base(pod: model.StaticPod, instance: str) -> dict[str, str]:
    return {POD_NAME: pod.name, POD_NAMESPACE: pod.namespace, POD_UID: pod.uid, RECONCILER_LABEL: instance}


def sandbox_labels(pod: model.StaticPod, instance: str, attempt: int) -> dict[str, str]:
    labels = dict(pod.labels)
    labels.update(_base(pod, instance))
    labels[CONTAINER_NAME] = SANDBOX_CONTAINER
    labels[DOCKER_TYPE] = TYPE_SANDBOX
    labels[ATTEMPT] = str(attempt)
    for key, value in pod.annotations.items():
        labels[ANNOTATION + key] = value
    return labels


def container_labels(
    pod: model.StaticPod, container: model.Container, instance: str, sandbox_id: str, restart_count: int, *, init: bool
) -> dict[str, str]:
    labels = _base(pod, instance)
    labels[CONTAINER_NAME] = container.name
    labels[DOCKER_TYPE] = TYPE_CONTAINER
    labels[SANDBOX_ID] = sandbox_id
    annotations = {
        CONTAINER_HASH: container_hash(container),
        RESTART_COUNT: str(restart_count),
        TERMINATION_MESSAGE_PATH: container.termination_message_path,
        TERMINATION_MESSAGE_POLICY: container.termination_message_policy,
        TERMINATION_GRACE: str(pod.spec.termination_grace_period),
    }
    if init:
        annotations[CONTAINER_TYPE] = INIT
    if container.pre_stop is not None:
        annotations[PRE_STOP] = json.dumps(_handler_json(container.pre_stop), sort_keys=True)
    if container.ports:
        ports = [
            {"containerPort": p.container_port, "protocol": p.protocol, **({"name": p.name} if p.name else {})}
            for p in container.ports
        ]
        annotations[PORTS] = json.dumps(ports)
    for key, value in annotations.items():
        labels[ANNOTATION + key] = value
    return labels
