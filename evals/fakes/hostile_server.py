"""A loopback server that misbehaves the way a stranger's download host can, to test the download limits.

Each file is generated on the fly from its offset (so an "endless" body needs no disk), starts with
a valid safetensors header for its *real* size when asked, supports ``Range: bytes=N-``, and can:

* **trickle**: send ``fast_bytes`` at full speed, then ``trickle_chunk`` bytes every
  ``trickle_interval`` seconds (each read stays under any per-read timeout), for the first
  ``trickle_times`` requests; later requests are served normally (to test resume);
* **lie about its size**: ``declared`` is what ``Content-Length`` says (None: no ``Content-Length``,
  the body ends when the connection closes), ``size`` is what is really there;
* **never end**: ``endless`` keeps sending (no ``Content-Length``) until the client hangs up or
  ``endless_cap`` bytes have gone out.

Every request is recorded (path, Range, status, bytes sent) like the regular file server's.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import quote, unquote, urlsplit

from comfyfixer.evals.fakes.file_server import safetensors_header
from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

__all__ = ["Hit", "HostileFile", "HostileServer"]

_BLOCK = 1 << 16


@dataclass
class HostileFile:
    """One generated file and how the server misbehaves when serving it."""

    name: str
    size: int
    seed: int = 0
    safetensors: bool = True
    declared: int | None = -1  # Content-Length to send: -1 = the real size, None = none at all
    fast_bytes: int = 0
    trickle_chunk: int = 1
    trickle_interval: float = 0.0  # 0 = no trickle
    trickle_times: int = 0
    endless: bool = False
    endless_cap: int = 1 << 30
    head: bytes = b""
    _pattern: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        self.head = safetensors_header(self.size) if self.safetensors else b""
        seed = hashlib.sha256(f"hostile{self.seed}".encode()).digest()
        self._pattern = (seed * (_BLOCK // len(seed) + 1))[:_BLOCK]

    def read(self, offset: int, n: int) -> bytes:
        """``n`` bytes of the content from ``offset`` (the header, then a repeating pattern)."""
        out = bytearray()
        if offset < len(self.head):
            out += self.head[offset:offset + n]
            offset += len(out)
        while len(out) < n:
            i = offset % _BLOCK
            piece = self._pattern[i:i + n - len(out)]
            out += piece
            offset += len(piece)
        return bytes(out)

    def content(self) -> bytes:
        """The whole real file (for hashing in tests; only for small sizes)."""
        return self.read(0, self.size)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content()).hexdigest()


@dataclass
class Hit:
    path: str
    range: str | None
    status: int = 0
    bytes_sent: int = 0


class HostileServer(LoopbackServer):
    """Serves :class:`HostileFile` objects at ``/files/<name>``; use as a context manager."""

    thread_name = "hostile-server"
    poll_interval = 0.05

    def __init__(self) -> None:
        self.files: dict[str, HostileFile] = {}
        self.hits: list[Hit] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        super().__init__()

    def add(self, name: str, size: int, **options: object) -> HostileFile:
        f = HostileFile(name=name, size=size, **options)  # type: ignore[arg-type]
        self.files[name] = f
        return f

    def file_url(self, name: str) -> str:
        return f"{self.url}/files/{quote(name)}"

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("HostileHandler", (_Handler,), {"server_ref": self})

    def before_stop(self) -> None:
        self.stopping.set()

    def bytes_sent(self, name: str) -> int:
        with self._lock:
            return sum(h.bytes_sent for h in self.hits if h.path.endswith("/" + quote(name)))

    def records(self, name: str = "") -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if name in h.path]


class _Handler(QuietHandler):
    server_ref: HostileServer
    def do_GET(self) -> None:
        srv = self.server_ref
        path = urlsplit(self.path).path
        hit = Hit(path=path, range=self.headers.get("Range"))
        with srv._lock:
            srv.hits.append(hit)
        f = srv.files.get(unquote(path).removeprefix("/files/"))
        if f is None:
            hit.status = 404
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        rng = self.headers.get("Range") or ""
        if rng.startswith("bytes=") and not f.endless:
            start = int(rng[6:].split("-")[0] or 0)
        with srv._lock:
            trickle = f.trickle_interval > 0 and f.trickle_times > 0
            if trickle:
                f.trickle_times -= 1
        hit.status = 206 if start else 200
        self.send_response(hit.status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{f.name}-{f.size}"')
        if f.declared is not None and not f.endless:
            declared = f.size if f.declared == -1 else f.declared
            self.send_header("Content-Length", str(declared - start))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        if start:
            total = "*" if f.declared is None or f.endless else str(f.size if f.declared == -1 else f.declared)
            self.send_header("Content-Range", f"bytes {start}-{max(start, f.size - 1)}/{total}")
        self.end_headers()
        # what is really sent: the real size (whatever Content-Length claimed), or until the cap if endless
        end = start + f.endless_cap if f.endless else f.size
        self._send(f, hit, start, end, trickle)

    def _send(self, f: HostileFile, hit: Hit, start: int, end: int, trickle: bool) -> None:
        srv = self.server_ref
        offset = start
        try:
            while offset < end and not srv.stopping.is_set():
                slow = trickle and offset - start >= f.fast_bytes
                step = f.trickle_chunk if slow else _BLOCK
                if trickle and not slow:
                    step = min(step, start + f.fast_bytes - offset)
                data = f.read(offset, min(step, end - offset))
                self.wfile.write(data)
                self.wfile.flush()
                offset += len(data)
                with srv._lock:
                    hit.bytes_sent += len(data)
                if slow:
                    time.sleep(f.trickle_interval)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
