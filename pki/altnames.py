"""Subject alternative names: parsing operator input and kubeadm's SAN rules.

The rules follow kubeadm's GetAPIServerAltNames / GetEtcdAltNames exactly: every value is an IP if it parses as
one, else a DNS name (wildcards allowed), DNS names are de-duplicated and sorted, IPs de-duplicated in order.
Only the first service subnet contributes its first IP, also for dual-stack subnets (checked against kubeadm
v1.37.2). Malformed input is a ConfigError naming the configuration field.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from cryptography import x509

from bootstrap.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# kubeadm's validation: an RFC 1123 subdomain, optionally with a leading "*." wildcard label (case-insensitive,
# like bootstrap.config's check).
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")
_DNS_MAX = 253


@dataclass(frozen=True)
class AltNames:
    dns: tuple[str, ...] = ()
    ips: tuple[IPAddress, ...] = ()

    def normalized(self) -> AltNames:
        """kubeadm's RemoveDuplicateAltNames: DNS names unique and sorted, IPs unique in their order."""
        return AltNames(tuple(sorted(set(self.dns))), tuple(dict.fromkeys(self.ips)))

    def plus(self, values: tuple[str | IPAddress, ...]) -> AltNames:
        dns = [v for v in values if isinstance(v, str)]
        ips = [v for v in values if not isinstance(v, str)]
        return AltNames((*self.dns, *dns), (*self.ips, *ips))

    def __bool__(self) -> bool:
        return bool(self.dns or self.ips)

    def extension(self) -> x509.SubjectAlternativeName:
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in self.dns]
        names += [x509.IPAddress(ip) for ip in self.ips]
        return x509.SubjectAlternativeName(names)

    def describe(self) -> str:
        """Like kubeadm's log line: `DNS names [a b] and IPs [1.2.3.4]`."""
        return f"DNS names [{' '.join(self.dns)}] and IPs [{' '.join(str(ip) for ip in self.ips)}]"

    @classmethod
    def of(cls, cert: x509.Certificate) -> AltNames:
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return cls()
        ips = [ip for ip in san.get_values_for_type(x509.IPAddress) if isinstance(ip, IPv4Address | IPv6Address)]
        return cls(tuple(san.get_values_for_type(x509.DNSName)), tuple(ips))

    def missing_from(self, cert: AltNames) -> list[str]:
        """The names of `self` that `cert` does not cover (wildcards count, like Go's VerifyHostname)."""
        missing = [d for d in self.dns if not _dns_covered(d, cert.dns)]
        return missing + [str(ip) for ip in self.ips if ip not in cert.ips]


def _dns_covered(name: str, patterns: tuple[str, ...]) -> bool:
    name = name.lower().rstrip(".")
    for pattern in (p.lower().rstrip(".") for p in patterns):
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def parse_ip(value: str, field: str) -> IPAddress:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(f"{field}: {value!r} is not an IP address", hint="use an IPv4 or IPv6 literal") from None


def is_dns_name(value: str) -> bool:
    return len(value) <= _DNS_MAX and _DNS.match(value.lower()) is not None


def parse_san(value: str, field: str) -> str | IPAddress:
    """An IP if `value` parses as one, else a (wildcard) DNS name; anything else is a ConfigError."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    if not is_dns_name(value):
        raise ConfigError(
            f"{field}: {value!r} is not a valid IP address or DNS name",
            hint="SANs are IPs or DNS names (letters, digits, '-', '.'; an optional leading '*.')",
        )
    return value


def parse_sans(values: tuple[str, ...], field: str) -> tuple[str | IPAddress, ...]:
    return tuple(parse_san(v, field) for v in values)


def split_host_port(endpoint: str, field: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal -> (host, port or None)."""
    text = endpoint.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError(f"{field}: {endpoint!r} is not host[:port]", hint="write IPv6 as [addr]:port")
        return host, _port(rest[1:], endpoint, field) if rest else None
    if text.count(":") > 1:  # a bare IPv6 address
        return text, None
    host, sep, port = text.partition(":")
    if not host:
        raise ConfigError(f"{field}: {endpoint!r} has no host", hint="use host[:port], e.g. cp.example.com:6443")
    return host, _port(port, endpoint, field) if sep else None


def _port(text: str, endpoint: str, field: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{field}: {endpoint!r} has an invalid port {text!r}", hint="use a port in 1-65535")
    return int(text)


def first_service_ip(service_subnet: str, field: str) -> IPAddress:
    """The first usable IP of the first service subnet (10.96.0.0/12 -> 10.96.0.1), the `kubernetes` Service IP."""
    first = service_subnet.split(",", maxsplit=1)[0].strip()
    try:
        network = ipaddress.ip_network(first, strict=False)
    except ValueError:
        raise ConfigError(f"{field}: {first!r} is not a CIDR", hint="use a CIDR such as 10.96.0.0/12") from None
    if network.num_addresses < 2:
        raise ConfigError(f"{field}: {first!r} is too small for a Service IP", hint="use a larger subnet")
    return network.network_address + 1
