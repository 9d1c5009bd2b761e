"""A loopback mirror of ComfyUI-Manager's catalog files, as raw GitHub serves them.

Serves ``GET /<name>`` for each file given, with an ``ETag`` and a ``Last-Modified``, and answers a
conditional request (``If-None-Match`` / ``If-Modified-Since``) for unchanged content with 304, as GitHub
does. Every request is recorded (path, status, whether it was conditional) so a test can check what went
over the wire. Two ways to fail part-way, for the "an interrupted refresh leaves the previous catalogs"
tests: ``die_after=n`` drops the connection without answering once ``n`` files have been served (the
server dying mid-refresh), and ``files`` may hold any bytes, so a file can be made not JSON.
"""

from __future__ import annotations

import hashlib
import threading
import zipfile
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

__all__ = ["CatalogMirror", "manager_files"]

_NAMES = ("extension-node-map.json", "custom-node-list.json", "model-list.json")


def manager_files(wheel: Path) -> dict[str, bytes]:
    """The Manager's catalog files, as bytes, read from a ``comfyui_manager-*.whl``."""
    with zipfile.ZipFile(wheel) as zf:
        return {Path(n).name: zf.read(n) for n in zf.namelist() if Path(n).name in _NAMES}


@dataclass
class Request:
    """One request as the mirror saw it."""
    path: str
    status: int
    conditional: bool


class CatalogMirror(LoopbackServer):
    """Use as a context manager; the catalogs' base URL is ``url + "/"``. Assign to ``files`` to publish
    new content (its ETag changes with it)."""

    thread_name = "fake-catalogs"
    poll_interval = 0.05  # stopping waits for one poll; tests start and stop several mirrors

    def __init__(self, files: dict[str, bytes], *, die_after: int | None = None) -> None:
        super().__init__()
        self.files = dict(files)
        self.die_after = die_after
        self.served = 0
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        # One fixed date for every file: If-Modified-Since then matches exactly, as it does on GitHub.
        self.last_modified = formatdate(1_700_000_000, usegmt=True)

    @staticmethod
    def etag(body: bytes) -> str:
        """The strong ETag of ``body``."""
        return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        mirror = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                body = mirror.files.get(name)
                inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                with mirror._lock:
                    if mirror.die_after is not None and mirror.served >= mirror.die_after:
                        mirror.requests.append(Request(self.path, 0, bool(inm or ims)))
                        self.close_connection = True
                        self.connection.close()  # no answer at all: the server is gone
                        return
                    if body is None:
                        status = 404
                    elif (inm is not None and inm == mirror.etag(body)) or (
                            inm is None and ims is not None and ims == mirror.last_modified):
                        status = 304
                    else:
                        status = 200
                    mirror.served += status != 404
                    mirror.requests.append(Request(self.path, status, bool(inm or ims)))
                if status == 404:
                    self.send_body(404, b"404: Not Found", "text/plain")
                    return
                assert body is not None
                headers = [("ETag", mirror.etag(body)), ("Last-Modified", mirror.last_modified)]
                if status == 304:
                    self.send_response(304)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.end_headers()
                    return
                self.send_body(200, body, "text/plain; charset=utf-8", headers)

        return Handler
