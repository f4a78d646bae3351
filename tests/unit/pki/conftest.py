"""Fixtures for the PKI unit tests: contexts in tmp dirs, and a key pool so slow RSA sizes stay cheap.

`key_pool` replaces key generation with a few keys made once per algorithm and session; tests that are about
keys themselves (idempotence, renewal) use real generation with ECDSA-P256, which is fast.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pki import PKIContext
from pki.keys import KeyAlgorithm, PrivateKey

MakeContext = Callable[..., PKIContext]
POOL_SIZE = 3
_POOLS: dict[str, list[PrivateKey]] = {}


@pytest.fixture
def make_ctx(tmp_path: Path) -> MakeContext:
    """A PKIContext writing under tmp_path (pki/ and k8s/), fast ECDSA-P256 keys unless told otherwise."""

    def make(**overrides: Any) -> PKIContext:
        values: dict[str, Any] = {
            "node_name": "node-a",
            "advertise_address": "192.0.2.10",
            "cert_dir": tmp_path / "k8s" / "pki",
            "kubernetes_dir": tmp_path / "k8s",
            "encryption_algorithm": "ECDSA-P256",
        }
        values.update(overrides)
        return PKIContext(**values)

    return make


@pytest.fixture
def key_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Key generation draws from a small per-algorithm pool (made once per session) instead of OpenSSL."""
    cycles: dict[str, Iterator[PrivateKey]] = {}
    real = KeyAlgorithm.generate

    def pooled(self: KeyAlgorithm) -> PrivateKey:
        if self.name not in _POOLS:
            _POOLS[self.name] = [real(self) for _ in range(POOL_SIZE)]
        cycle = cycles.setdefault(self.name, itertools.cycle(_POOLS[self.name]))
        return next(cycle)

    monkeypatch.setattr(KeyAlgorithm, "generate", pooled)
    yield


def snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under root: bytes, mode and mtime (ns), to prove a run changed nothing."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode & 0o7777, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
