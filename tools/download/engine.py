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
   While it streams, three limits hold (see :class:`Downloader` for the numbers):

   * size: a declared size (exact from Hugging Face, or rounded from Civitai or a catalog, within
     a tolerance) is enforced as soon as ``Content-Length`` says otherwise, or as soon as the
     stream passes its upper bound, so a file far larger than announced never fills the disk;
   * pace: every socket read is watched; a body that stays under the minimum rate for a whole
     window, or runs past a deadline derived from its size, ends with :class:`DownloadStalled`
     and the bytes received so far stay in the ``.part`` for the next run to resume;
   * disk: free space is checked before starting (with real numbers and the reserve explained)
     and after every buffer while streaming, stopping before the disk is full.
5. Then size, sha256 (against the plan's hash, else the server's ``X-Linked-Etag``, else the
   computed hash is only recorded), header (safetensors must parse; HTML is rejected) and, for
   anything holding pickle data, the allow-list check of every import; a failure quarantines the
   staged file.
6. The verified file is hard-linked into place and the staged name removed.

Status codes end the download with a specific error: 401/403 on the origin → AuthRequired,
404 → NotFound, 429 (after retries) → RateLimited, 5xx (after retries) → UpstreamError, an
HTML page → AuthRequired/UpstreamError, a bad hash/header/size or a refused pickle → IntegrityError,
too little disk space → DiskFull, a trickling server → DownloadStalled.
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
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from comfyfixer.tools.download import staging, transport
from comfyfixer.tools.download.hosts import HostPolicy
from comfyfixer.tools.download.verify import (
    PickleScan,
    check_header,
    needs_pickle_check,
    norm_sha256,
    scan_pickle,
)
from comfyfixer.tools.errors import (
    AuthRequired,
    DiskFull,
    DownloadStalled,
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
FREE_SPACE_MARGIN = 64 << 20  # default reserve left free on the disk (ComfyUI, the journal and the OS still write)
ROUNDED_SIZE_SLACK = 2 << 10  # a size in whole KiB is off by under 1 KiB (rounded or truncated): allow 2 KiB
MIN_RATE = 16 << 10  # bytes/s: slower than this over a whole window is a stall
STALL_WINDOW = 30.0  # seconds
DEADLINE_SLACK = 120.0  # seconds added to size / MIN_RATE for a file's deadline


def human_bytes(n: int | float) -> str:
    """``n`` bytes in the unit that fits, three significant figures: ``512 B``, ``2.00 KB``, ``64.0 MB``, ``300 GB``."""
    value = float(n)
    unit = "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if abs(value) < 1024:
            break
        value /= 1024
        unit = bigger
    if unit == "B":
        return f"{value:.0f} B"
    return f"{value:.2f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"


def rounded_size_tolerance(source: str) -> float:
    """Relative tolerance for a rounded size: Civitai's float KiB is near-exact; catalog labels ("2.0GB") are not."""
    return 0.01 if source.lower().startswith("civitai") else 0.10


class Disk:
    """Free space and raw writes, the engine's only contact with the disk beyond opening files.

    Tests (and callers with special storage) subclass it to simulate a full or shrinking disk.
    """

    def free_bytes(self, path: Path) -> int:
        """Bytes free for an unprivileged writer on the file system holding ``path``."""
        return shutil.disk_usage(path).free

    def write(self, fd: int, chunk: memoryview) -> None:
        """Write all of ``chunk`` to ``fd`` (raises OSError, ENOSPC when the disk is full)."""
        while chunk:
            written = os.write(fd, chunk)
            chunk = chunk[written:]


class DownloadRequest(BaseModel):
    """What to fetch and where to put it."""

    url: str = Field(description="The source URL (Civitai /api/download/..., HF /resolve/..., or a direct https URL).")
    target: Path = Field(description="Absolute path of the final file (already checked by the caller).")
    allowed_roots: list[Path] = Field(description="Folders the target, staging and quarantine must lie in.")
    staging_dir: Path = Field(description="Folder for the .part file and its sidecar.")
    quarantine_dir: Path = Field(description="Folder rejected files are moved to.")
    expected_size: int | None = Field(default=None, description="Size in bytes from the source, if known.")
    expected_sha256: str | None = Field(default=None, description="sha256 from the source, if known (any case).")
    approx_size: int | None = Field(default=None, description="Rounded size from the source (Civitai's KiB, a "
                                    "catalog label): the file must land within size_tolerance of it.")
    size_tolerance: float = Field(default=0.01, ge=0, description="Relative tolerance for approx_size "
                                  f"(at least {ROUNDED_SIZE_SLACK} bytes either way).")
    max_bytes: int | None = Field(default=None, description="Refuse files larger than this.")
    allow_unsafe_pickle: bool = Field(default=False, description="Place a pickle file even if it imports globals "
                                      "outside the weights allow-list (the user trusts its author).")
    label: str = Field(default="", description="Short name for progress and messages.")
    item: str = Field(default="", description="The plan item id, so messages can say how to approve this file.")


def size_bounds(req: DownloadRequest) -> tuple[int, int] | None:
    """The smallest and largest acceptable size for ``req``, or None if the source gave no size.

    An exact size is its own bound. A rounded one gets ``max(size_tolerance * size, 2 KiB)`` either way:
    Civitai reports float KiB (usually exact to the byte after rounding, at worst to the KiB), catalogs
    labels such as ``4.71GB`` (callers pass a wider tolerance for those, see :func:`rounded_size_tolerance`).
    """
    if req.expected_size is not None:
        return req.expected_size, req.expected_size
    if req.approx_size is None:
        return None
    slack = max(int(req.approx_size * req.size_tolerance), ROUNDED_SIZE_SLACK)
    return max(0, req.approx_size - slack), req.approx_size + slack


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

    def __init__(self, fd: int, hasher: Any, write: Callable[[int, memoryview], None], buffers: int = 8,
                 size: int = READ_CHUNK) -> None:
        self.fd = fd
        self.hasher = hasher
        self.write = write
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
                    self.write(self.fd, memoryview(slot[0])[:n])
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


class _Pace:
    """Watches a body's socket reads: too slow over a whole window, or past the deadline, means stop.

    Samples (time, bytes) are kept about every window/8; the rate is judged between now and the newest
    sample at least one window old, so a short burst of slowness never trips it, only a sustained one.
    """

    def __init__(self, min_rate: int, window: float, deadline: float | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_rate = min_rate
        self.window = window
        self.deadline = deadline
        self.clock = clock
        self.received = 0
        self.started = clock()
        self.samples: deque[tuple[float, int]] = deque([(self.started, 0)])

    def __call__(self, n: int) -> str | None:
        self.received += n
        now = self.clock()
        if self.deadline is not None and now > self.deadline:
            return f"still unfinished after {now - self.started:.0f} s, past its deadline"
        if now - self.samples[-1][0] >= self.window / 8:
            self.samples.append((now, self.received))
        while len(self.samples) > 1 and self.samples[1][0] <= now - self.window:
            self.samples.popleft()
        t0, b0 = self.samples[0]
        span = now - t0
        if span >= self.window and self.received - b0 < self.min_rate * span:
            rate = (self.received - b0) / span
            return (f"slower than {human_bytes(self.min_rate)}/s for {span:.0f} s " if span >= 10 else
                    f"slower than {human_bytes(self.min_rate)}/s for {span:.1f} s ") + f"({human_bytes(rate)}/s)"
        return None


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

    def __init__(self, policy: HostPolicy, *, timeout: float = 30.0, retry: RetryPolicy | None = None,
                 min_rate: int = MIN_RATE, stall_window: float = STALL_WINDOW, deadline_slack: float = DEADLINE_SLACK,
                 reserve_bytes: int = FREE_SPACE_MARGIN, disk: Disk | None = None) -> None:
        """``timeout`` bounds each socket read; ``min_rate`` bytes/s averaged over ``stall_window`` seconds is
        the slowest a body may go, and a file's deadline is ``deadline_slack + size / min_rate`` seconds;
        ``reserve_bytes`` stay free on the disk; ``disk`` measures free space and writes (replace it in tests)."""
        self.policy = policy
        self.timeout = timeout
        self.retry = retry or RetryPolicy(retries=4, base=0.5, cap=30.0)
        self.min_rate = min_rate
        self.stall_window = stall_window
        self.deadline_slack = deadline_slack
        self.reserve_bytes = reserve_bytes
        self.disk = disk or Disk()

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
                self._check_free_space(req, part, total - have, have)
            progress.start(total, have)
            self._stream(req, resp, part, meta_path, have, total, state, progress)

    def _check_free_space(self, req: DownloadRequest, part: Path, need: int, have: int) -> None:
        free = self.disk.free_bytes(part.parent)
        if need + self.reserve_bytes <= free:
            return
        short = need + self.reserve_bytes - free
        kept = f"; the {human_bytes(have)} already downloaded are kept and will be resumed" if have else ""
        raise DiskFull(
            f"{req.label or req.target.name}: needs {human_bytes(need)} more but only {human_bytes(free)} are free on "
            f"{part.parent} (comfyfixer leaves {human_bytes(self.reserve_bytes)} free so ComfyUI and the system can "
            f"still write; {human_bytes(short)} short)",
            needed=need, free=free, hint=f"free at least {human_bytes(short)} there and run the plan again{kept}")

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

    def _stream(self, req: DownloadRequest, resp: transport.Response, part: Path, meta_path: Path, have: int,
                total: int | None, state: _State, progress: Progress) -> None:
        if have:
            self._ensure_hash(part, state, have)
        else:
            state.hasher, state.hashed = hashlib.sha256(), 0
        name = req.label or req.target.name
        bounds = size_bounds(req)
        # the most this body may bring: the cap, the declared size's upper bound, what Content-Length promised
        limits = [v for v in (req.max_bytes, bounds[1] if bounds else None) if v is not None]
        limit = min(limits) if limits else None
        expected_total = total if total is not None else bounds[1] if bounds else None
        deadline = (time.monotonic() + self.deadline_slack + (expected_total - have) / self.min_rate
                    if expected_total is not None and self.min_rate > 0 else None)
        pace = _Pace(self.min_rate, self.stall_window, deadline) if self.min_rate > 0 else None
        resp.watch(pace)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if have else os.O_TRUNC) | getattr(os, "O_BINARY", 0)
        fd = os.open(part, flags, 0o644)
        got = 0
        error: BaseException | None = None
        over: str | None = None
        low_disk: int | None = None
        if os.lseek(fd, 0, os.SEEK_END) != have:  # the file changed under us; never append at a wrong offset
            os.close(fd)
            raise _Restart()
        pipe = _Pipeline(fd, state.hasher, self.disk.write)
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
                if limit is not None and have + got + n > limit:
                    pipe.give_back(slot)
                    over = (f"over the per-download cap of {human_bytes(req.max_bytes)}" if req.max_bytes == limit
                            else self._size_text(req))
                    break
                # free space once this buffer, those still queued and (if known) the rest of the file are on disk
                free = self.disk.free_bytes(part.parent)
                after = free - (got - pipe.written) - (total - have - got if total is not None else n)
                if after < self.reserve_bytes:
                    pipe.give_back(slot)
                    low_disk = free
                    break
                pipe.submit(slot, n)
                got += n
                progress.advance(n)
        finally:
            pipe.close()
            os.close(fd)
            resp.watch(None)
            # if a write failed the hash ran ahead of the file: the next attempt rehashes what is on disk
            state.hashed = have + (pipe.hashed if pipe.error is None else -1)
            state.transferred += pipe.written
        on_disk = have + pipe.written
        if over is not None:
            self._discard(part, meta_path)
            raise IntegrityError(f"{name}: the server sent more than expected ({over}); stopped after "
                                 f"{human_bytes(on_disk)} and deleted the partial file",
                                 hint="the source serves a different file than it announced; re-run `comfyfixer fix` "
                                      "to resolve it again, or raise max_download_bytes if you trust this file")
        if pipe.error is not None:
            if pipe.error.errno == errno.ENOSPC:
                self._discard(part, meta_path)
                raise DiskFull(f"{name}: the disk holding {part.parent} filled up after {human_bytes(on_disk)}; "
                               "deleted the partial file so the disk is usable again",
                               needed=total, free=0, hint="free space there and run the plan again "
                               "(the download starts over)")
            raise pipe.error
        if low_disk is not None:
            if total is not None:
                raise DiskFull(
                    f"{name}: stopped at {human_bytes(on_disk)} of {human_bytes(total)}: only {human_bytes(low_disk)} "
                    f"are left on {part.parent} and comfyfixer keeps {human_bytes(self.reserve_bytes)} free",
                    needed=total - on_disk, free=low_disk,
                    hint=f"free at least {human_bytes(total - on_disk + self.reserve_bytes - low_disk)} there and "
                         f"run the plan again; the download resumes at {human_bytes(on_disk)}")
            self._discard(part, meta_path)
            raise DiskFull(
                f"{name}: stopped at {human_bytes(on_disk)} (the server did not say the size): only "
                f"{human_bytes(low_disk)} are left on {part.parent} and comfyfixer keeps "
                f"{human_bytes(self.reserve_bytes)} free; deleted the partial file",
                free=low_disk, hint=f"free more than {human_bytes(on_disk)} there and run the plan again")
        stopped = resp.stopped
        if stopped is not None:
            raise DownloadStalled(
                f"{name}: the download is {stopped}; stopped at {human_bytes(on_disk)}"
                + (f" of {human_bytes(total)}" if total is not None else ""),
                url=_redact(req.url), hint=f"run the plan again later: it resumes at {human_bytes(on_disk)} "
                                           "(the partial file is kept)")
        if error is not None:
            raise _Retry(f"connection lost after {have + got} bytes ({error})")
        if total is not None and have + got < total:
            raise _Retry(f"connection closed after {have + got} of {total} bytes")

    @staticmethod
    def _discard(part: Path, meta_path: Path) -> None:
        part.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)

    @staticmethod
    def _size_text(req: DownloadRequest) -> str:
        if req.expected_size is not None:
            return f"the source says {req.expected_size} bytes ({human_bytes(req.expected_size)})"
        bounds = size_bounds(req)
        assert bounds is not None and req.approx_size is not None
        return (f"the source says about {human_bytes(req.approx_size)}, so at most "
                f"{bounds[1]} bytes ({human_bytes(bounds[1])})")

    def _check_sizes(self, req: DownloadRequest, total: int | None, info: dict[str, Any]) -> None:
        name = req.target.name
        if total is not None and req.expected_size is not None and total != req.expected_size:
            raise IntegrityError(f"{name}: the server offers {total} bytes but the plan expects {req.expected_size}",
                                 hint="the file changed at the source; re-run `comfyfixer fix` to refresh the plan")
        bounds = size_bounds(req)
        if total is not None and bounds is not None and not bounds[0] <= total <= bounds[1]:
            raise IntegrityError(f"{name}: the server offers {total} bytes ({human_bytes(total)}) but "
                                 f"{self._size_text(req)}; nothing was downloaded",
                                 hint="the source serves a different file than it announced; re-run `comfyfixer fix`")
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
        bounds = size_bounds(req)
        if bounds is not None and not bounds[0] <= size <= bounds[1]:
            raise reject(f"size {size} ({human_bytes(size)}) is not what {self._size_text(req)}",
                         "re-run `comfyfixer fix` to resolve it again")
        if want and digest != want:
            raise reject(f"sha256 mismatch (got {digest[:12]}…, expected {want[:12]}…)",
                         "the source served different bytes; re-run `comfyfixer fix` or report it to the uploader")
        suffix = target.suffix.lower()
        try:
            header = check_header(part, suffix)
        except IntegrityError as exc:
            raise reject(exc.message, exc.hint or "check the source") from None
        scan: PickleScan | None = None
        if needs_pickle_check(part, suffix):
            scan = scan_pickle(part)
            if scan.verdict != "clean" and not req.allow_unsafe_pickle:
                approve = f"comfyfixer approve PLAN --allow-pickle {req.item or 'ITEM'}"
                raise reject(f"refused: {scan.reason()}",
                             f"prefer a .safetensors version; to take this file anyway (only if you trust its "
                             f"author) approve the plan again with `{approve}`")
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


__all__ = ["Disk", "DownloadRequest", "DownloadResult", "Downloader", "Progress", "disposition_filename",
           "human_bytes", "rounded_size_tolerance", "size_bounds"]
