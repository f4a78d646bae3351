"""Inspect first, then generate keys in parallel, then write: the shape of every PKI operation.

Planning reads and checks every file involved and returns `Work` items; any problem stops the operation before
a single byte is written (nothing half-done). `execute` then checks the target directories are writable,
generates all new keys of the batch at once on a thread pool, and runs the items in order (CAs before the
leaves they sign). Files are written key first: a crash in between leaves a key without its certificate, which
the next run completes by issuing a certificate for that key, so every interruption converges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from bootstrap.errors import PKIError
from pki import store
from pki.issue import Signer
from pki.keys import KeyAlgorithm, PrivateKey, generate_keys
from pki.results import Result
from pki.table import CertSpec
from pki.verify import Problem


@dataclass
class Authority:
    """A CA of the tree as found on disk, or about to be created (cert None until then)."""

    spec: CertSpec
    cert_path: Path
    key_path: Path
    cert: x509.Certificate | None = None
    key: PrivateKey | None = None
    key_checked: bool = False  # the key was made here, or passed OpenSSL's consistency check

    @property
    def external(self) -> bool:
        """ca.crt without ca.key: kbs signs nothing with it, the leaves must be provided."""
        return self.cert is not None and self.key is None

    def signer(self) -> Signer:
        if self.cert is None or self.key is None:
            raise PKIError(f"{self.cert_path}: CA {self.spec.name} cannot sign (no key)")
        if not self.key_checked:  # loaded without the costly check: run it now, before the first signature
            self.key = store.read_key(self.key_path, validate=True) or self.key
            self.key_checked = True
        return Signer(self.cert, self.key)


@dataclass
class Work:
    """One item of a batch: kept as it is, or made by `finish` (given a new key when `new_key` asks for one)."""

    name: str
    finish: Callable[[PrivateKey | None], Result]
    new_key: KeyAlgorithm | None = None
    writes: tuple[Path, ...] = field(default=())


def kept(result: Result) -> Work:
    return Work(result.name, lambda _key: result)


def raise_problems(problems: Sequence[Problem]) -> None:
    """One PKIError for all the problems found while planning (one line; the first one's hint)."""
    if not problems:
        return
    if len(problems) == 1:
        raise problems[0].error()
    text = "; ".join(f"{p.path} {p.what}" for p in problems)
    raise PKIError(f"{len(problems)} problems: {text}", hint=problems[0].hint)


def execute(works: Iterable[Work], check_writable: Callable[[Iterable[Path]], None]) -> list[Result]:
    items = list(works)
    check_writable([path for w in items for path in w.writes])
    keys = iter(generate_keys([w.new_key for w in items if w.new_key is not None]))
    return [w.finish(next(keys) if w.new_key is not None else None) for w in items]
