"""The append-only journal of every change ComfyFixerSmart makes on disk.

Two records per state-changing action:

* ``journal.jsonl`` — one JSON object per line: ``id`` (16 hex), ``ts`` (UTC ISO, milliseconds),
  ``actor``, ``action``, ``plan_id``, ``inputs``, ``outputs`` (paths, hashes), ``before``/``after``
  (did the touched paths exist), ``status`` and ``message``. Lines are written with ``O_APPEND`` and
  fsynced, so a crash can lose at most the line being written, never earlier ones. Entries are never
  edited: a correction is a new entry whose ``corrects`` names the earlier entry's ``id``.
* ``audit.log`` — one human-readable line per entry, rotated by size
  (``logging.handlers.RotatingFileHandler``).

The ``fix`` and ``runpod submit`` commands open a journal and the executor (``agent/executor.py``) writes an
entry for each action it runs. Secrets never reach the journal: inputs and outputs are passed through
:func:`scrub` first. The journal file is created with mode 0600. Deliberately not a database: one line per
entry can be read with ``grep``/``jq`` and survives a crash.
"""

from __future__ import annotations

import getpass
import json
import logging
import logging.handlers
import os
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL_NAME = "journal.jsonl"
AUDIT_NAME = "audit.log"
_SECRET_KEYS = ("token", "authorization", "api_key", "apikey", "password", "secret", "sig", "signature")


def scrub(value: Any) -> Any:
    """Drop secret-looking keys and query strings from URLs in nested data.

    A dict key containing ``token``, ``api_key``, ``password``, ``sig`` … (case-insensitive) gets the value
    ``"<redacted>"``; an http(s) URL loses everything from ``?`` on (Civitai and signed CDN URLs carry
    tokens there); ``Path`` becomes ``str`` and tuples become lists, so the result is JSON-ready. Secrets
    inside free text (``message``) are not detected: callers must not put them there.
    """
    if isinstance(value, dict):
        return {k: ("<redacted>" if any(s in str(k).lower() for s in _SECRET_KEYS) else scrub(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str) and value.startswith(("http://", "https://")) and "?" in value:
        return value.split("?", 1)[0]
    return value


def path_state(*paths: Path | str) -> dict[str, bool]:
    """``{path: exists}`` for the ``before``/``after`` fields; read at call time, so call it once before and
    once after the change.
    """
    return {str(p): Path(p).exists() for p in paths}


class Journal:
    """Append-only JSONL journal plus a rotating human audit log, both under ``state_dir`` (created).

    ``actor`` defaults to ``user:<login name>`` (``append`` can override it per entry). The audit log keeps
    ``audit_backups`` files of ``max_audit_bytes`` each (default 1 MiB × 5); the JSONL file is never
    rotated. Appends are serialised by a lock, so one ``Journal`` may be shared between threads;
    separate processes rely on ``O_APPEND`` keeping each line whole. Use as a context manager, or call
    :meth:`close`, to release the audit file handle.
    """

    def __init__(self, state_dir: Path, *, actor: str | None = None, max_audit_bytes: int = 1 << 20,
                 audit_backups: int = 5) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / JOURNAL_NAME
        self.audit_path = self.dir / AUDIT_NAME
        self.actor = actor or _default_actor()
        self._lock = threading.Lock()
        # One logger per Journal: two journals (two state folders, tests) must not share a file handler.
        self._audit = logging.getLogger(f"comfyfixer.audit.{id(self)}")
        # Audit lines belong in audit.log only, never on the console through the root handler.
        self._audit.propagate = False
        self._audit.setLevel(logging.INFO)
        handler = logging.handlers.RotatingFileHandler(
            self.audit_path, maxBytes=max_audit_bytes, backupCount=audit_backups, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        self._handler = handler
        self._audit.addHandler(handler)

    def close(self) -> None:
        """Detach and close the audit log handler; the JSONL file is opened per append."""
        self._audit.removeHandler(self._handler)
        self._handler.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(
        self,
        action: str,
        *,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        before: dict[str, bool] | None = None,
        after: dict[str, bool] | None = None,
        status: str = "ok",
        message: str = "",
        plan_id: str | None = None,
        corrects: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Append one entry (fsynced) and its audit line; returns the entry as written.

        ``inputs``/``outputs`` are scrubbed; values that are not JSON types are written with ``str()``.
        ``status`` is free text by convention ``ok``, ``failed`` or ``skipped``. The audit line shows
        ``message``, or the entry's ``target``/``path`` when there is no message, plus the first 12 characters
        of ``plan_id``. Raises ``OSError`` if the state folder cannot be written: a change we cannot record is
        a change we should not make.
        """
        entry: dict[str, Any] = {
            "id": secrets.token_hex(8),
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "actor": actor or self.actor,
            "action": action,
            "status": status,
            "plan_id": plan_id,
            "inputs": scrub(inputs or {}),
            "outputs": scrub(outputs or {}),
            "before": before or {},
            "after": after or {},
            "message": message,
        }
        if corrects:
            entry["corrects"] = corrects
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                # The entry must be on disk before the change it records is reported as done.
                os.fsync(fd)
            finally:
                os.close(fd)
            self._audit.info("%s %s %s [%s] %s%s", entry["ts"], entry["actor"], action, status,
                             message or _summary(entry), f" plan={plan_id[:12]}" if plan_id else "")
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        """Read entries back in order; a line that is not JSON (a torn last line after a crash) is skipped."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for raw in fh:
                try:
                    yield json.loads(raw)
                except json.JSONDecodeError:
                    continue


def read_journal(state_dir: Path) -> list[dict[str, Any]]:
    """All entries in ``state_dir``'s journal as a list, without opening an audit log (for readers such as
    reports); an absent journal gives ``[]`` and unreadable lines are skipped.
    """
    path = Path(state_dir) / JOURNAL_NAME
    out: list[dict[str, Any]] = []
    if path.exists():
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return out


def _summary(entry: dict[str, Any]) -> str:
    """The target or path an entry touched, for audit lines that have no message."""
    outs = entry.get("outputs") or {}
    target = outs.get("target") or outs.get("path") or (entry.get("inputs") or {}).get("target")
    return str(target or "")


def _default_actor() -> str:
    try:
        return f"user:{getpass.getuser()}"
    except Exception:
        return "user:unknown"
