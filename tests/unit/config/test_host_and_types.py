"""Machine defaults (default-route address from /proc, hostname) and Go-style durations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

# The fixtures pin host.default_route_address for load_config; these tests call the real function on a fake /proc.
from bootstrap.config.host import default_route_address as real_default_route_address
from bootstrap.config.types import format_duration, parse_duration, split_host_port

ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t0102A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""
IPV6_ROUTE = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth2\n"
)
IF_INET6 = "fe800000000000000000000000000002 03 40 20 80 eth2\n20010db8000000000000000000000010 03 40 00 80 eth2\n"


def _proc(tmp_path: Path, route: str = "", ipv6_route: str = "", if_inet6: str = "") -> Path:
    net = tmp_path / "proc" / "net"
    net.mkdir(parents=True)
    (net / "route").write_text(route or "Iface\tDestination\n")
    (net / "ipv6_route").write_text(ipv6_route)
    (net / "if_inet6").write_text(if_inet6)
    return tmp_path / "proc"


def test_the_lowest_metric_ipv4_default_route_wins(tmp_path: Path) -> None:
    seen: list[str] = []

    def ipv4_of(iface: str) -> str:
        seen.append(iface)
        return "192.0.2.7"

    assert real_default_route_address(_proc(tmp_path, ROUTE), ipv4_of) == ("192.0.2.7", None)
    assert seen == ["eth0"]


def test_ipv6_default_route_is_used_when_there_is_no_ipv4_one(tmp_path: Path) -> None:
    proc = _proc(tmp_path, ipv6_route=IPV6_ROUTE, if_inet6=IF_INET6)
    assert real_default_route_address(proc, lambda _: None) == ("2001:db8::10", None)


def test_no_default_route_falls_back_to_loopback_with_a_note(tmp_path: Path) -> None:
    address, note = real_default_route_address(_proc(tmp_path), lambda _: None)
    assert address == "127.0.0.1"
    assert note and "--advertise-address" in note


@pytest.mark.parametrize(
    ("text", "expected", "formatted"),
    [
        ("4m", timedelta(minutes=4), "4m0s"),
        ("8760h", timedelta(hours=8760), "8760h0m0s"),
        ("1h30m", timedelta(minutes=90), "1h30m0s"),
        ("1.5s", timedelta(seconds=1.5), "1.5s"),
        ("500ms", timedelta(milliseconds=500), "500ms"),
        ("0", timedelta(0), "0s"),
    ],
)
def test_go_durations_parse_and_print_like_go(text: str, expected: timedelta, formatted: str) -> None:
    assert parse_duration(text) == expected
    assert format_duration(expected) == formatted


@pytest.mark.parametrize("bad", ["4", "m", "4x", "1h 2m", ""])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_endpoints_split_into_host_and_port() -> None:
    assert split_host_port("cp.example.com") == ("cp.example.com", None)
    assert split_host_port("cp.example.com:8443") == ("cp.example.com", 8443)
    assert split_host_port("[fd00::1]:6443") == ("fd00::1", 6443)
    assert split_host_port("fd00::1") == ("fd00::1", None)
    with pytest.raises(ValueError, match="port"):
        split_host_port("cp:99999")
