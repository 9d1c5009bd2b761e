"""A small JSON disk cache with expiry. Entries carry their store time so callers can show their age.

Used by the resolver for verdicts and remote listings (Hugging Face searches and trees, Civitai
searches), so a re-check does not ask the same questions again within a day. One file per entry, named
by a hash of the key, under ``<root>/<namespace>/``; the full key is stored inside and compared on read,
so a hash collision reads as a miss. Writes are atomic and a failed write only logs a warning: the
cache is an optimisation, never a reason to fail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comfyfixer.tools.paths import atomic_write, safe_stem

log = logging.getLogger(__name__)


class DiskCache:
    """``namespace/key → JSON`` under ``root``; ``ttl`` seconds per entry (``get`` ignores older ones).

    ``clock`` is injected so tests can age entries. The folder is created on the first write; reads of a
    missing folder are misses. Safe for several processes: a reader sees an old entry or a new one, never a
    torn file.
    """

    def __init__(self, root: Path, *, ttl: float = 24 * 3600, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.ttl = ttl
        self._clock = clock

    def _path(self, namespace: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
        safe_ns = safe_stem(namespace, default="default")
        return self.root / safe_ns / f"{digest}.json"

    def get(self, namespace: str, key: str, *, ttl: float | None = None) -> tuple[Any, float] | None:
        """``(value, age_seconds)`` or None when missing, unreadable or expired.

        ``ttl`` overrides the cache's own lifetime for this read. An entry stored "in the future" (the clock
        went back) counts as expired.
        """
        path = self._path(namespace, key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        age = self._clock() - float(entry.get("stored_at", 0))
        if age < 0 or age > (self.ttl if ttl is None else ttl):
            return None
        return entry.get("value"), age

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``namespace``/``key`` with the current time."""
        path = self._path(namespace, key)
        try:
            atomic_write(path, json.dumps({"key": key, "stored_at": self._clock(), "value": value}))
        except OSError as exc:
            log.warning("cache write failed in %s: %s", self.root, exc)

    def clear(self, namespace: str | None = None) -> int:
        """Delete every entry (or one namespace's) and return how many files went."""
        base = self.root / namespace if namespace else self.root
        n = 0
        for p in base.rglob("*.json") if base.is_dir() else []:
            p.unlink(missing_ok=True)
            n += 1
        return n


class NullCache(DiskCache):
    """A cache that keeps nothing (``--no-cache`` and tests): every ``get`` misses, ``put`` does nothing."""

    def __init__(self) -> None:
        super().__init__(Path(os.devnull))

    def get(self, namespace: str, key: str, *, ttl: float | None = None) -> tuple[Any, float] | None:
        """Always a miss."""
        return None

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Discards the value."""
        return None
