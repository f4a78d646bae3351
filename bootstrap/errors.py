"""The kbs error hierarchy: every expected failure is a KbsError with an operator-facing message.

    KbsError                     base; exit status 1; `hint` says what to do
    +-- ConfigError              the configuration (file, field, flag) is wrong
    +-- PKIError                 a certificate, key or kubeconfig is missing, foreign or invalid
    +-- RenderError              a manifest cannot be rendered or fails validation
    +-- FileWriteError           a file or directory cannot be written
    +-- RuntimeUnavailableError  the container runtime (Docker) cannot be reached (callers retry)
    +-- PreflightError           one or more preflight checks failed
    +-- WaitTimeoutError         something did not become healthy in time
    +-- APIServerError           the API server refused a request or cannot be reached (`status`, `reason`)

Lower-layer exceptions (OSError, docker's, yaml's, cryptography's) are translated into these at the
boundary that knows what the operator was doing; the CLI prints them without a traceback. Whether to retry is
decided where the retry happens, by the class (RuntimeUnavailableError: wait for the engine) or by an
APIServerError's `status` and `reason`; the errors carry no "retryable" flag that nothing would read.
"""

from __future__ import annotations


class KbsError(Exception):
    """An expected failure: printed as `error: <message>` (and `hint: <hint>`), never as a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(KbsError):
    """The configuration is wrong: names the document, the field path and the bad value."""


class PKIError(KbsError):
    """A certificate, key or kubeconfig is missing, foreign, mismatched or invalid."""


class RenderError(KbsError):
    """A manifest cannot be rendered, or the rendered Pod fails validation."""


class FileWriteError(KbsError):
    """A file or directory cannot be written (permissions, a file where a directory should be, ...)."""


class RuntimeUnavailableError(KbsError):
    """The container runtime cannot be reached; trying again later may help."""


class PreflightError(KbsError):
    """One or more preflight checks failed."""


class WaitTimeoutError(KbsError):
    """Something did not become healthy in time."""


class APIServerError(KbsError):
    """The API server refused a request or could not be reached (bootstrap/kube translates lightkube's errors)."""

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None, reason: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status  # the HTTP status when the server answered (409: conflict, retry with a fresh read)
        self.reason = reason  # the Status reason it gave (AlreadyExists, Conflict, NotFound, Invalid, ...), or ""
