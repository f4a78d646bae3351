"""The images a kbs control plane runs, and getting them onto the machine (list, pull, load from an archive).

The references come from the configuration (`KbsConfig.image`), so `kbs images list` prints exactly what the
manifests and the addons will name for the configured version and repository, as `kubeadm config images list`
does. A kbs control-plane node runs only its static pods and pause (`references`); kube-proxy and CoreDNS run on
the workers (their kubelets pull them), so `pull`, `load` and `save` handle the node's own images.
Docker SDK errors become RuntimeUnavailableError here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap import constants
from bootstrap.errors import FileWriteError, RuntimeUnavailableError

if TYPE_CHECKING:
    from bootstrap.config.effective import KbsConfig


def references(cfg: KbsConfig) -> dict[str, str]:
    """This node's images: short name -> reference, in the order the control plane starts (etcd only for local
    etcd)."""
    names = [*constants.ALL_COMPONENTS, "pause"]
    return {name: cfg.image(name) for name in names if name != constants.ETCD or cfg.local_etcd}


@contextlib.contextmanager
def docker_client(cfg: KbsConfig) -> Iterator[Any]:
    import docker

    host = cfg.kbs.reconciler.docker_host
    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
    except docker.errors.DockerException as exc:
        raise RuntimeUnavailableError(
            f"cannot reach the Docker engine ({host or 'default socket'}): {exc}",
            hint="start Docker (`systemctl start docker`) or set reconciler.dockerHost",
        ) from exc
    try:
        yield client
    finally:
        client.close()


def docker_error(cfg: KbsConfig) -> str | None:
    """None when the engine answers a ping, else why not (for the Docker preflight check)."""
    try:
        with docker_client(cfg) as client:
            client.ping()
    except RuntimeUnavailableError as exc:
        return exc.message
    except Exception as exc:  # any failure to ping is the answer
        return f"the Docker engine does not answer: {exc}"
    return None


def engine_is_remote(cfg: KbsConfig) -> bool:
    """The Docker engine is reached over the network (tcp://, ssh://), so it may run on another clock."""
    host = cfg.kbs.reconciler.docker_host or os.environ.get("DOCKER_HOST", "")
    return host.startswith(("tcp://", "ssh://", "http://", "https://"))


def docker_clock_skew(cfg: KbsConfig) -> float | None:
    """Seconds the engine's clock is ahead of ours (matters when DOCKER_HOST is remote), None if unknown."""
    with contextlib.suppress(Exception):
        with docker_client(cfg) as client:
            text = str(client.info().get("SystemTime", ""))
        # "2026-11-23T18:20:01.123456789Z": keep microseconds for fromisoformat
        head, _, frac = text.rstrip("Z").partition(".")
        theirs = datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
        return (theirs - datetime.now(UTC)).total_seconds()
    return None


def present(cfg: KbsConfig) -> dict[str, bool]:
    import docker

    result = {}
    with docker_client(cfg) as client:
        for ref in references(cfg).values():
            try:
                client.images.get(ref)
                result[ref] = True
            except docker.errors.ImageNotFound:
                result[ref] = False
            except docker.errors.APIError as exc:
                raise RuntimeUnavailableError(f"the Docker engine cannot inspect {ref}: {exc}") from exc
    return result


def missing(cfg: KbsConfig) -> list[str]:
    return [ref for ref, here in present(cfg).items() if not here]


def pull(cfg: KbsConfig, refs: list[str]) -> dict[str, str]:
    """Pull each reference in order (imagePullSerial); returns ref -> error for the ones that failed."""
    import docker

    failures: dict[str, str] = {}
    with docker_client(cfg) as client:
        for ref in refs:
            try:
                client.images.pull(ref)
            except docker.errors.APIError as exc:
                failures[ref] = str(exc.explanation or exc)
    return failures


def load(cfg: KbsConfig, archive: Path) -> list[str]:
    """`docker load` an image archive (as `docker save` or `kbs images save` write it); returns the tags loaded."""
    import docker

    try:
        handle = archive.open("rb")
    except OSError as exc:
        raise FileWriteError(f"cannot read image archive {archive}: {exc.strerror}") from exc
    with handle, docker_client(cfg) as client:
        try:
            loaded = client.images.load(handle)
        except docker.errors.APIError as exc:
            raise RuntimeUnavailableError(
                f"the Docker engine refused {archive}: {exc.explanation or exc}",
                hint="the file must be a `docker save` archive (tar, optionally gzip-compressed)",
            ) from exc
    return sorted(tag for image in loaded for tag in image.tags)


def save(cfg: KbsConfig, archive: Path) -> list[str]:
    """Write every configured image into one `docker save` archive, for `kbs images load` on an offline machine."""
    import docker

    refs = list(references(cfg).values())
    with docker_client(cfg) as client:
        try:
            stream = client.api.get_image(refs)
            tmp = archive.with_name(f".{archive.name}.tmp")
            with tmp.open("wb") as out:
                for chunk in stream:
                    out.write(chunk)
            tmp.replace(archive)
        except docker.errors.APIError as exc:
            raise RuntimeUnavailableError(
                f"the Docker engine cannot export the images: {exc.explanation or exc}",
                hint="pull them first with `kbs images pull`",
            ) from exc
        except OSError as exc:
            raise FileWriteError(f"cannot write {archive}: {exc.strerror}") from exc
    return refs
