"""The download engine: stream to a staged ``.part`` file, resume with ``Range``, verify, place.

One call of :func:`download` fetches one file:

1. If the target already exists with the expected hash (or, without a known hash, the
   expected size) nothing is downloaded. A target that does not match is moved to
   quarantine first, never overwritten.
2. Every attempt starts again from the *original* URL, so expiring signed URLs (Civitai's
   R2 links, Hugging Face's CDN links) are fetched fresh; each redirect hop is checked
   against the host policy and the token is only sent to its own host.
3. An existing ``.part`` is resumed with ``Range: bytes=<have>-``; a 200 answer restarts it,
   a changed ``ETag`` restarts it, a 206 is appended.
4. The body is received into pooled buffers; one thread writes them, another hashes them.
5. Then size, sha256 (against the plan's hash, else the server's ``X-Linked-Etag``, else the
   computed hash is only recorded), header (safetensors must parse; HTML is rejected) and, for
   pickle formats, a picklescan pass; a failure quarantines the staged file.
6. The verified file is hard-linked into place and the staged name removed.

Status codes end the download with a specific error: 401/403 on the origin → AuthRequired,
404 → NotFound, 429 (after retries) → RateLimited, 5xx (after retries) → UpstreamError, an
HTML page → AuthRequired/UpstreamError, a bad hash/header → IntegrityError.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import queue
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from comfyfixer.tools.download import staging, transport
from comfyfixer.tools.download.hosts import HostPolicy
from comfyfixer.tools.download.verify import (
    PICKLE_SUFFIXES,
    PickleScan,
    check_header,
    norm_sha256,
    scan_pickle,
)
from comfyfixer.tools.errors import (
    AuthRequired,
    ComfyFixerError,
    HTTPError,
    IntegrityError,
    NotFound,
    RateLimited,
    TransportError,
    UnsafePathError,
    UpstreamError,
)
from comfyfixer.tools.http import RetryPolicy, parse_retry_after
from comfyfixer.tools.paths import ensure_under, safe_filename

log = logging.getLogger(__name__)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_HOPS = 10
READ_CHUNK = 1 << 20
FREE_SPACE_MARGIN = 64 << 20


class DownloadRequest(BaseModel):
    """What to fetch and where to put it."""

    url: str = Field(description="The source URL (Civitai /api/download/..., HF /resolve/..., or a direct https URL).")
    target: Path = Field(description="Absolute path of the final file (already checked by the caller).")
    allowed_roots: list[Path] = Field(description="Folders the target, staging and quarantine must lie in.")
    staging_dir: Path = Field(description="Folder for the .part file and its sidecar.")
    quarantine_dir: Path = Field(description="Folder rejected files are moved to.")
    expected_size: int | None = Field(default=None, description="Size in bytes from the source, if known.")
    expected_sha256: str | None = Field(default=None, description="sha256 from the source, if known (any case).")
    max_bytes: int | None = Field(default=None, description="Refuse files larger than this.")
    allow_unsafe_pickle: bool = Field(default=False, description="Place pickle files even if picklescan flags them.")
    label: str = Field(default="", description="Short name for progress and messages.")


class DownloadResult(BaseModel):
    """What happened, with enough detail for the journal."""

    status: Literal["downloaded", "already_present"]
    target: Path
    size: int
    sha256: str
    sha256_checked_against: Literal["plan", "server", "none"] = Field(
        description="Where the expected hash came from; 'none' means the hash was only recorded."
    )
    bytes_transferred: int = 0
    resumed_from: int = 0
    attempts: int = 0
    header: str = ""
    pickle_scan: PickleScan | None = None
    quarantined: list[str] = Field(default_factory=list)
    server_filename: str | None = None
    final_host: str | None = None


class Progress:
    """Progress callbacks; the default does nothing. ``total`` may be unknown (None)."""

    def start(self, total: int | None, completed: int) -> None:
        return None

    def advance(self, n: int) -> None:
        return None

    def event(self, kind: str, details: dict[str, Any]) -> None:
        """A change on disk the caller should journal (``quarantine``)."""
        return None


class _Retry(Exception):
    """An attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, *, wait: float | None = None, final: HTTPError | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.final = final


class _Restart(Exception):
    """The staged bytes are unusable (server ignored Range or the file changed): start from 0."""


