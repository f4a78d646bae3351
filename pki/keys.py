"""Key algorithms and key files: kubeadm's `encryptionAlgorithm` names, generation, PEM in and out.

kubeadm writes RSA keys as PKCS#1 (`RSA PRIVATE KEY`), ECDSA keys as SEC1 (`EC PRIVATE KEY`) and public keys as
PKIX (`PUBLIC KEY`); kbs writes the same. Reading is more lenient (PKCS#8 is accepted too, like Go's keyutil), but
anything that is not an RSA or ECDSA private key is a foreign file and an error that names it.
Key generation dominates the cost of a tree; `generate_keys` runs it on a thread pool (OpenSSL releases the GIL),
taking keys from RESERVE first: `kbs init` fills the reserve before its preflight checks, so RSA generation
overlaps work that waits on Docker instead of sitting on the critical path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bootstrap.errors import ConfigError, PKIError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

RSA_EXPONENT = 65537
ALGORITHM_FIELD = "ClusterConfiguration.encryptionAlgorithm"


@dataclass(frozen=True)
class KeyAlgorithm:
    """One of kubeadm's encryptionAlgorithm values."""

    name: str  # "RSA-2048", "ECDSA-P256", ...
    rsa_bits: int = 0  # 0 for ECDSA
    curve: type[ec.EllipticCurve] | None = None

    def generate(self) -> PrivateKey:
        if self.curve is not None:
            return ec.generate_private_key(self.curve())
        return rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=self.rsa_bits)


ALGORITHMS: dict[str, KeyAlgorithm] = {
    a.name: a
    for a in (
        KeyAlgorithm("RSA-2048", rsa_bits=2048),
        KeyAlgorithm("RSA-3072", rsa_bits=3072),
        KeyAlgorithm("RSA-4096", rsa_bits=4096),
        KeyAlgorithm("ECDSA-P256", curve=ec.SECP256R1),
        KeyAlgorithm("ECDSA-P384", curve=ec.SECP384R1),
    )
}
DEFAULT_ALGORITHM = "RSA-2048"


def parse_algorithm(name: str) -> KeyAlgorithm:
    """The algorithm called `name` (kubeadm's spelling), or a ConfigError naming the field."""
    algorithm = ALGORITHMS.get(name)
    if algorithm is None:
        raise ConfigError(
            f"{ALGORITHM_FIELD}: unknown key algorithm {name!r}",
            hint=f"use one of {', '.join(ALGORITHMS)} (default {DEFAULT_ALGORITHM})",
        )
    return algorithm


def algorithm_of(key: PrivateKey | PublicKey) -> KeyAlgorithm:
    """The algorithm of an existing key (renewal keeps the key type, like kubeadm)."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return ALGORITHMS.get(f"RSA-{key.key_size}") or KeyAlgorithm(f"RSA-{key.key_size}", rsa_bits=key.key_size)
    curve = type(key.curve)
    for algorithm in ALGORITHMS.values():
        if algorithm.curve is curve:
            return algorithm
    return KeyAlgorithm(f"ECDSA-{key.curve.name}", curve=curve)


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    """The digest Go's x509 picks for a signing key: SHA-384 for P-384, SHA-512 for P-521, else SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP384R1):
            return hashes.SHA384()
        if isinstance(key.curve, ec.SECP521R1):
            return hashes.SHA512()
    return hashes.SHA256()


class KeyReserve:
    """Keys generated ahead of need on background threads, handed out once each by `take`.

    The keys live only in this process's memory until a caller writes one; nothing is reused across runs.
    `close` cancels what has not started, so an early error does not keep the process alive for unused keys.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[str, list[Future[PrivateKey]]] = {}

    def fill(self, algorithm: KeyAlgorithm, count: int) -> None:
        """Start generating `count` more keys of `algorithm`; returns at once."""
        if count <= 0:
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="kbs-keygen")
            futures = self._pending.setdefault(algorithm.name, [])
            futures += [self._pool.submit(algorithm.generate) for _ in range(count)]

    def take(self, algorithm: KeyAlgorithm) -> Future[PrivateKey] | None:
        """A reserved key of `algorithm` (possibly still being made), or None when none is left."""
        with self._lock:
            futures = self._pending.get(algorithm.name)
            return futures.pop(0) if futures else None

    def close(self) -> None:
        with self._lock:
            pool, self._pool, self._pending = self._pool, None, {}
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


RESERVE = KeyReserve()


def generate_keys(algorithms: Sequence[KeyAlgorithm]) -> list[PrivateKey]:
    """One new key per entry: from RESERVE where it has one, the rest generated now, in parallel (RSA
    generation is most of the time a tree takes)."""
    reserved = [RESERVE.take(a) for a in algorithms]
    fresh = iter(_generate_now([a for a, f in zip(algorithms, reserved, strict=True) if f is None]))
    return [f.result() if f is not None else next(fresh) for f in reserved]


def _generate_now(algorithms: Sequence[KeyAlgorithm]) -> list[PrivateKey]:
    if len(algorithms) <= 1:
        return [a.generate() for a in algorithms]
    workers = min(len(algorithms), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbs-keygen") as pool:
        return list(pool.map(KeyAlgorithm.generate, algorithms))


def private_key_pem(key: PrivateKey) -> bytes:
    """PKCS#1 for RSA, SEC1 for ECDSA: what kubeadm (keyutil.MarshalPrivateKeyToPEM) writes."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def public_key_pem(key: PrivateKey | PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_bits(key: PublicKey) -> bytes:
    """The subjectPublicKey BIT STRING contents (what key identifiers hash)."""
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def keys_match(key: PrivateKey, public: PublicKey) -> bool:
    """True when `public` is the public half of `key`."""
    mine = key.public_key()
    if isinstance(mine, rsa.RSAPublicKey) != isinstance(public, rsa.RSAPublicKey):
        return False
    return public_key_bits(mine) == public_key_bits(public)


def load_private_key(data: bytes, path: Path, *, validate: bool = False) -> PrivateKey:
    """Parse a PEM private key read from `path`; a foreign or encrypted file is a PKIError naming it.

    OpenSSL's RSA consistency check costs ~35 ms a key, most of a converged run; it protects signatures (a
    corrupt CRT key can leak itself when signing), so it runs only for keys kbs signs with (`validate`).
    """
    try:
        key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=not validate)
    except TypeError as exc:  # encrypted
        raise PKIError(
            f"{path} is an encrypted private key; kbs needs it unencrypted",
            hint=f"decrypt it (openssl pkey -in {path} -out {path}) or remove it",
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PKIError(
            f"{path} is not a PEM private key (RSA or ECDSA)",
            hint=f"restore the right key file or remove {path} and its certificate to generate new ones",
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PKIError(
            f"{path} holds a {type(key).__name__.lstrip('_')} key; kbs supports RSA and ECDSA keys only",
            hint=f"remove {path} and its certificate to generate new ones",
        )
    return key


def load_public_key(data: bytes, path: Path) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PKIError(
            f"{path} is not a PEM public key", hint=f"remove {path}: kbs derives it again from the private key"
        ) from exc
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise PKIError(f"{path} holds an unsupported public key type", hint=f"remove {path}")
    return key
