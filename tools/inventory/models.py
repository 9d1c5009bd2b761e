"""The model files of a ComfyUI install, grouped by folder key, with a persistent per-directory cache.

A warm re-scan of an unchanged install stats directories only: a directory whose mtime did not change
has the same entries (ComfyUI's own listing cache relies on the same fact). File contents are never read
here; hashes are computed only on request (:func:`file_sha256`) and cached on path + size + mtime.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat as stat_mod
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from comfyfixer.tools.inventory.cache import InventoryCache
from comfyfixer.tools.model_folders import (
    NON_MODEL_KEYS,
    UNSCANNED_KEYS,
    accepts,
    canonical_folder,
    extensions_for,
    map_legacy,
    normalize_model_name,
)

log = logging.getLogger(__name__)

_SKIP_DIRS = {".git"}


@dataclass(frozen=True)
class ModelFile:
    """One file seen in a model directory. ``key`` is None for folders no loader reads.

    ``name`` is relative to the search directory with forward slashes (what a workflow stores),
    ``location`` is what a person should look for (relative to the ComfyUI folder when inside it), ``path``
    the absolute path (empty for a live listing) and ``size`` bytes when known.
    """

    key: str | None
    name: str  # relative to its directory, forward slashes
    location: str  # where a person finds it: "models/loras/x.safetensors" (relative to base) or absolute
    path: str = ""  # absolute path; empty when the listing came from a live server
    size: int | None = None


@dataclass
class ModelInventory:
    """What a loader of each folder key can find, plus every model-looking file anywhere for misplacement.

    ``files`` keeps the *first* match per name in search order, as ComfyUI does; ``by_basename`` keeps every
    file so a model in the wrong folder can be found by its name. ``dirs_scanned``/``dirs_from_cache`` count
    directories listed vs. reused from the cache in the last scan.
    """

    source: str  # "filesystem" | "live"
    folders: dict[str, list[str]] = field(default_factory=dict)  # key -> search dirs (or the URL)
    files: dict[str, dict[str, ModelFile]] = field(default_factory=dict)  # key -> name -> first match
    by_basename: dict[str, list[ModelFile]] = field(default_factory=dict)  # lower-case basename -> files
    dirs_scanned: int = 0
    dirs_from_cache: int = 0

    def has(self, key: str | None, name: str) -> bool:
        """Whether a loader reading ``key`` finds ``name`` (``key`` None: any folder)."""
        n = normalize_model_name(name)
        if key is None:
            return any(n in names for k, names in self.files.items() if k not in NON_MODEL_KEYS)
        return n in self.files.get(canonical_folder(key) or key, {})

    def get(self, key: str, name: str) -> ModelFile | None:
        """The file a loader reading ``key`` would load for ``name``, or None."""
        return self.files.get(canonical_folder(key) or key, {}).get(normalize_model_name(name))

    def elsewhere(self, key: str | None, name: str) -> list[ModelFile]:
        """Files with the same base name that a loader of ``key`` would not find under ``name``."""
        n = normalize_model_name(name)
        base = n.rsplit("/", 1)[-1].lower()
        want = canonical_folder(key)
        out = []
        for f in self.by_basename.get(base, []):
            if f.key in NON_MODEL_KEYS:
                continue
            if f.key == want and f.name == n:
                continue
            out.append(f)
        return out

    def listing(self, key: str) -> list[str]:
        """Sorted names ComfyUI would show in a combo for ``key`` (extension-filtered)."""
        k = canonical_folder(key) or key
        return sorted(n for n in self.files.get(k, {}) if self.source == "live" or accepts(k, n))

    def counts(self) -> dict[str, int]:
        """Model files per folder key (extension-filtered as ComfyUI lists them), non-empty keys only."""
        out = {}
        for key in sorted(self.files):
            if key in NON_MODEL_KEYS:
                continue
            names = self.files[key]
            exts = () if self.source == "live" else extensions_for(key)
            # The rule of ``listing`` without sorting: this runs for every model file on every check.
            n = sum(1 for name in names if os.path.splitext(name)[1].lower() in exts) if exts else len(names)
            if n:
                out[key] = n
        return out

    def add(self, f: ModelFile) -> None:
        """Add a file; the first seen for a ``(key, name)`` stays, later ones only join ``by_basename``."""
        if f.key is not None:
            self.files.setdefault(f.key, {}).setdefault(f.name, f)
        self.by_basename.setdefault(f.name.rsplit("/", 1)[-1].lower(), []).append(f)


def _scan_tree(
    root: Path, cache: InventoryCache | None, updates: list[tuple[str, int, dict]], stats: list[int]
) -> list[tuple[str, str, int]]:
    """(relative name, absolute path, size) of every file under ``root``, following symlinks like os.walk."""
    out: list[tuple[str, str, int]] = []
    seen: set[tuple[int, int]] = set()
    # Plain strings, not Paths: this runs for every model file on every check.
    stack: list[tuple[str, str]] = [(str(root), "")]
    known = cache.dirs_under(str(root)) if cache is not None else {}
    while stack:
        key, prefix = stack.pop()
        d = key
        try:
            st = os.stat(d)
        except OSError:
            continue
        if not stat_mod.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) in seen:
            continue
        # A symlink back up the tree would loop; each directory is listed once.
        seen.add((st.st_dev, st.st_ino))
        cached = known.get(key) or (cache.get_dir(key) if cache is not None else None)
        if cached is not None and cached[0] == st.st_mtime_ns:
            entry = cached[1]
            stats[1] += 1
        else:
            entry = {"files": {}, "dirs": []}
            try:
                with os.scandir(d) as it:
                    for e in it:
                        try:
                            if e.is_dir():
                                if e.name not in _SKIP_DIRS:
                                    entry["dirs"].append(e.name)
                            elif e.is_file():
                                entry["files"][e.name] = e.stat().st_size
                        except OSError:
                            log.info("skipping unreadable entry %s", e.path)  # e.g. a broken symlink
            except OSError as exc:
                log.warning("cannot list %s: %s", d, exc.strerror)
                continue
            updates.append((key, st.st_mtime_ns, entry))
        stats[0] += 1
        base = key if key.endswith(os.sep) else key + os.sep
        out.extend((prefix + name, base + name, int(size)) for name, size in entry["files"].items())
        for sub in entry["dirs"]:
            stack.append((base + sub, prefix + sub + "/"))
    return out


def _display(path: str, prefix: str | None) -> str:
    """``path`` below ``prefix`` (the base folder and a separator) with forward slashes, else as it is."""
    # String prefix test: this runs once per model file, pathlib is too slow here.
    if prefix is not None and path.startswith(prefix):
        return path[len(prefix) :].replace(os.sep, "/")
    return path


def scan_models(
    folders: dict[str, list[Path]],
    *,
    base_dir: Path | None = None,
    cache: InventoryCache | None = None,
    include_unassigned: bool = True,
) -> ModelInventory:
    """Scan every directory of ``folders`` (key -> dirs, search order) and build a :class:`ModelInventory`.

    With ``include_unassigned``, folders under ``<base_dir>/models`` that no key reads are scanned too (as
    the key of their name), so a file dropped in the wrong place can still be found and its move suggested.
    Symlinked directories are followed once (a loop is detected by device and inode). Unreadable
    directories are skipped with a warning, never an error. A directory shared by several keys is listed
    once per scan.
    """
    inv = ModelInventory(source="filesystem", folders={k: [str(p) for p in v] for k, v in folders.items()})
    prefix = str(base_dir).rstrip(os.sep) + os.sep if base_dir is not None else None
    updates: list[tuple[str, int, dict]] = []
    stats = [0, 0]
    trees: dict[str, list[tuple[str, str, int]]] = {}

    def tree(p: Path) -> list[tuple[str, str, int]]:
        """The listing of directory ``p``, scanned once per call even when several keys share it."""
        k = os.path.normpath(str(p))
        if k not in trees:
            trees[k] = _scan_tree(Path(k), cache, updates, stats)
        return trees[k]

    for key, dirs in folders.items():
        if key in UNSCANNED_KEYS:
            continue
        for d in dirs:
            for name, path, size in tree(d):
                inv.add(ModelFile(key=key, name=name, location=_display(path, prefix), path=path, size=size))
    if include_unassigned and base_dir is not None:
        known = {os.path.normpath(str(d)) for dirs in folders.values() for d in dirs}
        models_root = base_dir / "models"
        try:
            subdirs = sorted(e.path for e in os.scandir(models_root) if e.is_dir())
        except OSError:
            subdirs = []
        for sub in subdirs:
            sub = os.path.normpath(sub)
            if sub in known or any(sub.startswith(k + os.sep) for k in known):
                continue
            # Newer ComfyUI versions and many packs register ``models/<key>`` for their own keys, so an
            # unknown folder is read as the key of its name (a file there is "found" for that key only).
            implied = map_legacy(os.path.basename(sub))
            for name, path, size in tree(Path(sub)):
                inv.add(ModelFile(key=implied, name=name, location=_display(path, prefix), path=path, size=size))
    if cache is not None:
        cache.put_dirs(updates)
    inv.dirs_scanned, inv.dirs_from_cache = stats
    return inv


def inventory_from_listings(listings: dict[str, list[str]], base_url: str) -> ModelInventory:
    """Build an inventory from a live server's ``/models/{folder}`` answers (already filtered by the server,
    so no extension filter is applied later).
    """
    inv = ModelInventory(source="live", folders={k: [f"{base_url}/models/{k}"] for k in listings})
    for key, names in listings.items():
        k = map_legacy(key)
        for raw in names:
            name = normalize_model_name(raw)
            inv.add(ModelFile(key=k, name=name, location=f"{k}/{name}"))
    return inv


def file_sha256(path: Path, cache: InventoryCache | None = None, *, chunk: int = 4 << 20) -> str:
    """SHA-256 of a file, cached on (path, size, mtime) so an unchanged file is hashed once.

    Read in 4 MiB chunks; raises ``OSError`` if the file cannot be read.
    """
    st = path.stat()
    if cache is not None:
        hit = cache.get_hash(str(path), st.st_size, st.st_mtime_ns)
        if hit:
            return hit
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    digest = h.hexdigest()
    if cache is not None:
        cache.put_hash(str(path), st.st_size, st.st_mtime_ns, digest)
    return digest


def group_by_kind(inv: ModelInventory) -> dict[str, list[str]]:
    """Model names per folder key, sorted: the "group by folder kind" view."""
    groups: dict[str, list[str]] = defaultdict(list)
    for key in inv.files:
        if key not in NON_MODEL_KEYS:
            groups[key] = inv.listing(key)
    return {k: v for k, v in sorted(groups.items()) if v}
