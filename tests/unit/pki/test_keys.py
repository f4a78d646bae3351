"""The key reserve: keys made ahead of need are handed out once each, in request order, then fresh ones follow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.phases import pki_files
from pki import keys
from pki.context import PKIContext

P256 = keys.ALGORITHMS["ECDSA-P256"]


@pytest.fixture
def reserve(monkeypatch: pytest.MonkeyPatch) -> Iterator[keys.KeyReserve]:
    fresh = keys.KeyReserve()
    monkeypatch.setattr(keys, "RESERVE", fresh)
    yield fresh
    fresh.close()


def test_generate_keys_takes_reserved_keys_first_and_makes_the_rest(reserve: keys.KeyReserve) -> None:
    reserve.fill(P256, 2)
    reserved = [f.result() for f in list(reserve._pending["ECDSA-P256"])]
    made = keys.generate_keys([P256, P256, P256])
    assert made[:2] == reserved and made[2] not in reserved  # each key once, then a fresh one
    assert reserve.take(P256) is None


def test_a_reserve_of_another_algorithm_is_not_used(reserve: keys.KeyReserve) -> None:
    reserve.fill(keys.ALGORITHMS["ECDSA-P384"], 1)
    (key,) = keys.generate_keys([P256])
    assert keys.algorithm_of(key).name == "ECDSA-P256"
    assert reserve.take(keys.ALGORITHMS["ECDSA-P384"]) is not None


def test_init_reserves_one_key_per_missing_key_file_and_kubeconfig(tmp_path: Path, reserve: keys.KeyReserve) -> None:
    ctx = PKIContext(
        node_name="n",
        advertise_address="192.0.2.7",
        cert_dir=tmp_path / "pki",
        kubernetes_dir=tmp_path,
        encryption_algorithm="ECDSA-P256",
    )
    assert pki_files.reserve_keys(ctx) == 10 + 1 + 5  # ten certificate keys, sa.key, five kubeconfigs
    (tmp_path / "admin.conf").write_text("")
    assert pki_files.reserve_keys(ctx, certificates=False) == 4
    assert pki_files.reserve_keys(ctx, certificates=False, kubeconfigs=False) == 0


def test_close_cancels_what_has_not_started(reserve: keys.KeyReserve) -> None:
    reserve.fill(keys.ALGORITHMS["ECDSA-P384"], 50)
    reserve.close()
    assert reserve.take(keys.ALGORITHMS["ECDSA-P384"]) is None
