"""Keep ComfyUI-Manager's catalogs current in our cache folder, atomically as a set.

Used by ``comfyfixer catalogs refresh`` and, automatically, by ``ToolContext.catalog()`` on first use and
when the copy is older than ``catalogs_max_age_hours`` (see :func:`ensure_catalogs`).

Layout under ``manager_cache_dir(cache_dir)``::

    v-20261201T225000-1a2b3c/   one complete version: every file of CATALOG_FILES
    current.json                the pointer: which version, when it was last confirmed, the validators
    attempt.json                the last failed automatic attempt (so a dead network is not retried by
                                every command)

A refresh writes a *new* version folder that nothing points at, fetching and validating every file into
it, and only then replaces ``current.json`` (one ``atomic_write``). Readers resolve the pointer once, so
they see the previous set or the new one, never a mix; a refresh that dies half-way leaves an orphan
folder that a later refresh removes. Conditional requests (``If-None-Match`` / ``If-Modified-Since``,
from the validators kept in ``current.json``) make an unchanged catalog a 304 whose file is copied from
the current version; when every file answers 304 no new version is made, only the pointer's
``checked_at`` moves. The default source is the Manager's ``main`` branch on GitHub; no token is sent.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from comfyfixer.tools.catalogs.manager import CATALOG_FILES, POINTER_FILE, read_pointer
from comfyfixer.tools.errors import ComfyFixerError, UpstreamError
from comfyfixer.tools.paths import atomic_write

if TYPE_CHECKING:  # the HTTP stack is imported only when a refresh really fetches (not by a fresh or offline check)
    import httpx

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://raw.githubusercontent.com/ltdrdata/ComfyUI-Manager/main/"
_EXPECTED_KEY = {"custom-node-list.json": "custom_nodes", "model-list.json": "models"}
ATTEMPT_FILE = "attempt.json"
# After a failed automatic refresh, commands use what they have for this long before trying again, so
# a machine without network does not pay a timeout on every command.
RETRY_AFTER_FAILURE_S = 15 * 60
# Versions younger than this are never pruned: another process may be filling or reading one.
_PRUNE_GRACE_S = 10 * 60


class RefreshResult(BaseModel):
    """What a refresh did: ``folder`` is the version now current, ``files`` the bytes of each file in it,
    ``changed`` the files that came with new content (the others answered 304 and were carried over)."""
    folder: str
    files: dict[str, int]  # name -> bytes
    changed: list[str] = []
    version: str = ""


class Freshness(BaseModel):
    """What :func:`ensure_catalogs` found or did: ``action`` is ``fresh`` (nothing to do), ``downloaded``
    (first copy), ``refreshed`` (new content), ``unchanged`` (all 304), ``offline``, ``failed`` or
    ``disabled``; ``message`` is the one line logged (empty when nothing was said)."""
    action: str
    have_catalogs: bool
    message: str = ""


def _now() -> float:
    return time.time()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).replace(microsecond=0).isoformat()


def _validate(name: str, url: str, body: bytes, status: int) -> None:
    """Raise ``UpstreamError`` unless ``body`` is JSON of the shape the Manager's file ``name`` has."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UpstreamError(f"{name} from {url} is not JSON", url=url, status=status,
                            hint="check catalogs_url points at ComfyUI-Manager's files") from exc
    key = _EXPECTED_KEY.get(name)
    if not isinstance(data, dict) or (key and not isinstance(data.get(key), list)):
        raise UpstreamError(f"{name} from {url} does not look like ComfyUI-Manager's catalog", url=url,
                            hint="check catalogs_url points at ComfyUI-Manager's files")


def _prune(root: Path, keep: set[str]) -> None:
    """Remove version folders other than ``keep`` that are older than the grace period (orphans of an
    interrupted refresh and superseded versions)."""
    cutoff = _now() - _PRUNE_GRACE_S
    for d in root.glob("v-*"):
        if d.name in keep or not d.is_dir():
            continue
        try:
            if d.stat().st_mtime < cutoff:
                shutil.rmtree(d)
        except OSError:  # a concurrent prune or a reader on Windows; try again next time
            log.debug("could not prune %s", d, exc_info=True)


