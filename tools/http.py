"""One way to build HTTP clients: explicit timeouts, TLS verification, a User-Agent, host-bound tokens,
retries with backoff for idempotent calls, and status codes mapped onto ``tools.errors``.

Every remote client (Civitai, Hugging Face, catalog refresh, the download engine) builds its
``httpx.Client`` with :func:`build_client` and sends idempotent calls through :func:`send_with_retry`.

Host policy, in one place (downloads in ``tools/download/hosts.py`` use the same functions):

* :func:`is_loopback` decides what counts as this machine (``localhost`` and any loopback IP address,
  parsed with :mod:`ipaddress`; ``127.evil.example`` is not loopback). Plain http is allowed only there.
* A token is bound to an **origin** (scheme, host, port; default ports normalised, see :func:`origin_of`):
  never to sub-domains, another port of the same host, or the same host over another scheme.
* A token goes only on the first request of a redirect chain and on hops that stay on that origin. Once a
  chain has left the origin it never gets the token back, even if a later hop returns to the origin
  (A → B → A): the hop back was chosen by B, a host we do not trust with the token, so the URL it picked
  must not be able to make us authenticate. Nor does a chain ever pick up *another* origin's token on the
  way (a Civitai download redirecting to the Hugging Face endpoint gets neither token).

:class:`HostTokenAuth` attaches the token to the first request only; httpx copies headers along a redirect
chain and drops ``Authorization`` when the origin changes, and a request hook (:func:`build_client`) strips
it again from any request whose origin is not the token's, so a caller-supplied header cannot leak either.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import socket
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


Origin = tuple[str, str, int]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    """``host`` is this machine: ``localhost`` or a loopback IP address (``127.0.0.0/8``, ``::1``).

    Parsed with :mod:`ipaddress`, so names that merely start with ``127.`` (``127.0.0.1.evil.example``)
    are not loopback. IPv4-mapped IPv6 addresses (``::ffff:127.0.0.1``) count as what they map.
    """
    h = (host or "").strip().strip("[]").lower().rstrip(".")
    if h == "localhost":  # not "*.localhost": not every resolver keeps those on this machine
        return True
    try:
        addr = ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return bool(addr.is_loopback or (mapped is not None and mapped.is_loopback))


def origin_of(url: str | httpx.URL) -> Origin:
    """``(scheme, host, port)`` of a URL, lower-cased, trailing dot dropped, default port filled in.

    A bare host (``"civitai.com"``) means its https origin (``("https", "civitai.com", 443)``).
    """
    text = str(url).strip()
    if "://" not in text:
        text = "https://" + text
    u = httpx.URL(text)
    scheme = u.scheme.lower()
    host = (u.host or "").lower().rstrip(".")
    port = u.port if u.port is not None else _DEFAULT_PORTS.get(scheme, 0)
    return scheme, host, port


def origin_text(origin: Origin) -> str:
    """``scheme://host:port`` (always with the port), for reprs and dictionary keys."""
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def host_matches(host: str, allowed: Iterable[str]) -> bool:
    """``host`` equals one of ``allowed`` or is a sub-domain of it (``a.civitai.com`` for ``civitai.com``).

    For allow-lists only (which hosts may be contacted); tokens are bound to exact origins instead.
    """
    host = host.lower().rstrip(".")
    for entry in allowed:
        e = entry.lower().rstrip(".")
        if host == e or host.endswith("." + e):
            return True
    return False


class HostTokenAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on requests to the listed origins only; nowhere else.

    ``origins`` are URLs or bare hosts (a bare host means its https origin on port 443). The token is set
    on the first request of a chain; see the module docstring for what happens on redirects.
    """

    def __init__(self, token: str | None, origins: Iterable[str | Origin]) -> None:
        self._token = token
        self.origins = frozenset(o if isinstance(o, tuple) else origin_of(o) for o in origins)

    def __repr__(self) -> str:  # the token must not leak through reprs in logs
        shown = sorted(origin_text(o) for o in self.origins)
        return f"HostTokenAuth(origins={shown!r}, token={'set' if self._token else 'unset'})"

    def applies_to(self, url: str | httpx.URL) -> bool:
        """The token may be sent to ``url`` (its origin is one of ours)."""
        return origin_of(url) in self.origins

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token and self.applies_to(request.url):
            request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _strip_foreign_auth(origins: frozenset[Origin]) -> Callable[[httpx.Request], None]:
    def hook(request: httpx.Request) -> None:
        if "authorization" in request.headers and origin_of(request.url) not in origins:
            del request.headers["authorization"]

    return hook


def _require_https(allow_http_hosts: tuple[str, ...]) -> Callable[[httpx.Request], None]:
    def hook(request: httpx.Request) -> None:
        if request.url.scheme != "https" and not (
            request.url.host in allow_http_hosts or is_loopback(request.url.host)
        ):
            raise TransportError(
                f"refusing plain-http request to {request.url.host}",
                url=str(request.url.copy_with(query=None)),
                hint="only https is used for remote hosts",
            )

    return hook


def build_client(
    *,
    base_url: str = "",
    timeout: float = 30.0,
    token: str | None = None,
    token_origins: Iterable[str] = (),
    token_hosts: Iterable[str] = (),
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    max_connections: int = 8,
    verify: bool = True,
    user_agent: str = USER_AGENT,
    transport: httpx.BaseTransport | None = None,
    allow_http: bool = False,
) -> httpx.Client:
    """A configured ``httpx.Client``.

    ``timeout`` bounds connect, read, write and pool waits alike. ``token`` is sent only to the exact
    origins in ``token_origins`` (URLs such as ``https://civitai.com`` or ``http://127.0.0.1:8123``);
    ``token_hosts`` is the older spelling and means the https origins of those hosts. When both are
    empty the origin of ``base_url`` is used. Plain http is refused except for loopback hosts, unless
    ``allow_http`` (a ComfyUI server on the user's own network speaks plain http and carries no token).
    """
    origins = frozenset(origin_of(o) for o in (*token_origins, *token_hosts))
    if not origins and base_url:
        origins = frozenset({origin_of(base_url)})
    all_headers = {"User-Agent": user_agent, "Accept": "application/json"}
    all_headers.update(headers or {})
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        verify=verify,
        headers=all_headers,
        auth=HostTokenAuth(token, origins) if token else None,
        follow_redirects=follow_redirects,
        max_redirects=10,
        event_hooks={"request": [*([] if allow_http else [_require_https(())]), _strip_foreign_auth(origins)]},
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
            if _name_unresolved(exc):  # no DNS answer: offline, or a mistyped host; waiting will not help
                break
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
    unresolved = _name_unresolved(last_exc)
    raise TransportError(
        f"request to {_safe_url(url)} failed: "
        + ("its host name did not resolve" if unresolved else type(last_exc).__name__),
        url=_safe_url(url),
        hint="check the network connection (or work offline: COMFYFIXER_OFFLINE=1)" if unresolved
        else "check the network connection or try again later",
    ) from last_exc


def _name_unresolved(exc: BaseException) -> bool:
    """Whether a transport failure is a host name that did not resolve (``socket.gaierror`` in its chain)."""
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 8:
        if isinstance(cause, socket.gaierror):
            return True
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return False


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
