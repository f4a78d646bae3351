"""Facts about this machine that become configuration defaults: the default-route address and the hostname.

Like kubeadm (ChooseHostInterface): the interface of the IPv4 default route in /proc/net/route and its address,
else the IPv6 default route (/proc/net/ipv6_route) and that interface's global address (/proc/net/if_inet6).
With no default route, loopback is used and the caller gets a note to show the operator.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path

_SIOCGIFADDR = 0x8915
_RTF_UP = 0x1
PROC = Path("/proc")


def hostname() -> str:
    """The node name kubeadm would pick: the hostname, lower-cased."""
    return socket.gethostname().strip().lower()


def default_route_address(
    proc: Path = PROC, ipv4_of: Callable[[str], str | None] | None = None
) -> tuple[str, str | None]:
    """(address, note): the default-route interface's address, or loopback with a note saying why."""
    lookup = ipv4_of or interface_ipv4
    iface = _ipv4_default_interface(proc / "net" / "route")
    if iface:
        address = lookup(iface)
        if address:
            return address, None
    iface6 = _ipv6_default_interface(proc / "net" / "ipv6_route")
    if iface6:
        address = _interface_ipv6(proc / "net" / "if_inet6", iface6)
        if address:
            return address, None
    return "127.0.0.1", (
        "no default route with an address found: advertising 127.0.0.1 "
        "(set localAPIEndpoint.advertiseAddress or --advertise-address to reach this node from others)"
    )


def _ipv4_default_interface(route_file: Path) -> str | None:
    best: tuple[int, str] | None = None
    with contextlib.suppress(OSError):
        for line in route_file.read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) < 8:
                continue
            iface, dest, flags, metric, mask = cols[0], cols[1], int(cols[3], 16), int(cols[6]), cols[7]
            if dest == "00000000" and mask == "00000000" and flags & _RTF_UP and (best is None or metric < best[0]):
                best = (metric, iface)
    return best[1] if best else None


def _ipv6_default_interface(route_file: Path) -> str | None:
    best: tuple[int, str] | None = None
    with contextlib.suppress(OSError):
        for line in route_file.read_text().splitlines():
            cols = line.split()
            if len(cols) < 10 or cols[9] == "lo":
                continue
            if cols[0] == "0" * 32 and cols[1] == "00" and int(cols[8], 16) & _RTF_UP:
                metric = int(cols[5], 16)
                if best is None or metric < best[0]:
                    best = (metric, cols[9])
    return best[1] if best else None


def _interface_ipv6(if_inet6: Path, iface: str) -> str | None:
    with contextlib.suppress(OSError):
        for line in if_inet6.read_text().splitlines():
            cols = line.split()
            if len(cols) >= 6 and cols[5] == iface and cols[3] == "00":  # scope 00: global
                return str(ipaddress.IPv6Address(bytes.fromhex(cols[0])))
    return None


def interface_ipv4(iface: str) -> str | None:
    """The primary IPv4 address of `iface` (SIOCGIFADDR), None if it has none."""
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", iface[:15].encode()))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])
