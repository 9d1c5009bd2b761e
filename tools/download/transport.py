"""A minimal HTTP/1.1 GET for large bodies: ``http.client`` with ``readinto`` into reusable buffers.

The shared httpx client (``tools.http``) is used for every API call; model bodies go through
this thin layer because httpx's pure-Python read path tops out at a third of ``curl``'s speed
on a fast link (measured by ``evals/bench_download.py``), while ``readinto`` copies straight
from the socket into a preallocated buffer. TLS uses the system trust store with hostname
checks; every call has a socket timeout; redirects are *not* followed here (the engine
checks each hop against the host policy).
"""

from __future__ import annotations

import http.client
import ssl
from typing import Any

import httpx

from comfyfixer.tools.http import USER_AGENT

_SSL: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    global _SSL
    if _SSL is None:
        _SSL = ssl.create_default_context()
    return _SSL


class TransportFailure(Exception):
    """The request did not complete (connect error, reset, timeout, TLS failure)."""


class Response:
    """Status, headers (case-insensitive ``get``) and a body read with :meth:`readinto`."""

    def __init__(self, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse, url: httpx.URL) -> None:
        self._conn = conn
        self._raw = raw
        self.url = url
        self.status_code = raw.status
        self.headers = raw.headers

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        return value if value is not None else default

    def readinto(self, buf: Any) -> int:
        try:
            return self._raw.readinto(buf)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from None

    def read_small(self, limit: int = 64 * 1024) -> bytes:
        """Read at most ``limit`` bytes of an error or HTML body."""
        try:
            return self._raw.read(limit)
        except (OSError, http.client.HTTPException):
            return b""

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            self._conn.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get(url: httpx.URL, headers: dict[str, str], timeout: float) -> Response:
    """Send one GET (no redirects followed) and return the response with its body unread."""
    host = url.host
    port = url.port
    target = url.raw_path.decode("ascii") or "/"
    conn: http.client.HTTPConnection
    if url.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_ssl_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    all_headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity", "Connection": "close"}
    all_headers.update(headers)
    try:
        conn.request("GET", target, headers=all_headers)
        raw = conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise TransportFailure(f"{type(exc).__name__} talking to {host}") from None
    return Response(conn, raw, url)
