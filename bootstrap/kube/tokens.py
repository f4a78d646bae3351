"""`kbs token`: create, list and delete bootstrap tokens the way `kubeadm token` does, on the same Secrets.

Both tools read and write `kube-system/bootstrap-token-<id>` Secrets of type bootstrap.kubernetes.io/token
(bootstrap.kube.token has the format), so either lists and deletes the other's tokens. Validation follows
kubeadm's: a token of the form [a-z0-9]{6}.[a-z0-9]{16}, usages among signing/authentication, extra groups named
system:bootstrappers:..., a TTL that is not negative (0: never expires). The join line printed by
`--print-join-command` is kubeadm's, byte for byte (including its trailing space): the endpoint and CA pin come
from the kubeconfig used, as `kubeadm token create --print-join-command` takes them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bootstrap import constants
from bootstrap.errors import APIServerError, ConfigError
from bootstrap.kube import token as tokens
from bootstrap.kube.api import KubeAPI
from pki.expiration import short_duration

VALID_USAGES = ("signing", "authentication")
_GROUP = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")
_TOKEN_ID = re.compile(r"^[a-z0-9]{6}$")
OUTPUT_API_VERSION = "output.kubeadm.k8s.io/v1alpha3"
COLUMNS = ("TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS")


def requested(
    value: str | None,
    *,
    ttl: timedelta,
    usages: Sequence[str],
    groups: Sequence[str],
    description: str,
    now: datetime | None = None,
) -> tokens.BootstrapToken:
    """The token `kbs token create` was asked for (a new random one when `value` is None), checked like kubeadm."""
    if ttl < timedelta(0):
        raise ConfigError(
            "--ttl must not be negative", hint="give a duration like 24h, or 0 for a token that never expires"
        )
    bad = [u for u in usages if u not in VALID_USAGES]
    if bad or not usages:
        raise ConfigError(
            f"invalid bootstrap token usage {', '.join(bad) or '(none)'}",
            hint=f"valid usages: {','.join(VALID_USAGES)}",
        )
    for group in groups:
        if not _GROUP.match(group):
            raise ConfigError(
                f"--groups: {group!r} is not a bootstrap group",
                hint="extra groups must match system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]",
            )
    base = tokens.parse(value, ttl=ttl, now=now) if value else tokens.generate(ttl, now=now)
    return replace(base, description=description, usages=tuple(usages), groups=tuple(groups))


def create(api: KubeAPI, token: tokens.BootstrapToken) -> None:
    """Write the token's Secret (an existing Secret of the same id is brought to this token, as kubeadm updates it)."""
    api.ensure(tokens.secret_object(token))


def listed(api: KubeAPI) -> list[tokens.BootstrapToken]:
    """Every well-formed bootstrap token in kube-system, in the API server's order (by Secret name)."""
    found = (tokens.from_secret(s) for s in api.list("v1", "Secret", namespace=constants.KUBE_SYSTEM))
    return [t for t in found if t is not None]


def token_id(value: str) -> str:
    """The id of a token given as `<id>` or `<id>.<secret>`; anything else is a ConfigError."""
    if _TOKEN_ID.match(value):
        return value
    match = tokens.TOKEN_PATTERN.match(value)
    if not match:
        raise ConfigError(
            f"{value!r} is neither a bootstrap token id ([a-z0-9]{{6}}) nor a token ([a-z0-9]{{6}}.[a-z0-9]{{16}})",
            hint="`kbs token list` shows the tokens",
        )
    return match[1]


def delete(api: KubeAPI, ids: Iterable[str]) -> Iterator[str]:
    """Delete each token (ids from `token_id`), yielding each id once deleted; a missing token is an error."""
    for tid in ids:
        if not api.delete("v1", "Secret", tokens.SECRET_PREFIX + tid, constants.KUBE_SYSTEM):
            raise APIServerError(
                f"bootstrap token {tid!r} does not exist (no Secret kube-system/{tokens.SECRET_PREFIX}{tid})",
                hint="`kbs token list` shows the tokens",
            )
        yield tid


def table(found: Sequence[tokens.BootstrapToken], now: datetime | None = None) -> list[list[str]]:
    """The rows `kubeadm token list` prints (header first)."""
    now = now or datetime.now(UTC)
    rows = [list(COLUMNS)]
    for t in found:
        ttl, expires = "<forever>", "<never>"
        if t.expiration is not None:
            ttl, expires = short_duration(t.expiration - now), t.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(
            [
                t.value,
                ttl,
                expires,
                ",".join(t.usages) or "<none>",
                t.description or "<none>",
                ",".join(t.groups) or "<none>",
            ]
        )
    return rows


def output_object(t: tokens.BootstrapToken) -> dict[str, Any]:
    """kubeadm's `token list -o json|yaml` object (output.kubeadm.k8s.io/v1alpha3 BootstrapToken)."""
    obj: dict[str, Any] = {"kind": "BootstrapToken", "apiVersion": OUTPUT_API_VERSION, "token": t.value}
    if t.description:
        obj["description"] = t.description
    if t.expiration is not None:
        obj["expires"] = t.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
    if t.usages:
        obj["usages"] = list(t.usages)
    if t.groups:
        obj["groups"] = list(t.groups)
    return obj


def join_command(kubeconfig: Path, token: tokens.BootstrapToken) -> str:
    """`kubeadm join HOST:PORT --token T --discovery-token-ca-cert-hash sha256:... ` from the kubeconfig's cluster."""
    import yaml

    from bootstrap.kube.clusterinfo import ca_cert_hash

    try:
        config = yaml.safe_load(kubeconfig.read_text())
        contexts = {c["name"]: c["context"] for c in config["contexts"]}
        clusters = {c["name"]: c["cluster"] for c in config["clusters"]}
        cluster = clusters[contexts[config["current-context"]]["cluster"]]
        server = str(cluster["server"])
        if "certificate-authority-data" in cluster:
            ca_pem = base64.b64decode(cluster["certificate-authority-data"])
        else:
            ca_pem = (kubeconfig.parent / cluster["certificate-authority"]).read_bytes()
        pin = ca_cert_hash(ca_pem)
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"cannot read the cluster's server and CA from {kubeconfig}: {exc}",
            hint="pass the admin kubeconfig with --kubeconfig",
        ) from exc
    endpoint = server.removeprefix("https://").rstrip("/")
    return f"kubeadm join {endpoint} --token {token.value} --discovery-token-ca-cert-hash {pin} "
