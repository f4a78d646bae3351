"""The reconciler's own failures, all KbsError subclasses so the CLI prints them cleanly.

    InvalidManifestError    a manifest (file or URL body) is not a valid static pod: reported, never fatal
    RuntimeOperationError   a Docker call failed; `reason` is the kubelet's waiting reason to show
      +-- ImagePullError        ErrImagePull / ErrImageNeverPull
      +-- ContainerGoneError    the container vanished under us (removed by someone else)

Docker's exceptions are translated into these (or bootstrap.errors.RuntimeUnavailableError when the engine does
not answer) in runtime/docker.py, the one boundary that talks to the SDK.
"""

from __future__ import annotations

from bootstrap.errors import KbsError


class InvalidManifestError(KbsError):
    """A static pod manifest that cannot be run; the message names the file or URL and the field."""


class RuntimeOperationError(KbsError):
    """A container-runtime call failed; `reason` is the waiting reason the pod status shows."""

    def __init__(self, message: str, *, reason: str = "CreateContainerError", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class ImagePullError(RuntimeOperationError):
    def __init__(self, message: str, *, reason: str = "ErrImagePull") -> None:
        super().__init__(message, reason=reason)


class ContainerGoneError(RuntimeOperationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, reason="ContainerGone")