class _Pipeline:
    """Writes and hashes each received buffer on two threads while the caller keeps reading the socket.

    Socket reads, file writes and sha256 all release the GIL, so on two cores the three overlap
    and the slowest of them, not their sum, sets the pace. Buffers come from a small pool and go
    back once both threads are done with them. Both threads see the buffers in order, so the
    file and the hash always cover the same bytes unless a write fails (then the caller rehashes).
    """

    def __init__(self, fd: int, hasher: Any, buffers: int = 8, size: int = READ_CHUNK) -> None:
        self.fd = fd
        self.hasher = hasher
        self.written = 0
        self.hashed = 0
        self.error: OSError | None = None
        self._lock = threading.Lock()
        self._free: queue.Queue[list[Any]] = queue.Queue()
        for _ in range(buffers):
            self._free.put([bytearray(size), 0])
        self._to_write: queue.Queue[tuple[list[Any], int] | None] = queue.Queue()
        self._to_hash: queue.Queue[tuple[list[Any], int] | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._write_loop, name="download-write", daemon=True),
                         threading.Thread(target=self._hash_loop, name="download-hash", daemon=True)]
        for t in self._threads:
            t.start()

    def _release(self, slot: list[Any]) -> None:
        with self._lock:
            slot[1] -= 1
            done = slot[1] == 0
        if done:
            self._free.put(slot)

    def _write_loop(self) -> None:
        while (item := self._to_write.get()) is not None:
            slot, n = item
            if self.error is None:
                try:
                    _write_chunk(self.fd, memoryview(slot[0])[:n])
                    self.written += n
                except OSError as exc:
                    self.error = exc
            self._release(slot)

    def _hash_loop(self) -> None:
        while (item := self._to_hash.get()) is not None:
            slot, n = item
            self.hasher.update(memoryview(slot[0])[:n])
            self.hashed += n
            self._release(slot)

    def take(self) -> list[Any]:
        return self._free.get()

    def submit(self, slot: list[Any], n: int) -> None:
        slot[1] = 2
        self._to_write.put((slot, n))
        self._to_hash.put((slot, n))

    def give_back(self, slot: list[Any]) -> None:
        self._free.put(slot)

    def close(self) -> None:
        self._to_write.put(None)
        self._to_hash.put(None)
        for t in self._threads:
            t.join()


def _write_chunk(fd: int, chunk: memoryview) -> None:
    while chunk:
        written = os.write(fd, chunk)
        chunk = chunk[written:]


def _fill(resp: transport.Response, buf: bytearray) -> int:
    """Read until ``buf`` is full or the body ends (fewer, larger chunks: less per-chunk overhead)."""
    view = memoryview(buf)
    got = 0
    while got < len(buf):
        n = resp.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _redact(url: httpx.URL | str) -> str:
    u = httpx.URL(str(url))
    return str(u.copy_with(query=None, fragment=None))


_DISPOSITION = re.compile(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)


def disposition_filename(header: str | None) -> str | None:
    """The file name a ``Content-Disposition`` header proposes, checked; raises UnsafePathError if unsafe."""
    if not header:
        return None
    m = _DISPOSITION.search(header)
    if not m:
        return None
    from urllib.parse import unquote

    return safe_filename(unquote(m.group(1).strip()), what="Content-Disposition file name")


