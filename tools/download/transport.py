"""A minimal HTTP/1.1 GET for large bodies: ``http.client`` with ``readinto`` into reusable buffers.

The shared httpx client (``tools.http``) is used for every API call; model bodies go through
this thin layer because httpx's pure-Python read path tops out at a third of ``curl``'s speed
on a fast link (measured by ``evals/bench_download.py``), while ``readinto`` copies straight
from the socket into a preallocated buffer. TLS uses the system trust store with hostname
checks; every call has a socket timeout; redirects are *not* followed here (the engine
checks each hop against the host policy).

Every socket read of a body can be *watched*: :meth:`Response.watch` installs a callback that sees
each chunk as it arrives from the socket (not only when a whole buffer is full), so the engine can
enforce a minimum rate and a deadline even against a server that trickles one byte at a time below
the per-read timeout. When the callback says stop, the body ends there (as if the server had
closed it) after handing over every byte already received, so nothing received is lost.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
from collections.abc import Callable
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


Watcher = Callable[[int], str | None]
"""Called with the size of each chunk read from the socket; returns a reason to stop, or None."""


class _WatchedRaw(io.RawIOBase):
    """The socket's raw reader with a hook on every ``recv`` (the stock reader is a Python call per read too)."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self._inner = inner
        self.watcher: Watcher | None = None
        self.stopped: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.stopped is not None:
            return 0  # reads as the end of the body: the buffered reader hands over what it already has
        n = self._inner.readinto(b) or 0
        if n and self.watcher is not None:
            self.stopped = self.watcher(n)
        return n

    def fileno(self) -> int:
        return int(self._inner.fileno())

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


class _WatchedResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        # nothing has been read yet: swap the stock buffered reader for one over a watched raw reader
        self.fp.close()
        self.raw_io = _WatchedRaw(sock.makefile("rb", buffering=0))
        self.fp = io.BufferedReader(self.raw_io, io.DEFAULT_BUFFER_SIZE)


class _HTTPConnection(http.client.HTTPConnection):
    response_class = _WatchedResponse


class _HTTPSConnection(http.client.HTTPSConnection):
    response_class = _WatchedResponse


class Response:
    """Status, headers (case-insensitive ``get``) and a body read with :meth:`readinto`."""

    def __init__(self, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse, url: httpx.URL) -> None:
        self._conn = conn
        self._raw = raw
        self.url = url
        self.status_code = raw.status
        self.headers = raw.headers

    def watch(self, watcher: Watcher | None) -> None:
        """See every chunk of the body as it leaves the socket; ``watcher`` returning a reason ends the body."""
        raw = getattr(self._raw, "raw_io", None)
        if isinstance(raw, _WatchedRaw):
            raw.watcher = watcher

    @property
    def stopped(self) -> str | None:
        """Why the watcher ended the body early, or None."""
        raw = getattr(self._raw, "raw_io", None)
        return raw.stopped if isinstance(raw, _WatchedRaw) else None

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
        conn = _HTTPSConnection(host, port, timeout=timeout, context=_ssl_context())
    else:
        conn = _HTTPConnection(host, port, timeout=timeout)
    all_headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity", "Connection": "close"}
    all_headers.update(headers)
    try:
        conn.request("GET", target, headers=all_headers)
        raw = conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise TransportFailure(f"{type(exc).__name__} talking to {host}") from None
    return Response(conn, raw, url)
