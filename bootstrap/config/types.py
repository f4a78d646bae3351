"""Small value types shared by the kubeadm and kbs documents: Go durations, flags, env vars, host mounts.

The documents are msgspec Structs: decoding a whole file takes microseconds and the module imports in a few
milliseconds, where pydantic cost ~200 ms of every `kbs` process (docs/performance.md). Format checks (IP
literals, CIDRs, DNS names, endpoints, control characters) are tied to marker types (CHECKS) that `decode` runs
through its dec_hook, so a bad value in the file and a bad value from a flag fail through the same path and the same
error translation (bootstrap.config.errors), with the field's path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeVar

import msgspec


class Document(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Base of every config document: camelCase names in files, unknown fields are errors."""


D = TypeVar("D", bound=Document)


def decode(data: Any, kind: type[D]) -> D:
    """Validate plain data (a YAML document) into `kind`; raises msgspec.ValidationError naming the path."""
    document = msgspec.convert(data, kind, strict=False, dec_hook=_dec_hook)
    _plain(document)
    return document


def _plain(value: Any) -> Any:
    """Replace the checked values' marker subclasses by plain str/timedelta (msgspec insists that a hook returns
    the annotated type; the rest of kbs, PyYAML's safe dumper included, wants plain values)."""
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            setattr(value, name, _plain(getattr(value, name)))
        return value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, timedelta):
        return timedelta(seconds=value.total_seconds())
    if isinstance(value, str):
        return str(value)
    return value


def to_data(document: Document) -> Any:
    """The document as plain data with its file names (camelCase), durations as Go strings, paths as text."""
    return _go_durations(msgspec.to_builtins(document, builtin_types=(timedelta,), enc_hook=_enc_hook))


def _go_durations(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _go_durations(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_go_durations(value) for value in data]
    return format_duration(data) if isinstance(data, timedelta) else data


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Duration:
        return Duration(seconds=parse_duration(value).total_seconds())
    check = CHECKS.get(kind)
    if check is not None:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return kind(check(str(value)))
    if kind is Path and isinstance(value, str | Path):
        return Path(value)
    raise NotImplementedError(f"no decoder for {kind}")


def _enc_hook(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


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


# --- text that may reach a manifest ----------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def check_text(value: str) -> str:
    """Text that may reach a manifest. A NUL cannot travel in argv and other control characters are never meant;
    newlines and tabs are legal and are carried through by the quoting filter."""
    if _CONTROL.search(value):
        raise ValueError("contains a control character")
    return value


def check_non_empty_text(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return check_text(value)


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


# the distribution reference grammar kubeadm validates `<imageRepository>/name:tag` with (ReferenceRegexp)
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_IMAGE_REFERENCE = re.compile(rf"^(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*:[\w][\w.-]{{0,127}}$")


def check_image_repository(value: str) -> str:
    """An image repository: `<value>/name:tag` must be a valid image reference (kubeadm's check), so no trailing
    `/`, no upper case after the registry host, no blanks."""
    check_text(value)
    if value and not _IMAGE_REFERENCE.match(f"{value}/name:tag"):
        raise ValueError(f"{value!r} is not an image repository (like registry.k8s.io or mirror.example.com:5000/k8s)")
    return value


def check_endpoint(value: str) -> str:
    if not value:
        return value
    host, _ = split_host_port(value)
    if not (is_ip(host) or _DNS_SUBDOMAIN.match(host)):  # kubeadm too refuses an upper-case host
        raise ValueError(f"{value!r}: {host!r} is neither an IP address nor a DNS name")
    return value


# --- checked fields ---------------------------------------------------------------------------------------------
# A field typed with one of these names holds a plain str (a timedelta for Duration). At run time each name is a
# distinct subclass, so msgspec hands the field's value to _dec_hook, which applies its check from CHECKS with the
# field's path in any error; to mypy they are the plain types the values are.
if TYPE_CHECKING:
    Text: TypeAlias = str
    NonEmptyText: TypeAlias = str
    IPAddress: TypeAlias = str
    OptionalIPAddress: TypeAlias = str
    CIDRs: TypeAlias = str
    OptionalCIDRs: TypeAlias = str
    DNSName: TypeAlias = str
    OptionalDNSName: TypeAlias = str
    SAN: TypeAlias = str
    Endpoint: TypeAlias = str
    ImageRepository: TypeAlias = str
    Duration: TypeAlias = timedelta
else:

    class Text(str): ...

    class NonEmptyText(str): ...

    class IPAddress(str): ...

    class OptionalIPAddress(str): ...  # empty means "not set": filled from the machine later

    class CIDRs(str): ...

    class OptionalCIDRs(str): ...

    class DNSName(str): ...

    class OptionalDNSName(str): ...  # empty means "not set": kubeadm's default

    class SAN(str): ...

    class Endpoint(str): ...

    class ImageRepository(str): ...  # empty: inherit (etcd.local, dns) where the field allows it

    class Duration(timedelta): ...  # a Go duration in files ("4m0s", "8760h")


def _optional(check: Callable[[str], str]) -> Callable[[str], str]:
    return lambda value: check(value) if value else value


CHECKS: dict[type, Callable[[str], Any]] = {
    Text: check_text,
    NonEmptyText: check_non_empty_text,
    IPAddress: check_ip,
    OptionalIPAddress: _optional(check_ip),
    CIDRs: check_cidrs,
    OptionalCIDRs: _optional(check_cidrs),
    DNSName: check_dns_subdomain,
    OptionalDNSName: _optional(check_dns_subdomain),
    SAN: check_san,
    Endpoint: check_endpoint,
    ImageRepository: check_image_repository,
}
FlagName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]


# --- component customisation (v1beta4) ---------------------------------------------------------------------------
class Arg(Document):
    """One `--name=value` flag (v1beta4 lists: the same name may repeat; each copy is kept)."""

    name: FlagName
    value: Text


class EnvVar(Document):
    """A container env var; valueFrom is kept as written and checked by the static-pod rules at render time."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")]
    value: Text | None = None
    value_from: dict[str, Any] | None = None


HostPathType = Literal[
    "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"
]


class HostPathMount(Document):
    """An extra hostPath volume plus its mount in the component's container."""

    name: DNSName
    host_path: NonEmptyText
    mount_path: NonEmptyText
    read_only: bool = False
    path_type: HostPathType = ""
