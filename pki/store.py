"""Reading and writing PKI files: PEM certificates (0644), keys (0600), all through bootstrap.fsutil.atomic_write.

Reads translate OSError and parse failures into PKIError naming the file; a missing file is `None`, so callers
decide whether missing means "create it" or "external CA, must be provided". `check_writable` runs before the
first write of a batch so that a read-only or wrong directory fails before anything is written.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bootstrap import constants
from bootstrap.errors import FileWriteError, PKIError
from bootstrap.fsutil import atomic_write, ensure_dir
from pki.keys import PrivateKey, PublicKey, load_private_key, load_public_key, private_key_pem, public_key_pem

DIR_MODE = 0o755  # kubeadm's mode for pki/ and pki/etcd/


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, None if it does not exist; any other failure is a PKIError naming the file."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        parent = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        raise FileWriteError(
            f"{parent} is not a directory", hint=f"move {parent} away or point the certificates dir elsewhere"
        ) from None
    except OSError as exc:
        what = "is a directory" if exc.errno == errno.EISDIR else exc.strerror
        raise PKIError(f"cannot read {path}: {what}", hint="check the file's type and permissions") from exc


def exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def parse_cert(data: bytes, path: Path | str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise PKIError(
            f"{path} is not a PEM certificate", hint=f"restore the right file, or remove {path} to generate a new one"
        ) from exc


def read_cert(path: Path) -> x509.Certificate | None:
    data = read_bytes(path)
    return None if data is None else parse_cert(data, path)


def read_key(path: Path, *, validate: bool = False) -> PrivateKey | None:
    """The private key at `path`; `validate` for a key that will sign (see pki.keys.load_private_key)."""
    data = read_bytes(path)
    return None if data is None else load_private_key(data, path, validate=validate)


def read_public_key(path: Path) -> PublicKey | None:
    data = read_bytes(path)
    return None if data is None else load_public_key(data, path)


def check_writable(paths: Iterable[Path]) -> None:
    """Create the parent directories of `paths` and make sure they are writable, before anything is written.

    Also removes what an interrupted atomic_write of one of `paths` left behind (`.<name>.*.tmp`).
    """
    targets = list(paths)
    for directory in sorted({p.parent for p in targets}):
        ensure_dir(directory, DIR_MODE)
        if not os.access(directory, os.W_OK | os.X_OK):
            if os.statvfs(directory).f_flag & os.ST_RDONLY:
                raise FileWriteError(
                    f"cannot write to {directory}: read-only file system", hint="choose a writable directory"
                )
            raise FileWriteError(
                f"cannot write to {directory}: permission denied", hint="run kbs as root, or choose another directory"
            )
    for path in targets:
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()


def write_key(path: Path, key: PrivateKey) -> None:
    atomic_write(path, private_key_pem(key), mode=constants.KEY_MODE, dir_mode=DIR_MODE)


def write_public_key(path: Path, key: PrivateKey) -> None:
    # kubeadm writes sa.pub with keyutil.WriteKey, so it is 0600 like a private key.
    atomic_write(path, public_key_pem(key), mode=constants.KEY_MODE, dir_mode=DIR_MODE)


def write_cert(path: Path, cert: x509.Certificate) -> None:
    atomic_write(path, cert_pem(cert), mode=constants.CERT_MODE, dir_mode=DIR_MODE)


def write_kubeconfig(path: Path, text: str) -> None:
    atomic_write(path, text, mode=constants.KUBECONFIG_MODE, dir_mode=DIR_MODE)
