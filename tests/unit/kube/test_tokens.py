"""`kbs token`'s logic: kubeadm's checks, listing format, deletion, and the join line."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bootstrap.errors import APIServerError, ConfigError
from bootstrap.kube import clusterinfo, token, tokens
from bootstrap.kube.memory import MemoryAPI
from tests.unit.phases.conftest import write_ca

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
GROUP = token.DEFAULT_GROUP


def _make(value: str | None = None, ttl: timedelta = timedelta(hours=24), **kw: object) -> token.BootstrapToken:
    args: dict[str, object] = {"usages": ["signing", "authentication"], "groups": [GROUP], "description": ""}
    args.update(kw)
    return tokens.requested(value, ttl=ttl, now=NOW, **args)  # type: ignore[arg-type]


def test_a_given_token_is_kept_and_a_missing_one_is_generated() -> None:
    given = _make("abcdef.0123456789abcdef", description="w3")
    assert given.value == "abcdef.0123456789abcdef" and given.description == "w3"
    assert given.expiration == NOW + timedelta(hours=24)
    assert token.TOKEN_PATTERN.match(_make().value)
    assert _make(ttl=timedelta(0)).expiration is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": "abc.def"}, "not of the form"),
        ({"ttl": timedelta(hours=-1)}, "must not be negative"),
        ({"usages": ["signing", "mining"]}, "usage mining"),
        ({"groups": ["system:masters"]}, "not a bootstrap group"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _make(**kwargs)  # type: ignore[arg-type]


def test_create_list_and_delete_by_id_or_whole_token() -> None:
    api = MemoryAPI()
    one, two = _make("abcdef.0123456789abcdef"), _make("ghijkl.0123456789abcdef", ttl=timedelta(0))
    tokens.create(api, one)
    tokens.create(api, two)
    secret = api.get("v1", "Secret", "bootstrap-token-abcdef", "kube-system")
    assert secret is not None and "description" not in secret["data"]  # empty keys left out, as kubeadm does
    assert [t.token_id for t in tokens.listed(api)] == ["abcdef", "ghijkl"]
    ids = [tokens.token_id(v) for v in ("abcdef", "ghijkl.0123456789abcdef")]
    assert list(tokens.delete(api, ids)) == ["abcdef", "ghijkl"]
    assert tokens.listed(api) == []
    with pytest.raises(APIServerError, match="'abcdef' does not exist"):
        list(tokens.delete(api, ["abcdef"]))
    with pytest.raises(ConfigError, match="neither a bootstrap token id"):
        tokens.token_id("ABCDEF")


def test_list_rows_are_kubeadms() -> None:
    rows = tokens.table([_make("abcdef.0123456789abcdef"), _make("ghijkl.0123456789abcdef", ttl=timedelta(0))], NOW)
    assert rows[0] == ["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"]
    assert rows[1] == [
        "abcdef.0123456789abcdef",
        "1d",
        "2026-12-05T12:00:00Z",
        "signing,authentication",
        "<none>",
        GROUP,
    ]
    assert rows[2][1:3] == ["<forever>", "<never>"]
    expired = tokens.table([_make("abcdef.0123456789abcdef", ttl=timedelta(hours=1))], NOW + timedelta(hours=3))
    assert expired[1][1] == "<invalid>"
    assert tokens.output_object(_make("abcdef.0123456789abcdef"))["apiVersion"] == "output.kubeadm.k8s.io/v1alpha3"


def test_join_command_is_kubeadms_line_from_the_kubeconfig(tmp_path: Path) -> None:
    ca = write_ca(tmp_path / "pki")
    kubeconfig = tmp_path / "admin.conf"
    cluster = {"server": "https://10.0.0.5:6443", "certificate-authority-data": base64.b64encode(ca).decode()}
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "k", "cluster": cluster}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    line = tokens.join_command(kubeconfig, _make("abcdef.0123456789abcdef"))
    pin = clusterinfo.ca_cert_hash(ca)
    assert line == f"kubeadm join 10.0.0.5:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash {pin} "
    with pytest.raises(ConfigError, match="cannot read the cluster's server"):
        tokens.join_command(tmp_path / "missing.conf", _make())
