"""A persistent cache for inventories: one SQLite file in a folder the caller names.

Tables: ``dirs`` (one row per scanned model directory: its mtime and entries), ``hashes`` (sha256 keyed on
path + size + mtime), ``packs`` (custom-node pack scans keyed on the pack folder's state) and ``kv``
(anything else the caller keys itself, e.g. workflow inspections). A corrupt or foreign file is set aside
and rebuilt: a cache may always be thrown away.

One connection is shared by threads behind a lock, and every write commits at once, so a crash
loses at most the write in progress. A file of another ``SCHEMA_VERSION`` is set aside (as
``.corrupt``) instead of migrated.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, algo TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (path, algo)
);
CREATE TABLE IF NOT EXISTS packs (path TEXT PRIMARY KEY, signature TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (namespace, key));
"""


class InventoryCache:
    """SQLite-backed cache. ``InventoryCache(None)`` is an in-memory cache that forgets everything.

    With a folder, the file is ``<cache_dir>/inventory.sqlite3`` (folder created). Values are stored as
    JSON text, so anything put in must be JSON-serialisable and comes back as plain dicts and lists.
    Thread-safe; use as a context manager or call :meth:`close`. Opening never raises for a broken file:
    it is renamed to ``inventory.sqlite3.corrupt`` with a warning and a new one is started.
    """

    FILE_NAME = "inventory.sqlite3"

    def __init__(self, cache_dir: Path | None) -> None:
        self.path: Path | None = None
        self._lock = threading.Lock()
        if cache_dir is None:
            self._db = sqlite3.connect(":memory:", check_same_thread=False)
        else:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self.path = cache_dir / self.FILE_NAME
            self._db = self._open(self.path)
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        self._db.commit()

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        """Connect to ``path``; a file that is not SQLite or has another schema version is renamed aside and a
        fresh database is started (logged as a warning).
        """
        try:
            db = sqlite3.connect(path, check_same_thread=False)
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() if _has_meta(db) else None
            if row is not None and row[0] != str(SCHEMA_VERSION):
                raise sqlite3.DatabaseError("old cache schema")
            return db
        except sqlite3.DatabaseError as exc:
            log.warning("cache %s unusable (%s); starting a new one", path, exc)
            # Renamed, not deleted: the broken file can still be looked at.
            aside = path.with_suffix(".corrupt")
            path.replace(aside)
            return sqlite3.connect(path, check_same_thread=False)

    # --- model directories ---------------------------------------------------
    def get_dir(self, path: str) -> tuple[int, dict[str, Any]] | None:
        """``(mtime_ns, entry)`` stored for directory ``path``, or None. The caller compares the mtime with
        the directory's current one; ``entry`` is ``{"files": {name: size}, "dirs": [names]}``.
        """
        with self._lock:
            row = self._db.execute("SELECT mtime_ns, data FROM dirs WHERE path=?", (path,)).fetchone()
        return (int(row[0]), json.loads(row[1])) if row else None

    def put_dirs(self, rows: list[tuple[str, int, dict[str, Any]]]) -> None:
        """Store many ``(path, mtime_ns, entry)`` rows in one transaction (a scan's updates at once)."""
        if not rows:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO dirs VALUES (?, ?, ?)",
                [(p, m, json.dumps(d, separators=(",", ":"))) for p, m, d in rows],
            )
            self._db.commit()

    def dirs_under(self, root: str) -> dict[str, tuple[int, dict[str, Any]]]:
        """Every stored directory at or below ``root`` as ``{path: (mtime_ns, entry)}``, in one query (a
        scan asks for each directory of a tree; one range over the key is much cheaper than a query each)."""
        base = root.rstrip("/\\")
        with self._lock:
            rows = self._db.execute(
                "SELECT path, mtime_ns, data FROM dirs WHERE path = ? OR (path >= ? AND path < ?)",
                (base, base + os.sep, base + chr(ord(os.sep) + 1)),
            ).fetchall()
        return {p: (int(m), json.loads(d)) for p, m, d in rows}

    def all_dirs(self) -> dict[str, tuple[int, dict[str, Any]]]:
        """Every stored directory as ``{path: (mtime_ns, entry)}``."""
        with self._lock:
            rows = self._db.execute("SELECT path, mtime_ns, data FROM dirs").fetchall()
        return {p: (int(m), json.loads(d)) for p, m, d in rows}

    # --- hashes ------------------------------------------------------------------
    def get_hash(self, path: str, size: int, mtime_ns: int, algo: str = "sha256") -> str | None:
        """The digest stored for ``path`` if its ``size`` and ``mtime_ns`` still match, else None (the file
        changed).
        """
        with self._lock:
            row = self._db.execute(
                "SELECT digest FROM hashes WHERE path=? AND algo=? AND size=? AND mtime_ns=?",
                (path, algo, size, mtime_ns),
            ).fetchone()
        return str(row[0]) if row else None

    def put_hash(self, path: str, size: int, mtime_ns: int, digest: str, algo: str = "sha256") -> None:
        """Store ``digest`` for ``path`` at this ``size`` and ``mtime_ns``, replacing any older one for
        ``algo``.
        """
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)", (path, size, mtime_ns, algo, digest))
            self._db.commit()

    # --- custom-node packs -----------------------------------------------------
    def get_pack(self, path: str, signature: str) -> dict[str, Any] | None:
        """A pack scan stored for ``path`` under exactly this ``signature`` (see ``pack_signature``), else
        None.
        """
        with self._lock:
            row = self._db.execute("SELECT data FROM packs WHERE path=? AND signature=?", (path, signature)).fetchone()
        return json.loads(row[0]) if row else None

    def put_pack(self, path: str, signature: str, data: dict[str, Any]) -> None:
        """Store a pack scan (``InstalledPack.model_dump()``) for ``path`` under ``signature``; replaces the
        old one.
        """
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO packs VALUES (?, ?, ?)", (path, signature, json.dumps(data)))
            self._db.commit()

    # --- free-form -----------------------------------------------------------------
    def get(self, namespace: str, key: str) -> Any | None:
        """The value stored under ``(namespace, key)``, or None. There is no expiry here: callers put what
        they need into the key (for example a file's size and mtime) so a stale entry is simply never asked
        for.
        """
        with self._lock:
            row = self._db.execute("SELECT data FROM kv WHERE namespace=? AND key=?", (namespace, key)).fetchone()
        return json.loads(row[0]) if row else None

    def get_many(self, namespace: str, keys: list[str]) -> dict[str, Any]:
        """Values for the ``keys`` that are stored in ``namespace`` (missing keys are absent from the result)."""
        return {k: json.loads(d) for k, d in self.get_many_text(namespace, keys).items()}

    def get_many_text(self, namespace: str, keys: list[str]) -> dict[str, str]:
        """The stored JSON text of the ``keys`` found in ``namespace``, unparsed (a caller can validate it
        straight into a model). Queried 500 at a time to stay under SQLite's limit on bound parameters.
        """
        out: dict[str, str] = {}
        with self._lock:
            # SQLite limits the bound parameters of one statement (999 in older builds).
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for k, d in self._db.execute(
                    f"SELECT key, data FROM kv WHERE namespace=? AND key IN ({marks})", (namespace, *chunk)
                ):
                    out[k] = str(d)
        return out

    def put_many(self, namespace: str, items: dict[str, Any]) -> None:
        """Store every ``key → value`` of ``items`` in ``namespace``; one transaction, old values replaced."""
        if not items:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO kv VALUES (?, ?, ?)",
                [(namespace, k, json.dumps(v, separators=(",", ":"))) for k, v in items.items()],
            )
            self._db.commit()

    def put_many_trimmed(self, items: dict[str, dict[str, Any]], keep: int) -> None:
        """:meth:`put_many` for each ``namespace → items``, then :meth:`trim` of each to its ``keep`` newest
        values, all in one transaction (one commit instead of four on a check that inspected anything)."""
        with self._lock:
            for namespace, values in items.items():
                self._db.executemany(
                    "INSERT OR REPLACE INTO kv VALUES (?, ?, ?)",
                    [(namespace, k, json.dumps(v, separators=(",", ":"))) for k, v in values.items()],
                )
                self._db.execute(
                    "DELETE FROM kv WHERE namespace=? AND rowid NOT IN "
                    "(SELECT rowid FROM kv WHERE namespace=? ORDER BY rowid DESC LIMIT ?)", (namespace, namespace, keep))
            self._db.commit()

    def trim(self, namespace: str, keep: int) -> int:
        """Keep only the ``keep`` most recently written values of ``namespace`` (keys that embed a file's or an
        inventory's state are never asked for again once it changes, so they would pile up); returns how
        many were removed."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM kv WHERE namespace=? AND rowid NOT IN "
                "(SELECT rowid FROM kv WHERE namespace=? ORDER BY rowid DESC LIMIT ?)", (namespace, namespace, keep))
            self._db.commit()
        return cur.rowcount

    def close(self) -> None:
        """Close the connection; the object must not be used afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> InventoryCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _has_meta(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone() is not None
