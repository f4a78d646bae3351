"""The kube-proxy configuration kubeadm stores in the `kube-proxy` ConfigMap, built the way kubeadm builds it.

kubeadm decodes an optional `KubeProxyConfiguration` (kubeproxy.config.k8s.io/v1alpha1) from `--config` into the
Go struct, fills four fields from the ClusterConfiguration (bindAddress, clusterCIDR = podSubnet, the kubeconfig
path, and since v1.37 mode = iptables) and marshals the whole struct, zero values included. kbs has no Go struct:
`SKELETON` is that struct's zero value as kubeadm v1.35-v1.37 print it (identical in the three minors), and the
operator's document is merged over it. The text is dumped the way Go's YAML marshaller writes it (sorted keys,
double-quoted strings where quoting is needed, Go durations), because kubeadm signs the ConfigMap with a SHA-256
of exactly that text (`kubeadm.kubernetes.io/component-config.hash`) and `kubeadm upgrade` compares it.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
from collections.abc import Mapping
from typing import Any, Final

import yaml

from bootstrap import constants
from bootstrap.config.types import format_duration, parse_duration
from bootstrap.errors import ConfigError

API_VERSION: Final = "kubeproxy.config.k8s.io/v1alpha1"
KIND: Final = "KubeProxyConfiguration"
GROUP: Final = API_VERSION.split("/")[0]
MODE_DEFAULT_SINCE: Final = (1, 37)  # kubeadm sets mode: iptables when unset (kubernetes/kubeadm#3309)
_KUBECONFIG: Final = f"{constants.KUBE_PROXY_DIR}/{constants.KUBE_PROXY_KUBECONFIG_KEY}"
_DURATIONS: Final = object()  # marks a skeleton leaf holding a Go duration (metav1.Duration or *metav1.Duration)

# The zero value of v1alpha1.KubeProxyConfiguration as marshalled; _DURATIONS leaves print as `0s`, or null where
# the Go field is a pointer (listed in _NULL_DURATIONS).
SKELETON: Final[dict[str, Any]] = {
    "apiVersion": API_VERSION,
    "bindAddress": "",
    "bindAddressHardFail": False,
    "clientConnection": {"acceptContentTypes": "", "burst": 0, "contentType": "", "kubeconfig": "", "qps": 0},
    "clusterCIDR": "",
    "configSyncPeriod": _DURATIONS,
    "conntrack": {
        "maxPerCore": None,
        "min": None,
        "tcpBeLiberal": False,
        "tcpCloseWaitTimeout": None,
        "tcpEstablishedTimeout": None,
        "udpStreamTimeout": _DURATIONS,
        "udpTimeout": _DURATIONS,
    },
    "detectLocal": {"bridgeInterface": "", "interfaceNamePrefix": ""},
    "detectLocalMode": "",
    "enableProfiling": False,
    "healthzBindAddress": "",
    "hostnameOverride": "",
    "iptables": {
        "localhostNodePorts": None,
        "masqueradeAll": False,
        "masqueradeBit": None,
        "minSyncPeriod": _DURATIONS,
        "syncPeriod": _DURATIONS,
    },
    "ipvs": {
        "excludeCIDRs": None,
        "minSyncPeriod": _DURATIONS,
        "scheduler": "",
        "strictARP": False,
        "syncPeriod": _DURATIONS,
        "tcpFinTimeout": _DURATIONS,
        "tcpTimeout": _DURATIONS,
        "udpTimeout": _DURATIONS,
    },
    "kind": KIND,
    "logging": {
        "flushFrequency": 0,
        "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
        "verbosity": 0,
    },
    "metricsBindAddress": "",
    "mode": "",
    "nftables": {"masqueradeAll": False, "masqueradeBit": None, "minSyncPeriod": _DURATIONS, "syncPeriod": _DURATIONS},
    "nodePortAddresses": None,
    "oomScoreAdj": None,
    "portRange": "",
    "showHiddenMetricsForVersion": "",
    "winkernel": {
        "enableDSR": False,
        "forwardHealthCheckVip": False,
        "networkName": "",
        "rootHnsEndpointName": "",
        "sourceVip": "",
    },
}
# Fields the Go struct marks omitempty: absent from the skeleton, kept when the operator sets them.
OPTIONAL_FIELDS: Final = frozenset({"featureGates", "windowsRunAsService"})
_NULL_DURATIONS: Final = frozenset({"conntrack.tcpCloseWaitTimeout", "conntrack.tcpEstablishedTimeout"})


def check_document(doc: Mapping[str, Any], where: str) -> dict[str, Any]:
    """An operator's KubeProxyConfiguration, checked for what kbs can tell: its apiVersion and top-level fields."""
    if doc.get("apiVersion") != API_VERSION:
        raise ConfigError(
            f"{where}: {KIND} {doc.get('apiVersion')} is not supported; kbs reads {API_VERSION}",
            hint=f"set `apiVersion: {API_VERSION}`",
        )
    unknown = sorted(set(doc) - set(SKELETON) - OPTIONAL_FIELDS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown field {unknown[0]!r} in {KIND}",
            hint="see the fields of kube-proxy's v1alpha1 configuration (`kube-proxy --help`, --config)",
        )
    for path, value in _leaves(doc):
        if path in _duration_paths():
            try:
                parse_duration(value)
            except (ValueError, TypeError) as exc:
                raise ConfigError(
                    f"{where}: {KIND} {path}: {value!r} is not a duration", hint="write it like 30s, 15m or 1h0m0s"
                ) from exc
    return dict(doc)


