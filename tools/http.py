"""One way to build HTTP clients: explicit timeouts, TLS verification, a User-Agent, host-bound tokens,
retries with backoff for idempotent calls, and status codes mapped onto ``tools.errors``.

Every remote client (Civitai, Hugging Face, catalog refresh, the download engine) builds its
``httpx.Client`` with :func:`build_client` and sends idempotent calls through :func:`send_with_retry`.

Tokens are attached by :class:`HostTokenAuth` only to the hosts they belong to, and stripped again by a
request hook on any other host (a redirect to a storage host must never carry the token).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self

import httpx

from comfyfixer.tools.errors import (
    AuthRequired,
    HTTPError,
    NotFound,
    RateLimited,
    TransportError,
    UpstreamError,
)

log = logging.getLogger(__name__)

USER_AGENT = "comfyfixer-smart/0.1 (+https://github.com/comfyfixer/comfyfixer-smart)"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def host_matches(host: str, allowed: Iterable[str]) -> bool:
    """``host`` equals one of ``allowed`` or is a sub-domain of it (``a.civitai.com`` for ``civitai.com``)."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        e = entry.lower().rstrip(".")
        if host == e or host.endswith("." + e):
            return True
    return False


class HostTokenAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` for the listed hosts only; the token never goes anywhere else."""

    def __init__(self, token: str | None, hosts: Iterable[str]) -> None:
        self._token = token
        self.hosts = tuple(hosts)

    def __repr__(self) -> str:  # the token must not leak through reprs in logs
        return f"HostTokenAuth(hosts={self.hosts!r}, token={'set' if self._token else 'unset'})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token and host_matches(request.url.host, self.hosts):
            request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _strip_foreign_auth(hosts: tuple[str, ...]) -> Callable[[httpx.Request], None]:
    def hook(request: httpx.Request) -> None:
        if "authorization" in request.headers and not host_matches(request.url.host, hosts):
            del request.headers["authorization"]

    return hook


def _require_https(allow_http_hosts: tuple[str, ...]) -> Callable[[httpx.Request], None]:
    def hook(request: httpx.Request) -> None:
        if request.url.scheme != "https" and not (
            request.url.host in allow_http_hosts or _is_loopback(request.url.host)
        ):
            raise TransportError(
                f"refusing plain-http request to {request.url.host}",
                url=str(request.url.copy_with(query=None)),
                hint="only https is used for remote hosts",
            )

    return hook


def _is_loopback(host: str) -> bool:
    return host in {"localhost", "::1", "[::1]"} or host.startswith("127.")


def build_client(
    *,
    base_url: str = "",
    timeout: float = 30.0,
    token: str | None = None,
    token_hosts: Iterable[str] = (),
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    max_connections: int = 8,
    verify: bool = True,
    user_agent: str = USER_AGENT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A configured ``httpx.Client``.

    ``timeout`` bounds connect, read, write and pool waits alike. ``token`` is sent only to
    ``token_hosts`` (and their sub-domains); when ``token_hosts`` is empty the host of ``base_url``
    is used. Plain http is refused except for loopback hosts (local fakes and tests).
    """
    hosts = tuple(token_hosts)
    if not hosts and base_url:
        hosts = (httpx.URL(base_url).host,)
    all_headers = {"User-Agent": user_agent, "Accept": "application/json"}
    all_headers.update(headers or {})
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        verify=verify,
        headers=all_headers,
        auth=HostTokenAuth(token, hosts) if token else None,
        follow_redirects=follow_redirects,
        max_redirects=10,
        event_hooks={"request": [_require_https(()), _strip_foreign_auth(hosts)]},
        transport=transport,
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ServiceClient:
    """Context-manager life cycle shared by the API clients: they hold one ``httpx.Client`` in ``_http``."""

    _http: httpx.Client

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter: ``base * 2**attempt`` capped at ``cap`` seconds."""

    retries: int = 4
    base: float = 1.0
    cap: float = 30.0
    statuses: frozenset[int] = RETRY_STATUSES
    sleep: Callable[[float], None] = time.sleep
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.cap)
        raw = min(self.cap, self.base * (2**attempt))
        return random.uniform(raw / 2, raw) if self.jitter else raw


class RateGate:
    """At most one request every ``min_interval`` seconds from this process (politeness, not a quota)."""

    def __init__(self, min_interval: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.min_interval <= 0:
            return
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.min_interval


def send_with_retry(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    policy: RetryPolicy | None = None,
    idempotent: bool | None = None,
    should_retry: Callable[[httpx.Response], bool] | None = None,
    gate: RateGate | None = None,
    **kwargs: object,
) -> httpx.Response:
    """Send a request, retrying transport failures and 408/429/5xx with backoff (idempotent calls only).

    ``should_retry`` can veto a retry for a response the policy would otherwise retry (Civitai's
    "too many pages" 429 is final). ``Retry-After`` is honoured up to the policy's cap. Transport
    failures that survive the retries become :class:`TransportError`; the last response is returned
    as is (map it with :func:`raise_for_status`).
    """
    policy = policy or RetryPolicy()
    can_retry = idempotent if idempotent is not None else method.upper() in IDEMPOTENT_METHODS
    attempts = policy.retries + 1 if can_retry else 1
    last_exc: httpx.TransportError | None = None
    for attempt in range(attempts):
        if gate is not None:
            gate.wait()
        try:
            response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            last_exc = exc
            if attempt + 1 < attempts:
                log.info("%s %s failed (%s), retrying", method, _safe_url(url), type(exc).__name__)
                policy.sleep(policy.delay(attempt))
                continue
            break
        if (
            response.status_code in policy.statuses
            and attempt + 1 < attempts
            and (should_retry is None or should_retry(response))
        ):
            wait = policy.delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
            log.info("%s %s answered %d, retrying in %.1fs", method, _safe_url(url), response.status_code, wait)
            response.close()
            policy.sleep(wait)
            continue
        return response
    assert last_exc is not None
    raise TransportError(
        f"request to {_safe_url(url)} failed: {type(last_exc).__name__}",
        url=_safe_url(url),
        hint="check the network connection or try again later",
    ) from last_exc


def _safe_url(url: str | httpx.URL) -> str:
    """A URL without its query string (which may carry a token) for messages and logs."""
    try:
        return str(httpx.URL(str(url)).copy_with(query=None, fragment=None))
    except Exception:
        return "<url>"


def raise_for_status(response: httpx.Response, *, service: str = "the server") -> None:
    """Map an error status onto the ``tools.errors`` HTTP tree; 2xx/3xx pass through."""
    status = response.status_code
    if status < 400:
        return
    url = _safe_url(response.request.url) if response.request is not None else None
    try:
        excerpt = response.text[:300]
    except Exception:
        excerpt = None
    kw: dict[str, object] = {"url": url, "status": status, "body_excerpt": excerpt}
    err: HTTPError
    if status in (401, 403):
        err = AuthRequired(f"{service} refused access ({status}) to {url}",
                           hint="a token may be needed, or the token lacks access", **kw)
    elif status in (404, 410):
        err = NotFound(f"{service} has nothing at {url} ({status})",
                       hint="check the name or id; it may have been removed", **kw)
    elif status == 429:
        err = RateLimited(f"{service} is rate limiting us (429)",
                          retry_after=parse_retry_after(response.headers.get("Retry-After")),
                          hint="wait a minute and try again", **kw)
    elif status >= 500 or status == 408:
        err = UpstreamError(f"{service} failed ({status}) for {url}", hint="try again later", **kw)
    else:
        err = HTTPError(f"{service} rejected the request ({status}) to {url}", **kw)
    raise err


def is_html(response: httpx.Response) -> bool:
    """The body is an HTML page (a login or error page where JSON or a file was expected)."""
    return "text/html" in response.headers.get("Content-Type", "").lower()