class Downloader:
    """Downloads files under a host policy; thread-safe (one connection per request), use from a pool."""

    def __init__(self, policy: HostPolicy, *, timeout: float = 30.0, retry: RetryPolicy | None = None) -> None:
        self.policy = policy
        self.timeout = timeout
        self.retry = retry or RetryPolicy(retries=4, base=0.5, cap=30.0)

    def close(self) -> None:
        return None

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public -------------------------------------------------------------------
    def download(self, req: DownloadRequest, progress: Progress | None = None) -> DownloadResult:
        """Fetch ``req.url`` into ``req.target``; see the module docstring for the steps."""
        progress = progress or Progress()
        roots = req.allowed_roots
        target = ensure_under(req.target, roots, what="download target")
        ensure_under(req.staging_dir, roots, what="staging folder")
        ensure_under(req.quarantine_dir, roots, what="quarantine folder")
        self.policy.check(req.url)
        expected_sha = norm_sha256(req.expected_sha256)
        if req.expected_sha256 and expected_sha is None:
            raise IntegrityError(f"{req.label or target.name}: the plan's sha256 {req.expected_sha256!r} is malformed")
        identity = f"{req.url}|{expected_sha or ''}|{req.expected_size or ''}"
        part, meta_path = staging.part_paths(req.staging_dir, target, identity)
        quarantined: list[str] = []

        if target.exists() or target.is_symlink():
            present = self._check_existing(req, target, expected_sha, part, meta_path, quarantined, progress)
            if present is not None:
                return present

        req.staging_dir.mkdir(parents=True, exist_ok=True)
        with staging.exclusive(part, what=req.label or target.name):
            return self._download_locked(req, target, part, meta_path, identity, expected_sha, quarantined, progress)

    def _download_locked(self, req: DownloadRequest, target: Path, part: Path, meta_path: Path, identity: str,
                         expected_sha: str | None, quarantined: list[str], progress: Progress) -> DownloadResult:
        meta = staging.read_meta(meta_path)
        if meta.get("identity") != identity and part.exists():
            log.info("staged file %s belongs to another download; starting over", part.name)
            part.unlink()
        meta = {"identity": identity, "url": _redact(req.url), "target": str(target),
                "expected_sha256": expected_sha, "expected_size": req.expected_size, **{
                    k: v for k, v in meta.items() if k in ("etag", "server_sha256", "total")}}
        staging.write_meta(meta_path, meta)

        resumed_from = part.stat().st_size if part.exists() else 0
        state = _State(hasher=None, hashed=0, transferred=0, attempts=0)
        info: dict[str, Any] = {}
        failures = 0
        while True:
            state.attempts += 1
            before = state.transferred
            try:
                self._attempt(req, part, meta_path, meta, state, info, progress)
                break
            except _Restart:
                part.unlink(missing_ok=True)
                state.hasher, state.hashed = None, 0
                meta.pop("etag", None)
                staging.write_meta(meta_path, meta)
                failures += 1
            except _Retry as r:
                made_progress = state.transferred > before
                failures = 0 if made_progress else failures + 1
                if failures > self.retry.retries:
                    if r.final is not None:
                        raise r.final from None
                    raise TransportError(
                        f"{req.label or target.name}: download failed after {state.attempts} attempts ({r.reason})",
                        url=_redact(req.url),
                        hint="run the plan again later; the partial file is kept and will be resumed",
                    ) from None
                if not made_progress:
                    self.retry.sleep(self.retry.delay(failures - 1, r.wait))
                log.info("%s: %s; retrying (attempt %d)", req.label or target.name, r.reason, state.attempts + 1)
            if failures > self.retry.retries + 1:
                raise UpstreamError(f"{req.label or target.name}: the server keeps changing the file; giving up",
                                    url=_redact(req.url))

        return self._finish(req, target, part, meta_path, meta, expected_sha, state, info, resumed_from, quarantined,
                            progress)

    # --- steps ----------------------------------------------------------------------
    def _check_existing(self, req: DownloadRequest, target: Path, expected_sha: str | None, part: Path,
                        meta_path: Path, quarantined: list[str], progress: Progress) -> DownloadResult | None:
        from comfyfixer.tools.download.verify import sha256_file

        if target.is_symlink() or not target.is_file():
            raise UnsafePathError(f"{target} exists but is not a regular file; left untouched")
        size = target.stat().st_size
        digest = sha256_file(target)
        same = digest == expected_sha if expected_sha else (req.expected_size is None or size == req.expected_size)
        if same:
            # a complete earlier run may have been interrupted before removing its staged copy
            part.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return DownloadResult(status="already_present", target=target, size=size, sha256=digest,
                                  sha256_checked_against="plan" if expected_sha else "none")
        why = f"sha256 {digest} != expected {expected_sha}" if expected_sha else f"size {size} != expected {req.expected_size}"
        dest = staging.quarantine(target, req.quarantine_dir, f"existing file did not match: {why}",
                                  {"sha256": digest, "size": size})
        log.warning("moved mismatching %s to quarantine %s", target, dest)
        quarantined.append(str(dest))
        progress.event("quarantine", {"path": str(target), "moved_to": str(dest), "reason": why,
                                      "sha256": digest, "size": size})
        return None

    def _open(self, req: DownloadRequest, start: int, info: dict[str, Any]) -> transport.Response:
        """GET with Range, following redirects by hand so every hop is checked."""
        url = self.policy.check(req.url)
        origin_host = url.host
        tokens = self.policy.chain(url)  # a token only while the chain is still on the first URL's origin
        for _hop in range(MAX_HOPS):
            self.policy.check(url)
            headers = {"Accept-Encoding": "identity"}
            token = tokens.token_for(url)
            if token:
                headers["Authorization"] = f"Bearer {token}"
            if url.host == origin_host:
                # Civitai answers auth failures as JSON (not an HTML login page) when asked for JSON
                headers["Content-Type"] = "application/json"
            if start:
                headers["Range"] = f"bytes={start}-"
            try:
                resp = transport.get(url, headers, self.timeout)
            except transport.TransportFailure as exc:
                raise _Retry(str(exc)) from None
            linked = norm_sha256(resp.headers.get("X-Linked-Etag"))
            if linked:
                info["server_sha256"] = linked
            if resp.header("X-Linked-Size").isdigit():
                info["server_size"] = int(resp.headers["X-Linked-Size"])
            if resp.status_code in REDIRECTS and "Location" in resp.headers:
                nxt = url.join(resp.header("Location"))
                resp.close()
                info["redirected"] = True
                url = nxt
                continue
            info["final_host"] = url.host
            info["origin"] = url.host == origin_host
            info["sent_token"] = bool(token)
            return resp
        raise UpstreamError(f"too many redirects for {_redact(req.url)}", url=_redact(req.url))

    def _attempt(self, req: DownloadRequest, part: Path, meta_path: Path, meta: dict[str, Any],
                 state: _State, info: dict[str, Any], progress: Progress) -> None:
        have = part.stat().st_size if part.exists() else 0
        resp = self._open(req, have, info)
        with resp:
            status = resp.status_code
            if status == 416 and have:
                total = _total_from_content_range(resp.headers.get("Content-Range"))
                if total == have:
                    info["total"] = total
                    self._ensure_hash(part, state, have)
                    progress.start(total, have)
                    return
                raise _Restart()
            if status >= 400:
                self._raise_status(req, resp, info)
            if _is_html(resp):
                resp.read_small()
                who = req.label or req.target.name
                if info.get("redirected") and not info.get("sent_token"):
                    raise AuthRequired(f"{who}: the server sent a login page instead of the file",
                                       url=_redact(req.url), status=status,
                                       hint="this source needs a token: set COMFYFIXER_CIVITAI_TOKEN or HF_TOKEN")
                raise UpstreamError(f"{who}: the server sent an HTML page instead of the file",
                                    url=_redact(req.url), status=status, hint="check the URL; nothing was saved")
            if status == 206:
                start, total = _parse_content_range(resp.headers.get("Content-Range"))
                if start != have:
                    raise _Restart()
                etag = resp.headers.get("ETag")
                if have and etag and meta.get("etag") and etag != meta["etag"]:
                    log.info("%s changed on the server (ETag); restarting", req.target.name)
                    raise _Restart()
            elif status == 200:
                if have:
                    log.info("%s: server ignored Range; restarting from 0", req.target.name)
                    part.unlink(missing_ok=True)
                    state.hasher, state.hashed = None, 0
                    have = 0
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            else:
                raise UpstreamError(f"unexpected HTTP {status} for {req.target.name}", url=_redact(req.url), status=status)
            if resp.headers.get("ETag"):
                meta["etag"] = resp.headers["ETag"]
            if info.get("server_sha256"):
                meta["server_sha256"] = info["server_sha256"]
            try:
                info["server_filename"] = disposition_filename(resp.headers.get("Content-Disposition"))
            except UnsafePathError as exc:
                log.warning("ignoring unsafe Content-Disposition name: %s", exc)
                info["server_filename"] = None
            self._check_sizes(req, total, info)
            meta["total"] = total
            staging.write_meta(meta_path, meta)
            info["total"] = total
            if total is not None:
                need = total - have
                free = _free_bytes(part.parent)
                if need + FREE_SPACE_MARGIN > free:
                    raise ComfyFixerError(
                        f"{req.target.name}: not enough disk space ({need / 1e9:.2f} GB needed, "
                        f"{free / 1e9:.2f} GB free on {part.parent})",
                        hint="free some space and run the plan again; the partial file is kept")
            progress.start(total, have)
            self._stream(req, resp, part, have, total, state, progress)

    def _ensure_hash(self, part: Path, state: _State, have: int) -> None:
        if state.hasher is not None and state.hashed == have:
            return
        h = hashlib.sha256()
        with open(part, "rb") as fh:
            remaining = have
            while remaining:
                block = fh.read(min(4 << 20, remaining))
                if not block:
                    break
                h.update(block)
                remaining -= len(block)
        state.hasher, state.hashed = h, have

    def _stream(self, req: DownloadRequest, resp: transport.Response, part: Path, have: int, total: int | None,
                state: _State, progress: Progress) -> None:
        if have:
            self._ensure_hash(part, state, have)
        else:
            state.hasher, state.hashed = hashlib.sha256(), 0
        cap = req.max_bytes
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if have else os.O_TRUNC) | getattr(os, "O_BINARY", 0)
        fd = os.open(part, flags, 0o644)
        got = 0
        error: BaseException | None = None
        if os.lseek(fd, 0, os.SEEK_END) != have:  # the file changed under us; never append at a wrong offset
            os.close(fd)
            raise _Restart()
        pipe = _Pipeline(fd, state.hasher)
        try:
            while pipe.error is None:
                slot = pipe.take()
                try:
                    n = _fill(resp, slot[0])
                except transport.TransportFailure as exc:
                    pipe.give_back(slot)
                    error = exc
                    break
                if not n:
                    pipe.give_back(slot)
                    break
                pipe.submit(slot, n)
                got += n
                progress.advance(n)
                if cap is not None and have + got > cap:
                    raise IntegrityError(f"{req.target.name}: larger than the allowed {cap} bytes; stopped",
                                         hint="raise max_download_bytes if you trust this file")
        finally:
            pipe.close()
            os.close(fd)
            # if a write failed the hash ran ahead of the file: the next attempt rehashes what is on disk
            state.hashed = have + (pipe.hashed if pipe.error is None else -1)
            state.transferred += pipe.written
        if pipe.error is not None:
            if pipe.error.errno == errno.ENOSPC:
                raise ComfyFixerError(
                    f"{req.target.name}: disk full while writing {part.parent}",
                    hint="free some space and run the plan again; the partial file is kept")
            raise pipe.error
        if error is not None:
            raise _Retry(f"connection lost after {have + got} bytes ({error})")
        if total is not None and have + got < total:
            raise _Retry(f"connection closed after {have + got} of {total} bytes")

    def _check_sizes(self, req: DownloadRequest, total: int | None, info: dict[str, Any]) -> None:
        name = req.target.name
        if total is not None and req.expected_size is not None and total != req.expected_size:
            raise IntegrityError(f"{name}: the server offers {total} bytes but the plan expects {req.expected_size}",
                                 hint="the file changed at the source; re-run `comfyfixer fix` to refresh the plan")
        if total is not None and req.max_bytes is not None and total > req.max_bytes:
            raise IntegrityError(f"{name}: {total} bytes is over the per-download cap of {req.max_bytes}",
                                 hint="raise max_download_bytes if you trust this file")

    def _raise_status(self, req: DownloadRequest, resp: transport.Response, info: dict[str, Any]) -> None:
        status = resp.status_code
        excerpt = resp.read_small(2048).decode("utf-8", "replace")[:200] or None
        name = req.label or req.target.name
        url = _redact(req.url)
        kw: dict[str, Any] = {"url": url, "status": status, "body_excerpt": excerpt}
        if status in (401, 403) and info.get("origin", True):
            hint = ("set the source's token (COMFYFIXER_CIVITAI_TOKEN / HF_TOKEN)" if not info.get("sent_token")
                    else "the token was refused or lacks access (gated model: accept its license on the website)")
            raise AuthRequired(f"{name}: the source refused access ({status})", hint=hint, **kw)
        if status == 403:
            # the signed storage URL expired or was used up: ask the origin for a fresh one
            raise _Retry("signed URL refused (403); requesting a fresh one",
                         final=AuthRequired(f"{name}: storage refused access (403)", **kw))
        if status in (404, 410):
            raise NotFound(f"{name}: the source has no such file ({status})",
                           hint="the model may have been removed; re-run `comfyfixer fix` to resolve it again", **kw)
        if status == 429:
            wait = parse_retry_after(resp.header("Retry-After") or None)
            raise _Retry("rate limited (429)", wait=wait, final=RateLimited(
                f"{name}: the source is rate limiting downloads (429)", retry_after=wait,
                hint="wait a few minutes and run the plan again", **kw))
        if status >= 500 or status == 408:
            raise _Retry(f"server error {status}", final=UpstreamError(
                f"{name}: the source failed ({status})", hint="try again later", **kw))
        raise HTTPError(f"{name}: the source rejected the request ({status})", **kw)

    def _finish(self, req: DownloadRequest, target: Path, part: Path, meta_path: Path, meta: dict[str, Any],
                expected_sha: str | None, state: _State, info: dict[str, Any], resumed_from: int,
                quarantined: list[str], progress: Progress) -> DownloadResult:
        size = part.stat().st_size
        self._ensure_hash(part, state, size)
        assert state.hasher is not None
        digest = state.hasher.hexdigest()
        server_sha = norm_sha256(info.get("server_sha256") or meta.get("server_sha256"))
        checked: Literal["plan", "server", "none"] = "plan" if expected_sha else "server" if server_sha else "none"
        want = expected_sha or server_sha
        name = req.label or target.name
        details = {"sha256": digest, "size": size, "url": _redact(req.url)}

        def reject(reason: str, hint: str) -> IntegrityError:
            dest = staging.quarantine(part, req.quarantine_dir, reason, details)
            meta_path.unlink(missing_ok=True)
            quarantined.append(str(dest))
            progress.event("quarantine", {"path": str(part), "moved_to": str(dest), "reason": reason, **details})
            return IntegrityError(f"{name}: {reason}; moved to {dest}", hint=hint)

        if req.expected_size is not None and size != req.expected_size:
            raise reject(f"size {size} != expected {req.expected_size}", "re-run the plan to download it again")
        if want and digest != want:
            raise reject(f"sha256 mismatch (got {digest[:12]}…, expected {want[:12]}…)",
                         "the source served different bytes; re-run `comfyfixer fix` or report it to the uploader")
        suffix = target.suffix.lower()
        try:
            header = check_header(part, suffix)
        except IntegrityError as exc:
            raise reject(exc.message, exc.hint or "check the source") from None
        scan: PickleScan | None = None
        if suffix in PICKLE_SUFFIXES:
            scan = scan_pickle(part, suffix)
            if scan.verdict != "clean" and not req.allow_unsafe_pickle:
                what = ", ".join(scan.dangerous_globals) or "a file picklescan could not read"
                raise reject(f"refused: picklescan flagged {what}",
                             "prefer a .safetensors version; only allow this file if you trust its author")
        staging.place(part, target)
        meta_path.unlink(missing_ok=True)
        return DownloadResult(
            status="downloaded", target=target, size=size, sha256=digest, sha256_checked_against=checked,
            bytes_transferred=state.transferred, resumed_from=resumed_from, attempts=state.attempts,
            header=header, pickle_scan=scan, quarantined=quarantined,
            server_filename=info.get("server_filename"), final_host=info.get("final_host"),
        )


class _State:
    def __init__(self, hasher: Any, hashed: int, transferred: int, attempts: int) -> None:
        self.hasher = hasher
        self.hashed = hashed
        self.transferred = transferred
        self.attempts = attempts


def _is_html(resp: transport.Response) -> bool:
    return "text/html" in resp.header("Content-Type").lower()


def _parse_content_range(value: str | None) -> tuple[int, int | None]:
    m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", value or "")
    if not m:
        return -1, None
    return int(m.group(1)), None if m.group(3) == "*" else int(m.group(3))


def _total_from_content_range(value: str | None) -> int | None:
    m = re.match(r"bytes \*/(\d+)", value or "")
    return int(m.group(1)) if m else None


__all__ = ["DownloadRequest", "DownloadResult", "Downloader", "Progress", "disposition_filename"]
