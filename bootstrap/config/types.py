"""Small value types shared by the kubeadm and kbs documents: Go durations, flags, env vars, host mounts.

Format checks (IP literals, CIDRs, DNS names, endpoints) are pydantic validators here, so a bad value in the file
and a bad value from a flag fail through the same path and the same error translation (bootstrap.config.errors).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel


class Document(BaseModel):
    """Base of every config model: camelCase names, unknown fields are errors, assignments are validated."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=True,
        str_strip_whitespace=False,
    )


# --- Go durations ("4m0s", "8760h", "1.5s") --------------------------------------------------------------------
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> timedelta:
    """Go's time.ParseDuration: `4m0s`, `8760h`, `1h30m`, `500ms`, `0`; a timedelta passes through."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 4m0s or 8760h")
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match[1]) * _UNIT_SECONDS[match[2]]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration such as 4m0s or 8760h")
    return timedelta(seconds=sign * seconds)


def format_duration(value: timedelta) -> str:
    """Go's Duration.String() for whole and fractional seconds: 4m0s, 8760h0m0s, 1.5s, 500ms, 0s."""
    total = value.total_seconds()
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total < 1:
        millis = total * 1000
        return f"{sign}{millis:g}ms"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{int(hours)}h{int(minutes)}m{sec_text}s"
    if minutes:
        return f"{sign}{int(minutes)}m{sec_text}s"
    return f"{sign}{sec_text}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]

# --- text that may reach a manifest ----------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    # A NUL cannot travel in argv and other control characters are never meant; newlines and tabs are legal
    # and are carried through by the quoting filter.
    if _CONTROL.search(value):
        raise ValueError("contains a control character")
    return value


Text = Annotated[str, AfterValidator(_no_control_chars)]

# --- network literals ---------------------------------------------------------------------------------------------
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_WILDCARD_DNS = re.compile(rf"^\*\.{_DNS_LABEL}(\.{_DNS_LABEL})*$")


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def check_ip(value: str) -> str:
    if not is_ip(value):
        raise ValueError(f"{value!r} is not an IP address")
    return str(ipaddress.ip_address(value)) if value else value


def check_dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(f"{value!r} is not a valid DNS name (lower-case letters, digits, '-' and '.')")
    return value


def check_san(value: str) -> str:
    """A certificate SAN: an IP address, a DNS name or a wildcard DNS name."""
    if is_ip(value) or _WILDCARD_DNS.match(value.lower()) or _DNS_SUBDOMAIN.match(value.lower()):
        return value
    raise ValueError(f"{value!r} is neither an IP address nor a DNS name")


def check_cidrs(value: str) -> str:
    """One CIDR, or two comma-separated CIDRs of different families (dual stack), host bits zero."""
    parts = [p.strip() for p in value.split(",")]
    nets = []
    for part in parts:
        try:
            nets.append(ipaddress.ip_network(part, strict=True))
        except ValueError as exc:
            raise ValueError(f"{part!r} is not a valid CIDR ({exc})") from None
    if len(nets) > 2 or (len(nets) == 2 and nets[0].version == nets[1].version):
        raise ValueError(f"{value!r}: expected one CIDR, or one IPv4 and one IPv6 CIDR separated by a comma")
    return ",".join(str(n) for n in nets)


def split_host_port(endpoint: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 literal -> (host, port or None)."""
    if endpoint.startswith("["):
        host, sep, rest = endpoint[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{endpoint!r} is not host[:port]")
        port_text = rest[1:] if rest else None
    elif endpoint.count(":") > 1:
        host, port_text = endpoint, None  # bare IPv6
    else:
        host, _, port_text = endpoint.partition(":")
        port_text = port_text or (None if ":" not in endpoint else "")
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{endpoint!r}: port must be a number from 1 to 65535")
        port = int(port_text)
    return host, port


def check_endpoint(value: str) -> str:
    if not value:
        return value
    host, _ = split_host_port(value)
    if not (is_ip(host) or _DNS_SUBDOMAIN.match(host.lower())):
        raise ValueError(f"{value!r}: {host!r} is neither an IP address nor a DNS name")
    return value


IPAddress = Annotated[str, AfterValidator(check_ip)]
CIDRs = Annotated[str, AfterValidator(check_cidrs)]
DNSName = Annotated[str, AfterValidator(check_dns_subdomain)]
SAN = Annotated[str, AfterValidator(check_san)]
Endpoint = Annotated[str, AfterValidator(check_endpoint)]
FlagName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Port = Annotated[int, Field(ge=1, le=65535)]


# --- component customisation (v1beta4) ---------------------------------------------------------------------------
class Arg(Document):
    """One `--name=value` flag (v1beta4 lists: the same name may repeat; each copy is kept)."""

    name: FlagName
    value: Text


class EnvVar(Document):
    """A container env var; valueFrom is kept as written and checked by the static-pod rules at render time."""

    name: Annotated[str, Field(pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")]
    value: Text | None = None
    value_from: dict[str, Any] | None = None


HostPathType = Literal[
    "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"
]


class HostPathMount(Document):
    """An extra hostPath volume plus its mount in the component's container."""

    name: DNSName
    host_path: Annotated[Text, Field(min_length=1)]
    mount_path: Annotated[Text, Field(min_length=1)]
    read_only: bool = False
    path_type: HostPathType = ""
