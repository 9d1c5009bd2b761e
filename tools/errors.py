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
    """Base class for every error we mean the user to read.

    ``str(err)`` is one line: ``message`` followed by ``(hint)`` when a hint was given. The CLI edge
    (``agent/cli.py::run``) prints that line and returns ``exit_code`` (2 for every subclass today, the
    "something the user must fix" code), so raising one of these never shows a traceback. Anything that is
    *not* a ``ComfyFixerError`` is treated as our bug and propagates.

    Attributes: ``message`` (without the hint) and ``hint`` (what to do next, or None), kept apart so JSON
    output and reports can show them in separate fields.
    """

    # EXIT_USAGE in agent/output.py: 1 means "worked, but found problems" (--strict) and is never an error.
    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(ComfyFixerError):
    """A file or argument the user gave cannot be used (wrong type, unreadable, out of range)."""


class WorkflowFormatError(InputError):
    """A file is not a ComfyUI workflow (UI or API JSON, or an image embedding one).

    The message is ``"<path>: <reason>"``; ``path`` and ``reason`` are also kept as attributes so a batch
    check can list each failing file without re-parsing the message.
    """

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint=hint)
        self.path = path
        self.reason = reason


class UnsafePathError(InputError):
    """A file name or sub-folder would escape the folders the user allowed.

    Raised by the name guards in ``tools/paths.py`` (``safe_filename``/``safe_relpath``) for names that come
    from outside: a workflow, a Civitai file name, a catalog entry. Never "fixed up" silently.
    """


class ConfigError(ComfyFixerError):
    """Settings are missing or invalid; raised by ``agent/config.py::load_settings`` and by code that needs a
    setting the user has not given (a ComfyUI folder, a RunPod endpoint id). The hint names what to set.
    """


class IntegrityError(ComfyFixerError):
    """A file failed its size, hash or header check (for example a download whose SHA-256 does not match the
    one the plan pinned, or a ``.safetensors`` whose header is not JSON). The download engine quarantines it.
    """


class DiskFull(ComfyFixerError):
    """Not enough free space for a download or a plan.

    ``needed`` and ``free`` are in bytes when known; ``needed`` is None when the remote size is unknown, so
    the check could only compare against a floor.
    """

    def __init__(self, message: str, *, needed: int | None = None, free: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.needed = needed
        self.free = free


class ApprovalError(ComfyFixerError):
    """An approval token is missing, already used, expired, or was issued for a plan whose content has changed
    since (``agent/approval.py``). The hint says how to get a fresh token.
    """


class HTTPError(ComfyFixerError):
    """A remote service answered with an error or an unusable body.

    Base of the HTTP family; the shared client in ``tools/http.py`` maps statuses onto the subclasses, so
    callers catch the kind they can act on (``NotFound`` → try the next source, ``RateLimited`` → wait).
    ``url``, ``status`` and ``body_excerpt`` (a short, already truncated piece of the body) are kept for
    reports; the URL never carries a token, because tokens travel in headers.
    """

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
    """401/403: the resource needs a token, or the token was refused. The hint names the setting to fill in
    (``CIVITAI_API_TOKEN``, ``HF_TOKEN``, ``RUNPOD_API_KEY``).
    """


class EarlyAccess(HTTPError):
    """403 for a Civitai resource in early access: ``until`` is the ISO date when it becomes free (None if the
    API did not say). Kept apart from ``AuthRequired`` because a token alone does not help: it needs a paid
    unlock, or waiting.
    """

    def __init__(self, message: str, *, until: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.until = until


class NotFound(HTTPError):
    """404, or the resource was archived or taken down. Resolvers treat it as "no match here", not as a
    failure.
    """


class RateLimited(HTTPError):
    """429: too many requests. ``retry_after`` is in seconds when the server sent ``Retry-After``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class UpstreamError(HTTPError):
    """5xx, or a body of the wrong kind (an HTML login page where JSON or a file was expected). Worth retrying
    later; nothing the user did caused it.
    """


class TransportError(HTTPError):
    """The request did not complete: timeout, DNS failure, TLS error, connection reset. ``status`` is None."""


class DownloadStalled(TransportError):
    """A download stayed under the minimum rate for too long, or ran past its deadline.

    The partial file is kept so a later run resumes it with a ``Range`` request instead of starting over.
    """
