"""Validate and build one container of a static pod: image, ports, mounts, env, resources, security, probes, hooks.

Called by parse.py for spec.containers and spec.initContainers with the pod's volume names and hostNetwork; the
static-pod restrictions that concern a container (no env from Secrets or ConfigMaps) are checked here.
merge_pod_security applies the pod-level securityContext where a container does not set its own.
"""

from __future__ import annotations

import re
from typing import Any, cast

from bootstrap.reconciler import model
from bootstrap.reconciler.fields import DNS_LABEL, Reader, forbid, unique
from bootstrap.reconciler.quantity import milli, whole

_FIELD_PATHS = frozenset(
    {"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName"}
    | {"status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs"}
)


def _handler(parent: Reader, *, allow_sleep: bool = False) -> model.Handler:
    kinds = [k for k in ("exec", "httpGet", "tcpSocket", "grpc", "sleep") if parent.has(k)]
    if len(kinds) != 1:
        raise parent.fail("exec", f"exactly one handler (exec, httpGet, tcpSocket, grpc) is required, found {kinds}")
    kind = kinds[0]
    sub = parent.sub(kind) or Reader({}, parent.at(kind))
    if kind == "exec":
        command = sub.strings("command")
        if not command:
            raise sub.fail("command", "required")
        return model.ExecAction(command)
    if kind == "httpGet":
        scheme = sub.text("scheme", "HTTP").upper()
        if scheme not in ("HTTP", "HTTPS"):
            raise sub.fail("scheme", f"must be HTTP or HTTPS, not {scheme!r}")
        headers = tuple((h.text("name", required=True), h.text("value", "")) for h in sub.items("httpHeaders"))
        path = sub.text("path", "/") or "/"
        return model.HTTPGetAction(
            port=sub.port("port"),
            path=path,
            scheme=cast("Any", scheme),
            host=sub.opt_str("host") or None,
            headers=headers,
        )
    if kind == "tcpSocket":
        return model.TCPSocketAction(port=sub.port("port"), host=sub.opt_str("host") or None)
    if kind == "grpc":
        return model.GRPCAction(port=sub.number("port", minimum=1), service=sub.text("service", ""))
    if not allow_sleep:
        raise parent.fail("sleep", "sleep is only valid in lifecycle hooks")
    return model.SleepAction(seconds=sub.number("seconds", minimum=0))


def _probe(c: Reader, key: str) -> model.Probe | None:
    probe = c.sub(key)
    if probe is None:
        return None
    success = probe.number("successThreshold", 1, minimum=1)
    if key != "readinessProbe" and success != 1:
        raise probe.fail("successThreshold", f"must be 1 for {key}")
    grace = probe.data.get("terminationGracePeriodSeconds")
    if grace is not None and key == "readinessProbe":
        raise probe.fail("terminationGracePeriodSeconds", "must not be set for readinessProbe")
    return model.Probe(
        handler=_handler(probe),
        initial_delay=probe.number("initialDelaySeconds", 0, minimum=0),
        period=probe.number("periodSeconds", 10, minimum=1),
        timeout=probe.number("timeoutSeconds", 1, minimum=1),
        success_threshold=success,
        failure_threshold=probe.number("failureThreshold", 3, minimum=1),
        termination_grace_period=probe.number("terminationGracePeriodSeconds", minimum=1)
        if grace is not None
        else None,
    )


def _env(c: Reader) -> tuple[model.EnvVar, ...]:
    if c.data.get("envFrom"):
        first = c.items("envFrom")[0]
        resource = "secrets" if first.has("secretRef") else "configmaps"
        raise forbid(c.at("envFrom"), resource)
    out = []
    for env in c.items("env"):
        name = env.text("name", required=True)
        source = env.sub("valueFrom")
        if source is None:
            out.append(model.EnvVar(name=name, value=env.text("value", "")))
            continue
        if source.has("secretKeyRef"):
            raise forbid(source.at("secretKeyRef"), "secrets")
        if source.has("configMapKeyRef"):
            raise forbid(source.at("configMapKeyRef"), "configmaps")
        field_ref = source.sub("fieldRef")
        if field_ref is not None:
            path = field_ref.text("fieldPath", required=True)
            if path not in _FIELD_PATHS and not re.match(r"^metadata\.(labels|annotations)\['[^']+'\]$", path):
                raise field_ref.fail("fieldPath", f"unsupported field path {path!r}")
            out.append(model.EnvVar(name=name, field_path=path))
            continue
        res = source.sub("resourceFieldRef")
        if res is None:
            raise source.fail("fieldRef", "one of fieldRef or resourceFieldRef is required")
        out.append(
            model.EnvVar(name=name, resource=(res.text("resource", required=True), str(res.data.get("divisor", "1"))))
        )
    return tuple(out)


def _resources(c: Reader) -> model.Resources:
    res = c.sub("resources") or Reader({}, c.at("resources"))
    values: dict[str, int | None] = {}
    for part in ("requests", "limits"):
        section = res.sub(part) or Reader({}, res.at(part))
        try:
            values[f"cpu_{part}"] = milli(section.data["cpu"]) if "cpu" in section.data else None
            values[f"mem_{part}"] = whole(section.data["memory"]) if "memory" in section.data else None
        except ValueError as exc:
            raise res.fail(part, str(exc)) from None
    for kind in ("cpu", "mem"):
        req, lim = values[f"{kind}_requests"], values[f"{kind}_limits"]
        if req is not None and lim is not None and req > lim:
            raise res.fail("requests", f"{'cpu' if kind == 'cpu' else 'memory'} request must not exceed its limit")
    return model.Resources(
        cpu_request_milli=values["cpu_requests"],
        cpu_limit_milli=values["cpu_limits"],
        memory_request=values["mem_requests"],
        memory_limit=values["mem_limits"],
    )