def build(
    user: Mapping[str, Any] | None, *, advertise_address: str, pod_subnet: str, minor: tuple[int, int]
) -> dict[str, Any]:
    """The effective KubeProxyConfiguration: the zero struct, the operator's fields, then kubeadm's defaults."""
    result = _merge(_zero(SKELETON, ""), dict(user or {}))
    result = _normalize_durations(result, "")
    if not result["bindAddress"]:
        result["bindAddress"] = "0.0.0.0" if _is_ipv4(advertise_address) else "::"
    if not result["clusterCIDR"] and pod_subnet:
        result["clusterCIDR"] = pod_subnet
    if not result["clientConnection"]["kubeconfig"]:
        result["clientConnection"]["kubeconfig"] = _KUBECONFIG
    if not result["mode"] and minor >= MODE_DEFAULT_SINCE:
        result["mode"] = "iptables"
    return result


def to_text(config: Mapping[str, Any]) -> str:
    """The document as Go's YAML marshaller writes it, without the final newline (kubeadm's `|-` block)."""
    return yaml.dump(dict(config), Dumper=_GoDumper, sort_keys=True, default_flow_style=False).rstrip("\n")


def config_hash(data: Mapping[str, str]) -> str:
    """kubeadm's ChecksumForConfigMap: SHA-256 over the values of `data`, in key order."""
    digest = hashlib.sha256()
    for key in sorted(data):
        digest.update(data[key].encode())
    return f"sha256:{digest.hexdigest()}"


class _GoDumper(yaml.SafeDumper):
    """Quotes like Go's yaml.v2: a string that would read back as another type (`""`, `"0"`, `"true"`) in double
    quotes; any other that cannot be plain (`'::'`) as the emitter chooses, in single quotes."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        ambiguous = data == "" or self.resolve(yaml.ScalarNode, data, (True, False)) != "tag:yaml.org,2002:str"  # type: ignore[no-untyped-call]
        return self.represent_scalar("tag:yaml.org,2002:str", data, style='"' if ambiguous else None)

    def represent_none(self, data: None) -> yaml.ScalarNode:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")


_GoDumper.add_representer(type(None), _GoDumper.represent_none)
_GoDumper.add_representer(str, _GoDumper.represent_str)


def _zero(skeleton: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in skeleton.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out[key] = _zero(value, path + ".")
        elif value is _DURATIONS:
            out[key] = "0s"
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _duration_paths() -> frozenset[str]:
    return frozenset(p for p, v in _leaves(SKELETON) if v is _DURATIONS) | _NULL_DURATIONS


def _leaves(doc: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if isinstance(value, Mapping):
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _normalize_durations(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Go re-marshals a duration in its canonical form (`1m` -> `1m0s`); so does kbs."""
    paths = _duration_paths()
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            _normalize_durations(value, path + ".")
        elif path in paths and value is not None:
            doc[key] = format_duration(parse_duration(value))
    return doc


def _is_ipv4(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        return False
