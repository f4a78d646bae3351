"""Validate a defaulted v1 Pod (a dict) and build the typed PodSpec the reconciler runs.

Validation and parsing are one pass: each field is read through a `_Reader` that knows its path, so the first
problem becomes one InvalidManifestError naming the field (`spec.containers[0].image: required`). The rules are
the parts of the API server's ValidatePodCreate that matter for running a pod, plus the kubelet's static-pod
restrictions (v1.37: no references to Secrets, ConfigMaps, service accounts, PVCs, ...).
"""

from __future__ import annotations

import re
from typing import Any, cast

from bootstrap.reconciler import model
from bootstrap.reconciler.errors import InvalidManifestError
from bootstrap.reconciler.quantity import milli, whole

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
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
_FIELD_PATHS = frozenset(
    {"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName"}
    | {"status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs"}
)


class _Reader:
    """Typed access to a mapping that reports the full field path on any mistake."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise InvalidManifestError(f"{path or 'document'}: must be a mapping, not {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> InvalidManifestError:
        return InvalidManifestError(f"{self.at(key)}: {message}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required or default is None:
                raise self.fail(key, "required")
            return default
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {value!r}")
        if required and not value:
            raise self.fail(key, "required")
        return value

    def opt_str(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def number(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, not {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, not {value}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def sub(self, key: str) -> _Reader | None:
        return _Reader(self.data[key], self.at(key)) if self.has(key) else None

    def items(self, key: str) -> list[_Reader]:
        value = self.data.get(key) or []
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        return [_Reader(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]

    def port(self, key: str) -> int | str:
        value = self.data.get(key)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= 65535:
                raise self.fail(key, f"must be between 1 and 65535, not {value}")
            return value
        if isinstance(value, str) and value and _PORT_NAME.match(value) and len(value) <= 15:
            return value
        raise self.fail(key, f"must be a port number or a port name, not {value!r}")


def _forbid(path: str, resource: str) -> InvalidManifestError:
    return InvalidManifestError(f"{path}: static pods may not reference {resource}")


def parse_spec(pod: dict[str, Any]) -> model.PodSpec:
    """The typed spec of a defaulted pod; InvalidManifestError (with the field path) if it is not valid."""
    root = _Reader(pod, "")
    meta = root.sub("metadata")
    if meta is None:
        raise root.fail("metadata", "required")
    name = meta.text("name", required=True)
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise meta.fail("name", f"{name!r} must be a lower-case DNS subdomain (a-z, 0-9, '-', '.')")
    namespace = meta.text("namespace", "default")
    if len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise meta.fail("namespace", f"{namespace!r} must be a lower-case DNS label")
    for key in ("labels", "annotations"):
        values = meta.sub(key)
        if values and not all(isinstance(k, str) and isinstance(v, str) for k, v in values.data.items()):
            raise meta.fail(key, "keys and values must be strings")
    spec = root.sub("spec")
    if spec is None:
        raise root.fail("spec", "required")
    return _pod_spec(spec)


def _pod_spec(spec: _Reader) -> model.PodSpec:
    for key, resource in (("serviceAccountName", "serviceaccounts"), ("serviceAccount", "serviceaccounts")):
        if spec.data.get(key):
            raise _forbid(spec.at(key), resource)
    if spec.data.get("imagePullSecrets"):
        raise _forbid(spec.at("imagePullSecrets"), "secrets")
    if spec.data.get("resourceClaims"):
        raise _forbid(spec.at("resourceClaims"), "resourceclaims")
    if spec.data.get("ephemeralContainers"):
        raise spec.fail("ephemeralContainers", "static pods do not support ephemeral containers")
    volumes = tuple((v.text("name", required=True), _volume(v)) for v in spec.items("volumes"))
    _unique([n for n, _ in volumes], spec.at("volumes"), "volume name")
    for vol_name, _ in volumes:
        if len(vol_name) > 63 or not _DNS_LABEL.match(vol_name):
            raise spec.fail("volumes", f"volume name {vol_name!r} must be a lower-case DNS label")
    host_network = spec.flag("hostNetwork")
    names = {n for n, _ in volumes}
    containers = tuple(_container(c, names, host_network) for c in spec.items("containers"))
    if not containers:
        raise spec.fail("containers", "at least one container is required")
    init = tuple(_container(c, names, host_network) for c in spec.items("initContainers"))
    _unique([c.name for c in (*init, *containers)], spec.at("containers"), "container name")
    restart = spec.text("restartPolicy", "Always")
    if restart not in ("Always", "OnFailure", "Never"):
        raise spec.fail("restartPolicy", f"must be Always, OnFailure or Never, not {restart!r}")
    pod_sc = spec.sub("securityContext") or _Reader({}, spec.at("securityContext"))
    dns = spec.sub("dnsConfig") or _Reader({}, spec.at("dnsConfig"))
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
        containers=tuple(_merge_pod_security(c, pod_sc) for c in containers),
        init_containers=tuple(_merge_pod_security(c, pod_sc) for c in init),
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


def _unique(names: list[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidManifestError(f"{path}: duplicate {what} {name!r}")
        seen.add(name)


def _volume(vol: _Reader) -> model.Volume:
    sources = [k for k, v in vol.data.items() if k != "name" and v is not None]
    if len(sources) != 1:
        raise vol.fail("name", f"volume must have exactly one source, found {sources or 'none'}")
    kind = sources[0]
    if kind in _API_VOLUMES:
        raise _forbid(vol.at(kind), _API_VOLUMES[kind])
    if kind == "hostPath":
        host = vol.sub("hostPath") or _Reader({}, vol.at("hostPath"))
        path = host.text("path", required=True)
        if not path.startswith("/"):
            raise host.fail("path", f"{path!r} must be an absolute path")
        kind_of = host.text("type", "")
        if kind_of not in HOSTPATH_TYPES:
            raise host.fail("type", f"must be one of {', '.join(t for t in HOSTPATH_TYPES if t)}, not {kind_of!r}")
        return model.HostPathVolume(path=path, type=kind_of)
    if kind == "emptyDir":
        empty = vol.sub("emptyDir") or _Reader({}, vol.at("emptyDir"))
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
        for i, projection in enumerate((vol.sub("projected") or _Reader({}, "")).items("sources")):
            for key, resource in _API_PROJECTIONS.items():
                if projection.has(key):
                    raise _forbid(f"{vol.at('projected')}.sources[{i}].{key}", resource)
    raise vol.fail(kind, "this volume type is not supported by kbs's reconciler (use hostPath or emptyDir)")


def _handler(parent: _Reader, *, allow_sleep: bool = False) -> model.Handler:
    kinds = [k for k in ("exec", "httpGet", "tcpSocket", "grpc", "sleep") if parent.has(k)]
    if len(kinds) != 1:
        raise parent.fail("exec", f"exactly one handler (exec, httpGet, tcpSocket, grpc) is required, found {kinds}")
    kind = kinds[0]
    sub = parent.sub(kind) or _Reader({}, parent.at(kind))
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


def _probe(c: _Reader, key: str) -> model.Probe | None:
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


def _env(c: _Reader) -> tuple[model.EnvVar, ...]:
    if c.data.get("envFrom"):
        first = c.items("envFrom")[0]
        resource = "secrets" if first.has("secretRef") else "configmaps"
        raise _forbid(c.at("envFrom"), resource)
    out = []
    for env in c.items("env"):
        name = env.text("name", required=True)
        source = env.sub("valueFrom")
        if source is None:
            out.append(model.EnvVar(name=name, value=env.text("value", "")))
            continue
        if source.has("secretKeyRef"):
            raise _forbid(source.at("secretKeyRef"), "secrets")
        if source.has("configMapKeyRef"):
            raise _forbid(source.at("configMapKeyRef"), "configmaps")
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


def _resources(c: _Reader) -> model.Resources:
    res = c.sub("resources") or _Reader({}, c.at("resources"))
    values: dict[str, int | None] = {}
    for part in ("requests", "limits"):
        section = res.sub(part) or _Reader({}, res.at(part))
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


def _security(c: _Reader) -> model.SecurityContext:
    sc = c.sub("securityContext")
    if sc is None:
        return model.SecurityContext()
    caps = sc.sub("capabilities") or _Reader({}, sc.at("capabilities"))
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


def _seccomp(profile: _Reader) -> str:
    kind = profile.text("type", required=True)
    if kind == "Localhost":
        return f"Localhost:{profile.text('localhostProfile', required=True)}"
    if kind not in ("RuntimeDefault", "Unconfined"):
        raise profile.fail("type", f"must be RuntimeDefault, Unconfined or Localhost, not {kind!r}")
    return kind


def _merge_pod_security(container: model.Container, pod_sc: _Reader) -> model.Container:
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


def _container(c: _Reader, volumes: set[str], host_network: bool) -> model.Container:
    name = c.text("name", required=True)
    if len(name) > 63 or not _DNS_LABEL.match(name):
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
    _unique([m.mount_path for m in mounts], c.at("volumeMounts"), "mountPath")
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
