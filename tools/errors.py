"""Exceptions for the user: each message says what went wrong and what to do next.

Tree::

    ComfyFixerError
    ├── InputError                 bad file or argument given by the user
    │   ├── WorkflowFormatError    a file is not a workflow we can read
    │   └── UnsafePathError        a name would escape the allowed folders
    ├── ConfigError                settings are missing or invalid
    ├── IntegrityError             a file failed a size/hash/header check
    ├── DiskFull                   not enough free space for a download (has ``needed``/``free``)
    ├── HTTPError                  a remote service answered badly
    │   ├── AuthRequired           401/403: token missing or not accepted
    │   ├── EarlyAccess            403 for an early-access resource (has ``until``)
    │   ├── NotFound               404 / removed resource
    │   ├── RateLimited            429 (has ``retry_after``)
    │   ├── UpstreamError          5xx or an unexpected body (HTML instead of JSON)
    │   └── TransportError         timeout, DNS, TLS, connection reset
    │       └── DownloadStalled    a download went slower than the minimum rate (the partial is kept)
    └── ApprovalError              a plan's approval token is missing, used, expired or void

Exceptions carry data only; logging happens where they are handled.
"""

from __future__ import annotations


class ComfyFixerError(Exception):
    """Base class. ``str(err)`` is a one-line message fit for the user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(ComfyFixerError):
    """A file or argument the user gave cannot be used."""


class WorkflowFormatError(InputError):
    """A file is not a ComfyUI workflow (UI or API JSON, or an image embedding one)."""

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint=hint)
        self.path = path
        self.reason = reason


class UnsafePathError(InputError):
    """A file name or sub-folder would escape the folders the user allowed."""


class ConfigError(ComfyFixerError):
    """Settings are missing or invalid."""


class IntegrityError(ComfyFixerError):
    """A file failed its size, hash or header check."""


class DiskFull(ComfyFixerError):
    """Not enough free space: ``needed``/``free`` in bytes when known (``needed`` None if the size is unknown)."""

    def __init__(self, message: str, *, needed: int | None = None, free: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.needed = needed
        self.free = free


class ApprovalError(ComfyFixerError):
    """An approval token is missing, already used, expired, or the plan changed."""


class HTTPError(ComfyFixerError):
    """A remote service answered with an error or an unusable body."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        body_excerpt: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.status = status
        self.body_excerpt = body_excerpt


class AuthRequired(HTTPError):
    """401/403: the resource needs a token, or the token was refused."""


class EarlyAccess(HTTPError):
    """The resource is in early access until ``until`` (ISO date) and needs a paid unlock."""

    def __init__(self, message: str, *, until: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.until = until


class NotFound(HTTPError):
    """404, or the resource was archived or taken down."""


class RateLimited(HTTPError):
    """429: too many requests. ``retry_after`` is in seconds when the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class UpstreamError(HTTPError):
    """5xx, or a body of the wrong kind (an HTML login page where JSON or a file was expected)."""


class TransportError(HTTPError):
    """The request did not complete: timeout, DNS failure, TLS error, connection reset."""


class DownloadStalled(TransportError):
    """A download stayed under the minimum rate for too long, or ran past its deadline; the partial file is kept."""