def _security(c: Reader) -> model.SecurityContext:
    sc = c.sub("securityContext")
    if sc is None:
        return model.SecurityContext()
    caps = sc.sub("capabilities") or Reader({}, sc.at("capabilities"))
    seccomp = sc.sub("seccompProfile")
    return model.SecurityContext(
        privileged=sc.flag("privileged"),
        run_as_user=sc.number("runAsUser", minimum=0) if sc.has("runAsUser") else None,
        run_as_group=sc.number("runAsGroup", minimum=0) if sc.has("runAsGroup") else None,
        read_only_root_filesystem=sc.flag("readOnlyRootFilesystem"),
        allow_privilege_escalation=sc.flag("allowPrivilegeEscalation") if sc.has("allowPrivilegeEscalation") else None,
        capabilities_add=caps.strings("add"),
        capabilities_drop=caps.strings("drop"),
        seccomp=_seccomp(seccomp) if seccomp else None,
    )


def _seccomp(profile: Reader) -> str:
    kind = profile.text("type", required=True)
    if kind == "Localhost":
        return f"Localhost:{profile.text('localhostProfile', required=True)}"
    if kind not in ("RuntimeDefault", "Unconfined"):
        raise profile.fail("type", f"must be RuntimeDefault, Unconfined or Localhost, not {kind!r}")
    return kind


def parse_container(c: Reader, volumes: set[str], host_network: bool) -> model.Container:
    name = c.text("name", required=True)
    if len(name) > 63 or not DNS_LABEL.match(name):
        raise c.fail("name", f"{name!r} must be a lower-case DNS label")
    image = c.text("image", required=True).strip()
    policy = c.text("imagePullPolicy", "IfNotPresent")
    if policy not in ("Always", "IfNotPresent", "Never"):
        raise c.fail("imagePullPolicy", f"must be Always, IfNotPresent or Never, not {policy!r}")
    ports = []
    for p in c.items("ports"):
        number = p.number("containerPort", minimum=1)
        if number > 65535:
            raise p.fail("containerPort", f"must be at most 65535, not {number}")
        protocol = p.text("protocol", "TCP")
        if protocol not in ("TCP", "UDP", "SCTP"):
            raise p.fail("protocol", f"must be TCP, UDP or SCTP, not {protocol!r}")
        host_port = p.number("hostPort", minimum=0) if p.has("hostPort") else None
        if host_network and host_port not in (None, number):
            raise p.fail("hostPort", "must equal containerPort when hostNetwork is true")
        ports.append(model.Port(number, protocol, p.opt_str("name"), host_port or None, p.opt_str("hostIP") or None))
    mounts = []
    for m in c.items("volumeMounts"):
        mount_name = m.text("name", required=True)
        if mount_name not in volumes:
            raise m.fail("name", f"no volume named {mount_name!r} in spec.volumes")
        mounts.append(
            model.VolumeMount(mount_name, m.text("mountPath", required=True), m.flag("readOnly"), m.text("subPath", ""))
        )
    unique([m.mount_path for m in mounts], c.at("volumeMounts"), "mountPath")
    lifecycle = c.sub("lifecycle")
    pre_stop_reader = lifecycle.sub("preStop") if lifecycle else None
    return model.Container(
        name=name,
        image=image,
        image_pull_policy=cast("Any", policy),
        command=c.strings("command"),
        args=c.strings("args"),
        working_dir=c.opt_str("workingDir") or None,
        env=_env(c),
        ports=tuple(ports),
        volume_mounts=tuple(mounts),
        resources=_resources(c),
        security=_security(c),
        liveness=_probe(c, "livenessProbe"),
        readiness=_probe(c, "readinessProbe"),
        startup=_probe(c, "startupProbe"),
        pre_stop=_handler(pre_stop_reader, allow_sleep=True) if pre_stop_reader else None,
        termination_message_path=c.text("terminationMessagePath", "/dev/termination-log"),
        termination_message_policy=c.text("terminationMessagePolicy", "File"),
        stdin=c.flag("stdin"),
        tty=c.flag("tty"),
    )


def merge_pod_security(container: model.Container, pod_sc: Reader) -> model.Container:
    """Pod-level runAsUser/runAsGroup/seccompProfile apply where the container does not set its own."""
    sec = container.security
    user = (
        sec.run_as_user
        if sec.run_as_user is not None
        else (pod_sc.number("runAsUser") if pod_sc.has("runAsUser") else None)
    )
    group = sec.run_as_group
    if group is None and pod_sc.has("runAsGroup"):
        group = pod_sc.number("runAsGroup")
    seccomp = sec.seccomp
    pod_seccomp = pod_sc.sub("seccompProfile")
    if seccomp is None and pod_seccomp is not None:
        seccomp = _seccomp(pod_seccomp)
    if (user, group, seccomp) == (sec.run_as_user, sec.run_as_group, sec.seccomp):
        return container
    from dataclasses import replace

    return replace(container, security=replace(sec, run_as_user=user, run_as_group=group, seccomp=seccomp))
