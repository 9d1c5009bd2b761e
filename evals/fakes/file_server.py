"""A loopback HTTP file server that behaves like the download hosts we meet in the wild.

Serves generated files (any size, written once to a folder) with ``Range`` support via
``sendfile``, and imitates:

* **Civitai** ``/api/download/models/<id>``: without the token a JSON request gets 401
  ``{"error":"Unauthorized"}`` and any other request a 302 to an HTML login page; with the
  token a 302 to a *signed, expiring* URL on another host (``localhost`` instead of
  ``127.0.0.1``) that carries ``Content-Disposition`` with Civitai's renamed file name.
* **Hugging Face** ``/<repo>/resolve/<rev>/<file>``: 302 with ``X-Linked-Etag`` (sha256),
  ``X-Linked-Size`` and ``X-Repo-Commit`` to a CDN URL whose ``ETag`` is a different hash.
* faults on demand, per file: drop the connection after N bytes (a number of times), stall
  after N bytes until released (for kill tests), throttle, answer a fixed status (401, 403,
  404, 429 with ``Retry-After``, 500), serve an HTML page, serve bytes that do not match the
  advertised hash.
* a static folder (``/static/...``) so ``git clone`` works over git's "dumb" HTTP protocol.

Every request is recorded (method, host, path, Range, whether an Authorization header came,
status, bytes sent) so tests and benchmarks can check what went over the wire.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

__all__ = ["FileServer", "RequestRecord", "ServedFile", "generate_file"]

LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in | Civitai</title></head>"
    b"<body><form action='/login'>Please sign in to download this model.</form></body></html>"
)


def safetensors_header(size: int) -> bytes:
    """A valid safetensors prefix for a file of ``size`` bytes holding one U8 tensor (header space-padded)."""

    def header(payload: int) -> str:
        return json.dumps({"__metadata__": {"format": "pt"},
                           "weights": {"dtype": "U8", "shape": [payload], "data_offsets": [0, payload]}})

    width = len(header(size))  # the widest the header can get
    payload = size - 8 - width
    if payload <= 0:
        raise ValueError(f"{size} bytes is too small for a safetensors file")
    text = header(payload).ljust(width)
    return width.to_bytes(8, "little") + text.encode()


def generate_file(path: Path, size: int, seed: int = 0, *, safetensors: bool = False) -> str:
    """Write ``size`` deterministic pseudo-random bytes to ``path``; return their sha256 (hex).

    A 1 MiB block derived from ``seed`` is repeated with a per-block counter mixed in, so the
    content is not trivially compressible and any two blocks differ. With ``safetensors`` the
    file starts with a valid safetensors header covering the rest. Reuses an existing file of
    the same size, seed and kind (the sha256 is cached next to it).
    """
    meta = path.with_name(path.name + ".sha256")
    tag = f"{size}:{seed}:{int(safetensors)}"
    if path.exists() and meta.exists():
        stored = meta.read_text().split()
        if len(stored) == 2 and stored[0] == tag and path.stat().st_size == size:
            return stored[1]
    block = bytearray(hashlib.sha256(f"seed{seed}".encode()).digest() * (1 << 15))  # 1 MiB
    h = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        written = 0
        counter = 0
        if safetensors:
            head = safetensors_header(size)
            fh.write(head)
            h.update(head)
            written = len(head)
        while written < size:
            block[:8] = counter.to_bytes(8, "little")
            chunk = block[: min(len(block), size - written)]
            fh.write(chunk)
            h.update(chunk)
            written += len(chunk)
            counter += 1
    digest = h.hexdigest()
    meta.write_text(f"{tag} {digest}")
    return digest


@dataclass
class ServedFile:
    """One file the server can hand out, with its faults."""

    name: str
    path: Path
    size: int
    sha256: str
    content_type: str = "application/octet-stream"
    disposition_name: str | None = None
    advertised_sha256: str | None = None  # what HF-style headers claim (wrong-hash case)
    fail_after: int | None = None  # drop the connection after this many body bytes...
    fail_times: int = 0  # ...this many times
    stall_after: int | None = None  # stop sending after this many bytes until released
    rate: int | None = None  # bytes per second
    status: int | None = None  # answer this status instead of the file
    retry_after: str | None = None
    ignore_range: bool = False  # answer 200 with the whole file even to a Range request
    stall_release: threading.Event = field(default_factory=threading.Event)


@dataclass
class RequestRecord:
    method: str
    host: str
    path: str
    range: str | None
    authorization: bool
    status: int = 0
    bytes_sent: int = 0


class FileServer(LoopbackServer):
    """Loopback server; use as a context manager. ``api`` host is 127.0.0.1, ``storage`` host is localhost."""

    def __init__(self, folder: Path, *, civitai_token: str | None = "civitai-test-token",
                 hf_token: str | None = None, signed_uses: int = 1, signed_ttl: float = 300.0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.civitai_token = civitai_token
        self.hf_token = hf_token
        self.signed_uses = signed_uses
        self.signed_ttl = signed_ttl
        self.files: dict[str, ServedFile] = {}
        self.civitai: dict[str, str] = {}  # version id -> file name
        self.hf: dict[str, str] = {}  # "repo/resolve/rev/file" -> file name
        self.static: dict[str, Path] = {}
        # while set, static requests whose path contains this text wait for static_release (kill tests)
        self.static_stall: str | None = None
        self.static_release = threading.Event()
        self.requests: list[RequestRecord] = []
        self._signed: dict[str, tuple[str, int, float]] = {}  # sig -> (name, uses left, deadline)
        self._lock = threading.Lock()
        super().__init__()

    # --- setup ----------------------------------------------------------------
    def add_file(self, name: str, size: int = 0, *, seed: int = 0, data: bytes | None = None,
                 **options: object) -> ServedFile:
        path = self.folder / "files" / name
        if data is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            size = len(data)
        else:
            digest = generate_file(path, size, seed,
                                   safetensors=name.lower().endswith((".safetensors", ".sft")))
        served = ServedFile(name=name, path=path, size=size, sha256=digest)
        for key, value in options.items():
            setattr(served, key, value)
        self.files[name] = served
        return served

    def add_civitai(self, version_id: int | str, name: str) -> str:
        self.civitai[str(version_id)] = name
        return f"{self.api_url}/api/download/models/{version_id}"

    def add_hf(self, repo: str, filename: str, name: str, revision: str = "main") -> str:
        key = f"{repo}/resolve/{revision}/{filename}"
        self.hf[key] = name
        return f"{self.api_url}/{key}"

    def add_static(self, prefix: str, folder: Path) -> str:
        self.static[prefix.strip("/")] = Path(folder)
        return f"{self.api_url}/static/{prefix.strip('/')}"

    def direct_url(self, name: str, *, storage: bool = False) -> str:
        return f"{self.storage_url if storage else self.api_url}/files/{quote(name)}"

    # --- lifecycle ---------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def storage_url(self) -> str:
        return f"http://localhost:{self.port}"

    thread_name = "file-server"
    poll_interval = 0.05

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"server_ref": self})

    def before_stop(self) -> None:
        self.static_release.set()
        for f in self.files.values():
            f.stall_release.set()

    # --- introspection -----------------------------------------------------------------
    def bytes_sent(self, name: str | None = None) -> int:
        with self._lock:
            return sum(r.bytes_sent for r in self.requests
                       if name is None or r.path.endswith("/" + quote(name)) or r.path.endswith("/" + name))

    def records(self, contains: str = "") -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.requests if contains in r.path]

    def reset_records(self) -> None:
        with self._lock:
            self.requests.clear()

    def _sign(self, name: str) -> str:
        sig = secrets.token_hex(8)
        with self._lock:
            self._signed[sig] = (name, self.signed_uses, time.monotonic() + self.signed_ttl)
        return f"{self.storage_url}/signed/{quote(name)}?sig={sig}"

    def _use_signature(self, sig: str) -> str | None:
        with self._lock:
            entry = self._signed.get(sig)
            if entry is None:
                return None
            name, uses, deadline = entry
            if uses <= 0 or time.monotonic() > deadline:
                return None
            self._signed[sig] = (name, uses - 1, deadline)
            return name


class _Handler(QuietHandler):
    server_ref: FileServer
    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    # --- helpers -----------------------------------------------------------------
    def _record(self) -> RequestRecord:
        rec = RequestRecord(
            method=self.command,
            host=(self.headers.get("Host") or "").split(":")[0],
            path=urlsplit(self.path).path,
            range=self.headers.get("Range"),
            authorization="Authorization" in self.headers,
        )
        with self.server_ref._lock:
            self.server_ref.requests.append(rec)
        return rec

    def _simple(self, rec: RequestRecord, status: int, body: bytes = b"", ctype: str = "application/json",
                headers: dict[str, str] | None = None, head: bool = False) -> None:
        rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def _dispatch(self, head: bool) -> None:
        srv = self.server_ref
        rec = self._record()
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        auth = self.headers.get("Authorization", "")
        if path == "/login":
            return self._simple(rec, 200, LOGIN_PAGE, "text/html; charset=utf-8", head=head)
        if path.startswith("/api/download/models/"):
            vid = path.rsplit("/", 1)[-1]
            name = srv.civitai.get(vid)
            if name is None:
                return self._simple(rec, 404, b'{"error":"Model not found"}', head=head)
            if srv.civitai_token and auth != f"Bearer {srv.civitai_token}":
                if "application/json" in self.headers.get("Content-Type", ""):
                    return self._simple(rec, 401, b'{"error":"Unauthorized"}', head=head)
                return self._simple(rec, 307, b"", headers={"Location": "/login?returnUrl=" + quote(path)}, head=head)
            return self._simple(rec, 302, b"", headers={"Location": srv._sign(name)}, head=head)
        if path.startswith("/signed/"):
            name = srv._use_signature((query.get("sig") or [""])[0])
            if name is None:
                body = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
                return self._simple(rec, 403, body, "application/xml", head=head)
            return self._serve(rec, srv.files[name], head, disposition=True)
        if "/resolve/" in path:
            key = path.lstrip("/")
            name = srv.hf.get(key)
            if name is None:
                return self._simple(rec, 404, b'{"error":"Entry not found"}',
                                    headers={"X-Error-Code": "EntryNotFound"}, head=head)
            if srv.hf_token and auth != f"Bearer {srv.hf_token}":
                return self._simple(rec, 401, b'{"error":"Access to model is restricted."}',
                                    headers={"X-Error-Code": "GatedRepo"}, head=head)
            hf_file = srv.files[name]
            sha = hf_file.advertised_sha256 or hf_file.sha256
            return self._simple(rec, 302, b"", headers={
                "Location": f"{srv.storage_url}/cdn/{quote(name)}?X-Amz-Expires=3600&sig={secrets.token_hex(4)}",
                "X-Linked-Etag": f'"{sha}"',
                "X-Linked-Size": str(hf_file.size),
                "X-Repo-Commit": "0" * 40,
                "ETag": '"' + hashlib.sha1(name.encode()).hexdigest() + '"',
            }, head=head)
        if path.startswith("/cdn/") or path.startswith("/files/"):
            name = path.split("/", 2)[2]
            f = srv.files.get(name)
            if f is None:
                return self._simple(rec, 404, b'{"error":"not found"}', head=head)
            return self._serve(rec, f, head, disposition=path.startswith("/files/"))
        if path.startswith("/static/"):
            return self._static(rec, path[len("/static/"):], head)
        return self._simple(rec, 404, b'{"error":"no such route"}', head=head)

    def _static(self, rec: RequestRecord, rel: str, head: bool) -> None:
        for prefix, folder in self.server_ref.static.items():
            if rel == prefix or rel.startswith(prefix + "/"):
                sub = rel[len(prefix):].lstrip("/")
                target = (folder / sub).resolve()
                if folder.resolve() in target.parents and target.is_file():
                    srv = self.server_ref
                    if srv.static_stall and srv.static_stall in rel:
                        srv.static_release.wait(30)
                    data = target.read_bytes()
                    return self._simple(rec, 200, data, "application/octet-stream", head=head)
        return self._simple(rec, 404, b"not found", "text/plain", head=head)

    def _serve(self, rec: RequestRecord, f: ServedFile, head: bool, *, disposition: bool) -> None:
        if f.status is not None:
            headers = {"Retry-After": f.retry_after} if f.retry_after else {}
            body = json.dumps({"error": f"status {f.status}"}).encode()
            return self._simple(rec, f.status, body, headers=headers, head=head)
        start, end = 0, f.size - 1
        status = 200
        rng = self.headers.get("Range")
        if rng and not f.ignore_range and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first) if first else 0
            end = min(int(last), f.size - 1) if last else f.size - 1
            if start >= f.size:
                return self._simple(rec, 416, b"", headers={"Content-Range": f"bytes */{f.size}"}, head=head)
            status = 206
        length = end - start + 1 if f.size else 0
        rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", f.content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"' + hashlib.md5(f.name.encode()).hexdigest() + '"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{f.size}")
        if disposition and f.disposition_name:
            self.send_header("Content-Disposition", f'attachment; filename="{f.disposition_name}"')
        self.end_headers()
        if head or length == 0:
            return
        self.wfile.flush()
        self._send_body(rec, f, start, length)

    def _send_body(self, rec: RequestRecord, f: ServedFile, start: int, length: int) -> None:
        srv = self.server_ref
        limit = length
        drop = False
        with srv._lock:
            if f.fail_after is not None and f.fail_times > 0:
                f.fail_times -= 1
                limit = max(0, min(length, f.fail_after - start)) if f.fail_after > start else 0
                drop = True
        stall = f.stall_after - start if f.stall_after is not None and f.stall_after > start else None
        sock = self.connection
        offset = start
        sent = 0
        with open(f.path, "rb") as fh:
            while sent < limit:
                if stall is not None and sent >= stall and not f.stall_release.is_set():
                    f.stall_release.wait(0.05)
                    continue
                step = limit - sent
                if stall is not None and sent < stall:
                    step = min(step, stall - sent)
                if f.rate:
                    step = min(step, max(1, f.rate // 20))
                try:
                    n = os.sendfile(sock.fileno(), fh.fileno(), offset, min(step, 1 << 24))
                except (BrokenPipeError, ConnectionResetError):
                    break
                if n == 0:
                    break
                offset += n
                sent += n
                with srv._lock:
                    rec.bytes_sent = sent
                if f.rate:
                    time.sleep(n / f.rate)
        if drop:
            # an abrupt end mid-body: the client sees fewer bytes than Content-Length
            self.close_connection = True
            with contextlib.suppress(OSError):
                sock.shutdown(2)


if __name__ == "__main__":  # pragma: no cover - manual use: serve a folder of generated files
    import argparse

    parser = argparse.ArgumentParser(description="Serve generated files on loopback.")
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--size", type=int, default=64 << 20)
    args = parser.parse_args()
    with FileServer(args.folder) as server:
        server.add_file("model.safetensors", args.size)
        print(server.direct_url("model.safetensors"), flush=True)
        threading.Event().wait()
