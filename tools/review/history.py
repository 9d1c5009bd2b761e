"""The content-addressed history of the workflows ``check`` and ``schedule`` see (under the state folder).

Layout (``<state>/history/``)::

    objects/<sha256><suffix>       each distinct version of any workflow, stored once
    workflows/<key>.json           one watched workflow (key: sha256 of its resolved path): its path and
                                   its versions, oldest first, each {sha256, first_seen, bytes, suffix}

Only workflow files are stored — the bytes the check read, nothing derived, no settings or tokens. A
workflow keeps at most ``history_max_versions`` versions (oldest dropped first); an object no workflow
refers to any more is deleted by :func:`prune_objects`. ``agent/reports/history.py`` records versions
and writes regression reports; ``diff_workflows`` reads a workflow's predecessor from here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.paths import atomic_write

# Larger files are not kept (a workflow is kilobytes; an image that embeds one, a few megabytes).
MAX_VERSION_BYTES = 64 * 1024 * 1024


def history_dir(ctx: ToolContext) -> Path:
    """Where the history lives: ``<state>/history``."""
    return ctx.state_dir / "history"


def _key(path: Path) -> str:
    """A watched workflow's file name in the history: the hash of its resolved path (no user text in names we make)."""
    return _key_of(str(path.resolve()))


def _key_of(resolved: str) -> str:
    return hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:32]


def resolver() -> Callable[[Path], str]:
    """``str(path.resolve())`` for many files of the same folders: each folder is resolved once (one
    ``lstat`` per path component), then only the file's own name is checked for a symbolic link. Use one
    resolver per pass over the files, so a folder link changed between passes is followed."""
    folders: dict[str, str] = {}

    def resolve(path: Path) -> str:
        parent, name = os.path.split(os.fspath(path))
        if name in ("", ".", ".."):
            return os.path.realpath(path)
        real = folders.get(parent)
        if real is None:
            real = folders[parent] = os.path.realpath(parent or ".")
        full = os.path.join(real, name)
        return os.path.realpath(full) if os.path.islink(full) else full

    return resolve


def _load(entry: Path) -> dict[str, Any]:
    """One history entry, or ``{}`` when it is missing or unreadable (a damaged entry starts a new history, it never stops a check)."""
    try:
        doc = json.loads(entry.read_text(encoding="utf-8"))
        return doc if isinstance(doc, dict) and isinstance(doc.get("versions"), list) else {}
    except (OSError, ValueError):
        return {}


def record_version(root: Path, path: Path, max_versions: int, now: str | None = None,
                   resolved: str | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Record ``path``'s current content; returns (its history entry, the previous newest version if the
    content changed since it, else ``None``). A file that cannot be read or is too large is not recorded.

    The object is written before the entry that names it, both atomically, so an interrupted run leaves
    at worst an unreferenced object (deleted by the next :func:`prune_objects`), never an entry that
    points at nothing. ``now`` fixes the first-seen time (tests). Each version also records the file's
    mtime: a file whose size and mtime are those of its newest version is not read again. ``resolved`` is
    ``str(path.resolve())`` when the caller has it (see :func:`resolver`).
    """
    st = path.stat()
    resolved = str(path.resolve()) if resolved is None else resolved
    entry_path = root / "workflows" / f"{_key_of(resolved)}.json"
    entry = _load(entry_path) or {"path": resolved, "versions": []}
    versions: list[dict[str, Any]] = entry["versions"]
    previous = versions[-1] if versions else None
    if previous is not None and previous.get("bytes") == st.st_size and previous.get("mtime_ns") == st.st_mtime_ns:
        return entry, None
    data = path.read_bytes()
    if len(data) > MAX_VERSION_BYTES:
        raise OSError(f"{path} is over {MAX_VERSION_BYTES // 2**20} MB; not kept in the history")
    sha = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower() if path.suffix.lower() in (".json", ".png", ".webp", ".jpg", ".jpeg") else ".json"
    obj = root / "objects" / f"{sha}{suffix}"
    if not obj.exists():
        atomic_write(obj, data)
    if previous is not None and previous.get("sha256") == sha:
        if previous.get("mtime_ns") != st.st_mtime_ns and len(data) == st.st_size:  # touched, not changed
            previous["mtime_ns"] = st.st_mtime_ns
            atomic_write(entry_path, json.dumps(entry, indent=2) + "\n")
        return entry, None
    versions.append({"sha256": sha, "first_seen": now or datetime.now(UTC).isoformat(timespec="seconds"),
                     "bytes": len(data), "suffix": suffix, "mtime_ns": st.st_mtime_ns})
    entry["versions"] = versions[-max_versions:]
    atomic_write(entry_path, json.dumps(entry, indent=2) + "\n")
    return entry, previous


def prune_objects(root: Path) -> int:
    """Delete stored versions no watched workflow refers to any more; returns how many."""
    referenced = set()
    for entry_path in (root / "workflows").glob("*.json"):
        for v in _load(entry_path).get("versions", []):
            referenced.add(f"{v.get('sha256')}{v.get('suffix', '.json')}")
    removed = 0
    for obj in (root / "objects").glob("*"):
        if obj.name not in referenced and not obj.name.startswith("."):
            obj.unlink(missing_ok=True)
            removed += 1
    return removed


def object_path(root: Path, version: dict[str, Any]) -> Path:
    """The stored file of one recorded version."""
    return root / "objects" / f"{version['sha256']}{version.get('suffix', '.json')}"


def predecessor(ctx: ToolContext, path: Path) -> tuple[Path, dict[str, Any]] | None:
    """The stored version before ``path``'s current content (the newest recorded one if the file changed
    since it was last seen), with its record; ``None`` when the history holds no earlier version."""
    root = history_dir(ctx)
    versions = _load(root / "workflows" / f"{_key(path)}.json").get("versions", [])
    current = hashlib.sha256(path.read_bytes()).hexdigest()
    earlier = [v for v in versions if v.get("sha256") != current]
    if not earlier:
        return None
    # The newest version that is not the current content: what the file was before its latest change.
    version = earlier[-1]
    stored = object_path(root, version)
    return (stored, version) if stored.is_file() else None