def refresh_catalogs(
    dest: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = 60.0,
    retries: int = 3,
    client: httpx.Client | None = None,
) -> RefreshResult:
    """Fetch every file in ``CATALOG_FILES`` from ``base_url`` into a new version under ``dest`` and make
    it current, or leave the current version untouched if any file fails.

    Files the current version already has are asked for conditionally; a 304 carries the file over.
    Redirects are followed. Raises the shared HTTP errors for a failed request and ``UpstreamError`` for a
    body that is not JSON or lacks the expected top-level list. A ``client`` passed in is not closed.
    """
    from comfyfixer.tools.http import RetryPolicy, build_client, raise_for_status, send_with_retry

    dest.mkdir(parents=True, exist_ok=True)
    pointer = read_pointer(dest)
    current = dest / pointer["version"] if pointer and (dest / str(pointer.get("version"))).is_dir() else None
    validators: dict[str, dict[str, str]] = (pointer or {}).get("files", {}) if current else {}
    version = f"v-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    new = dest / version  # nothing points here until every file is in and valid
    new.mkdir()
    own = client is None
    http = client or build_client(timeout=timeout, follow_redirects=True)
    files: dict[str, dict[str, Any]] = {}
    changed: list[str] = []
    try:
        for name in CATALOG_FILES:
            url = base_url.rstrip("/") + "/" + name
            headers: dict[str, str] = {}
            old = validators.get(name, {})
            if current is not None and (current / name).is_file():
                if old.get("etag"):
                    headers["If-None-Match"] = old["etag"]
                if old.get("last_modified"):
                    headers["If-Modified-Since"] = old["last_modified"]
            resp = send_with_retry(http, "GET", url, policy=RetryPolicy(retries=retries), headers=headers)
            if resp.status_code == 304 and current is not None and headers:
                shutil.copyfile(current / name, new / name)
                files[name] = dict(old)
            else:
                raise_for_status(resp, service="the catalog server")
                _validate(name, url, resp.content, resp.status_code)
                atomic_write(new / name, resp.content)
                files[name] = {k: v for k, v in (("etag", resp.headers.get("ETag")),
                                                 ("last_modified", resp.headers.get("Last-Modified"))) if v}
                changed.append(name)
            files[name]["bytes"] = (new / name).stat().st_size
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    finally:
        if own:
            http.close()
    now = _now()
    if not changed and current is not None:
        # Nothing new: keep the current folder (its files are the same bytes) and only say it was confirmed.
        shutil.rmtree(new, ignore_errors=True)
        version, new = current.name, current
    doc = {"version": version, "base_url": base_url, "checked_at": _iso(now), "checked_ts": now,
           "fetched_at": (pointer or {}).get("fetched_at") if not changed else _iso(now), "files": files}
    atomic_write(dest / POINTER_FILE, json.dumps(doc, indent=1))
    (dest / ATTEMPT_FILE).unlink(missing_ok=True)
    _prune(dest, {version, *([current.name] if current is not None else [])})
    return RefreshResult(folder=str(new), version=version, changed=changed,
                         files={n: int(f["bytes"]) for n, f in files.items()})


def ensure_catalogs(
    dest: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    max_age_hours: float = 24.0,
    offline: bool = False,
    timeout: float = 30.0,
    retries: int = 1,
) -> Freshness:
    """Make sure ``dest`` holds catalogs no older than ``max_age_hours``, fetching them when it does not.

    Called before every catalog load. Says at most one line: a first download or a failure as a warning
    (the user should know packs could not be named), a routine refresh at info. ``max_age_hours <= 0``
    turns automatic refreshing off. Offline, or within ``RETRY_AFTER_FAILURE_S`` of a failed attempt, the
    copy at hand is used as it is. Never raises for network or server trouble: the check goes on with the
    previous catalogs, or without any.
    """
    pointer = read_pointer(dest)
    have = bool(pointer) and (dest / str(pointer.get("version")) / CATALOG_FILES[0]).is_file()
    if max_age_hours <= 0:
        return Freshness(action="disabled", have_catalogs=have)
    now = _now()
    age_s = now - float(pointer.get("checked_ts", 0)) if have and pointer else None
    if age_s is not None and age_s < max_age_hours * 3600:
        return Freshness(action="fresh", have_catalogs=True)
    if offline:
        if have:
            msg = f"offline: using ComfyUI-Manager catalogs last checked {pointer['checked_at']}"
            log.info(msg)
        else:
            msg = ("offline: ComfyUI-Manager catalogs were never downloaded, so custom node packs cannot be "
                   "named; run `comfyfixer catalogs refresh` once online")
            log.warning(msg)
        return Freshness(action="offline", have_catalogs=have, message=msg)
    try:
        attempt = json.loads((dest / ATTEMPT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        attempt = {}
    if now - float(attempt.get("ts", 0)) < RETRY_AFTER_FAILURE_S:
        return Freshness(action="failed", have_catalogs=have)  # said when it failed; quiet until the retry
    try:
        result = refresh_catalogs(dest, base_url=base_url, timeout=timeout, retries=retries)
    except Exception as exc:  # network down, server error, bad file: the previous catalogs stay in use
        reason = str(exc) if isinstance(exc, ComfyFixerError) else f"{type(exc).__name__}: {exc}"
        dest.mkdir(parents=True, exist_ok=True)
        atomic_write(dest / ATTEMPT_FILE, json.dumps({"ts": now, "at": _iso(now), "error": reason}))
        if have:
            msg = (f"could not refresh ComfyUI-Manager catalogs from {base_url} ({reason}); "
                   f"using the copy last checked {pointer['checked_at']}")
        else:
            msg = (f"could not download ComfyUI-Manager catalogs from {base_url} ({reason}); "
                   "custom node packs cannot be named this time")
        log.warning(msg)
        return Freshness(action="failed", have_catalogs=have, message=msg)
    if not have:
        msg = f"downloaded ComfyUI-Manager catalogs ({len(result.files)} files) from {base_url}"
        log.warning(msg)
        return Freshness(action="downloaded", have_catalogs=True, message=msg)
    if result.changed:
        msg = f"refreshed ComfyUI-Manager catalogs ({', '.join(result.changed)} changed)"
        log.info(msg)
        return Freshness(action="refreshed", have_catalogs=True, message=msg)
    msg = "ComfyUI-Manager catalogs are up to date"
    log.info(msg)
    return Freshness(action="unchanged", have_catalogs=True, message=msg)
