"""The shared life cycle of every fake server: a threaded HTTP server on 127.0.0.1, in a daemon thread,
and the quiet HTTP/1.1 request handler they build on.

Subclasses give their request handler class in ``handler_class`` (usually a :class:`QuietHandler`
subclass that closes over the server object); tests use them as context managers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive, as real servers and clients use it), no access log on stderr, and one
    way to send a complete response."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return

    def send_body(self, status: int, body: bytes, content_type: str = "application/octet-stream",
                  headers: Iterable[tuple[str, str]] = ()) -> None:
        """Status, headers with an exact Content-Length, then ``body`` (omitted for HEAD)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        """``obj`` as a JSON response."""
        self.send_body(status, json.dumps(obj).encode(), "application/json; charset=utf-8", headers)


class LoopbackServer:
    """Start/stop/URL for a loopback-only HTTP server (port chosen by the OS)."""

    thread_name = "fake-server"
    poll_interval = 0.5

    def __init__(self) -> None:
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": self.poll_interval},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def before_stop(self) -> None:
        """Release anything a handler may be blocked on (stalled responses)."""

    def stop(self) -> None:
        self.before_stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
