"""kubeadm's merge rules, as kbs's template helpers implement them (checked against the real kubeadm)."""

from __future__ import annotations

import pytest

from bootstrap.errors import RenderError
from bootstrap.render import helpers


def test_command_sorts_defaults_then_appends_extra_args_in_their_order() -> None:
    defaults = {"b": "1", "a": "2", "secure-port": "6443"}
    extra = [{"name": "z", "value": "9"}, {"name": "secure-port", "value": "7443"}, {"name": "z", "value": "8"}]
    assert helpers.command("x", defaults, extra) == ["x", "--a=2", "--b=1", "--z=9", "--secure-port=7443", "--z=8"]


def test_arg_returns_the_last_value() -> None:
    extra = [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]
    assert helpers.arg(extra, "a") == "2"
    assert helpers.arg(extra, "b", "d") == "d"


def test_env_merge_later_wins_and_sorts_by_name() -> None:
    proxy = [{"name": "HTTPS_PROXY", "value": "p"}]
    extra = [{"name": "ZZ", "value": "z"}, {"name": "HTTPS_PROXY", "value": "mine"}, {"name": "AA", "value": "a"}]
    assert [(e["name"], e["value"]) for e in helpers.merge_env(proxy, extra)] == [
        ("AA", "a"),
        ("HTTPS_PROXY", "mine"),
        ("ZZ", "z"),
    ]


def test_extra_volume_replaces_a_default_of_the_same_name() -> None:
    merged = helpers.merge_mounts(
        [helpers.hostpath("k8s-certs", "/etc/kubernetes/pki")], [helpers.hostpath("k8s-certs", "/other")]
    )
    assert [m["hostPath"] for m in merged] == ["/other"]


def test_external_etcd_cert_dirs_skip_mounted_dirs_and_merge_parents() -> None:
    files = ["/etc/etcd/pki/ca.crt", "/etc/etcd/pki/sub/client.crt", "/srv/k.key", "/etc/kubernetes/pki/x", ""]
    assert helpers.etcd_cert_dirs(files, "/etc/kubernetes/pki") == ["/etc/etcd/pki", "/srv"]


def test_urls_and_probe_hosts() -> None:
    assert helpers.url("https", "fd00::1", 2379) == "https://[fd00::1]:2379"
    assert helpers.split_url("http://[::1]:2399,http://x:1") == {"scheme": "HTTP", "host": "::1", "port": 2399}
    assert helpers.bind_probe_host("0.0.0.0") is None
    assert helpers.bind_probe_host("10.0.0.1") == "10.0.0.1"
    with pytest.raises(RenderError):
        helpers.split_url("not a url")
