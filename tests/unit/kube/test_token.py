"""Bootstrap tokens: format, Secret round trip, and that the secret half never shows in repr."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from bootstrap.errors import ConfigError
from bootstrap.kube import token as tokens


def test_generated_tokens_have_kubeadms_format_and_expire_after_the_ttl() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    token = tokens.generate(timedelta(hours=2), now=now)
    assert tokens.TOKEN_PATTERN.match(token.value)
    assert token.expiration == now + timedelta(hours=2)
    assert tokens.generate().value != tokens.generate().value


def test_repr_hides_the_secret_half() -> None:
    token = tokens.parse("abcdef.0123456789abcdef")
    assert "0123456789abcdef" not in repr(token)
    assert "abcdef" in repr(token)


def test_malformed_token_is_a_config_error_with_a_hint() -> None:
    with pytest.raises(ConfigError) as err:
        tokens.parse("ABCDEF.0123456789abcdef")
    assert err.value.hint and "kubeadm token generate" in err.value.hint


def test_secret_carries_kubeadms_keys_and_round_trips() -> None:
    token = tokens.parse("abcdef.0123456789abcdef", ttl=timedelta(hours=1), now=datetime(2026, 1, 1, tzinfo=UTC))
    secret = tokens.secret_object(token)
    assert secret["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}  # type: ignore[attr-defined]
    assert data["token-id"] == "abcdef"
    assert data["expiration"] == "2026-01-01T01:00:00Z"
    assert data["usage-bootstrap-signing"] == data["usage-bootstrap-authentication"] == "true"
    assert data["auth-extra-groups"] == "system:bootstrappers:kubeadm:default-node-token"
    back = tokens.from_secret(secret)
    assert back is not None and back.value == token.value and back.expiration == token.expiration
    assert set(back.usages) == {"signing", "authentication"}


def test_a_secret_of_another_type_is_not_a_token() -> None:
    assert tokens.from_secret({"type": "Opaque", "data": {}}) is None


def test_ttl_zero_means_never_expires() -> None:
    token = tokens.generate(ttl=timedelta(0))
    assert token.expiration is None and not token.expired(datetime.now(UTC))
    assert "expiration" not in tokens.secret_object(token)["data"]  # type: ignore[operator]
