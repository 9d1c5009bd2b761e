"""ComfyUI-Manager's catalogs, read from JSON without importing (or depending on) the Manager.

Where the files come from, first match wins:

1. an explicit folder holding ``extension-node-map.json`` etc.;
2. the cache folder that ``comfyfixer catalogs refresh`` fills from the Manager's repository;
3. an installed ``comfyui_manager`` package (its files are read next to its ``__init__``,
   the package is never imported: it pulls heavy dependencies);
4. a ``comfyui_manager-*.whl`` (``pip download --no-deps comfyui-manager``) in the given folders.

The data itself is never copied into this project.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from comfyfixer.tools.errors import ConfigError

log = logging.getLogger(__name__)

CATALOG_FILES = ("extension-node-map.json", "custom-node-list.json", "model-list.json")


POINTER_FILE = "current.json"


def manager_cache_dir(cache_dir: Path) -> Path:
    """Where ``comfyfixer catalogs refresh`` keeps the Manager's JSON files, under a cache folder (one
    folder per version plus the ``current.json`` pointer, see ``tools/catalogs/refresh.py``)."""
    return Path(cache_dir) / "catalogs" / "comfyui-manager"


def read_pointer(root: Path) -> dict[str, Any] | None:
    """The refreshed cache's ``current.json`` (version folder, when it was checked, validators), or None
    when there is none or it cannot be read."""
    try:
        doc = json.loads((Path(root) / POINTER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("version"), str) else None


def current_cache_folder(root: Path) -> Path:
    """The folder holding the current set of refreshed files: the version ``current.json`` names, or
    ``root`` itself (the layout of earlier releases, which wrote the files there one by one)."""
    pointer = read_pointer(root)
    if pointer is not None and pointer["version"].startswith("v-") and "/" not in pointer["version"] and (Path(root) / pointer["version"]).is_dir():
        return Path(root) / pointer["version"]
    return Path(root)


def load_cached_manager_catalog(
    cache_dir: Path, folder: Path | None = None, wheel_dirs: Iterable[Path] = ()
) -> ManagerCatalog:
    """The catalogs from an explicit folder, the refreshed cache, the installed package or a wheel.

    ``cache_dir`` is the general cache folder (see :func:`manager_cache_dir`); wheels are looked for in the
    refreshed folder, the cache folder itself and ``wheel_dirs``. Raises ``ConfigError`` as
    :func:`find_catalog_source` does.
    """
    cached = manager_cache_dir(cache_dir)
    return load_manager_catalog(folder, cached, [cached, Path(cache_dir), *wheel_dirs])


def cached_catalog_source(cache_dir: Path, folder: Path | None = None, wheel_dirs: Iterable[Path] = ()) -> CatalogSource:
    """Where :func:`load_cached_manager_catalog` would read from, found without parsing anything; raises
    ``ConfigError`` as :func:`find_catalog_source` does."""
    cached = manager_cache_dir(cache_dir)
    return find_catalog_source(folder, cached, (cached, Path(cache_dir), *wheel_dirs))
CORE_REPO = "https://github.com/comfyanonymous/comfyui"


class PackInfo(BaseModel):
    """A custom node pack as the Manager lists it.

    ``id`` is the Manager's id (often the registry id), ``reference`` the repository URL, ``files`` the
    URLs the Manager would install from (usually the same repository), ``install_type`` ``git-clone``,
    ``copy``, … as the Manager says. Packs known only from the node map get an id from the repository name.
    """

    id: str
    reference: str
    title: str | None = None
    install_type: str | None = None
    files: list[str] = []
    description: str | None = None


class ManagerModel(BaseModel):
    """One entry of the Manager's ``model-list.json``.

    ``save_path`` is a folder (``loras``, ``checkpoints/SDXL``) or ``"default"`` (the folder of ``type``);
    ``size`` is a rounded label such as ``"2.0GB"``, never a byte count; ``base`` the base model label.
    """

    name: str
    type: str | None = None
    base: str | None = None
    save_path: str | None = None
    filename: str
    url: str
    size: str | None = None
    reference: str | None = None
    description: str | None = None


def normalize_repo_url(url: str) -> str:
    """Compare repository URLs by host and path only: case, ``.git`` and slashes differ in the wild.

    Lower-cases the whole URL and turns ``http://`` into ``https://``. Only for comparing: never use the
    result to clone (GitHub paths are case-insensitive, other hosts may not be).
    """
    u = url.strip().rstrip("/")
    if u.endswith(".git"):
        u = u[:-4]
    if u.startswith("http://"):  # a prefix test, not a regex: this runs ~13,000 times per catalog load
        u = "https://" + u[7:]
    return u.lower()


@dataclass
class CatalogSource:
    """Where the catalogs were read from (said in reports): ``kind`` is ``folder``, ``cache``, ``package`` or
    ``wheel`` and ``location`` the folder or wheel file. Reading from a wheel looks the file up inside it.
    """

    kind: str  # "folder" | "cache" | "package" | "wheel"
    location: Path

    def read(self, name: str) -> Any:
        """The parsed JSON of catalog file ``name``; raises ``FileNotFoundError`` if this source lacks it and
        ``ValueError`` if it is not JSON.
        """
        if self.kind == "wheel":
            with zipfile.ZipFile(self.location) as zf:
                member = next((n for n in zf.namelist() if n.endswith("/" + name)), None)
                if member is None:
                    raise FileNotFoundError(name)
                return json.loads(zf.read(member))
        return json.loads((self.location / name).read_text(encoding="utf-8"))

    def describe(self) -> str:
        """The one-line origin shown in reports and evidence."""
        return f"ComfyUI-Manager catalogs ({self.kind}: {self.location})"


@dataclass
class ManagerCatalog:
    """Class → pack claims, pack list and model list, with the Manager's matching rules.

    Built once per catalog file version by :func:`load_manager_catalog`. ``packs`` is keyed by normalised
    repository URL (each of a pack's install URLs maps to it); ``node_claims`` lists, per class, the
    repositories whose node map entry names it; ``preemptions`` are classes a pack claims outright;
    ``patterns`` are the Manager's ``nodename_pattern`` regexes; ``core_classes`` are the classes the
    node map lists for ComfyUI itself. Treat it as read-only: instances are shared through a cache.
    """

    source: CatalogSource
    packs: dict[str, PackInfo] = field(default_factory=dict)  # normalised reference -> pack
    by_id: dict[str, PackInfo] = field(default_factory=dict)  # manager id -> pack
    by_repo_name: dict[str, list[PackInfo]] = field(default_factory=dict)  # lower-cased repo name -> packs
    node_claims: dict[str, list[str]] = field(default_factory=dict)  # class -> normalised refs
    preemptions: dict[str, str] = field(default_factory=dict)  # class -> normalised ref
    patterns: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    core_classes: frozenset[str] = frozenset()
    models: list[ManagerModel] = field(default_factory=list)

    def pack(self, ref: str) -> PackInfo:
        """The pack at repository ``ref``, or a stand-in named after the repository when the Manager does not
        list it (so a claim never points at nothing).
        """
        norm = normalize_repo_url(ref)
        found = self.packs.get(norm)
        if found is not None:
            return found
        return PackInfo(id=norm.rsplit("/", 1)[-1], reference=ref)

    def claimants(self, class_type: str) -> list[PackInfo]:
        """Every pack that claims ``class_type``: a preemption alone, else listed names and name patterns.

        The Manager's own order: a pack that *preempts* a name wins outright; otherwise
        exact listings, then ``nodename_pattern`` regexes. Core ComfyUI is never a claimant
        here; callers check core first, since some packs re-register core names.
        """
        pre = self.preemptions.get(class_type)
        if pre is not None:
            return [self.pack(pre)]
        refs = [r for r in self.node_claims.get(class_type, []) if r != CORE_REPO]
        if not refs:
            refs = [ref for pattern, ref in self.patterns if pattern.search(class_type)]
        seen: dict[str, PackInfo] = {}
        for r in refs:
            seen.setdefault(r, self.pack(r))
        return list(seen.values())

    def pack_by_id(self, pack_id: str) -> PackInfo | None:
        """A pack by its registry/Manager id (``cnr_id``) or by ``owner/repo`` (``aux_id``)."""
        key = pack_id.strip().lower()
        if "/" in key:
            return self.packs.get(normalize_repo_url("https://github.com/" + key))
        if key in self.by_id:
            return self.by_id[key]
        # Registry ids (cnr_id) are usually the lower-cased repository name, not the Manager's id.
        named = self.by_repo_name.get(key, [])
        return named[0] if len(named) == 1 else None


def _installed_package_dir() -> Path | None:
    """The folder of an installed ``comfyui_manager`` package that holds the catalog files, found without
    importing it; None when it is not installed.
    """
    spec = importlib.util.find_spec("comfyui_manager")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        if (Path(loc) / CATALOG_FILES[0]).is_file():
            return Path(loc)
    return None


def find_catalog_source(
    folder: Path | None = None, cache_dir: Path | None = None, wheel_dirs: Iterable[Path] = ()
) -> CatalogSource:
    """Locate the Manager's catalogs, or say how to get them.

    Order as in the module docstring; a folder counts only if it has ``extension-node-map.json``. The newest
    wheel by name is used when several are present. Raises ``ConfigError`` when ``folder`` is given but
    lacks the node map, or when nothing is found (the hint says to run ``catalogs refresh``).
    """
    if folder is not None:
        if not (folder / CATALOG_FILES[0]).is_file():
            raise ConfigError(f"{folder} has no {CATALOG_FILES[0]}", hint="point manager_catalog_dir at the folder that holds it")
        return CatalogSource("folder", folder)
    if cache_dir is not None and (current_cache_folder(cache_dir) / CATALOG_FILES[0]).is_file():
        return CatalogSource("cache", current_cache_folder(cache_dir))
    pkg = _installed_package_dir()
    if pkg is not None:
        return CatalogSource("package", pkg)
    for d in wheel_dirs:
        wheels = sorted(Path(d).glob("comfyui_manager-*.whl"))
        if wheels:
            return CatalogSource("wheel", wheels[-1])
    raise ConfigError(
        "ComfyUI-Manager's catalogs were not found",
        hint="run `comfyfixer catalogs refresh`, or set COMFYFIXER_MANAGER_CATALOG_DIR to a folder with extension-node-map.json",
    )


def _build(source: CatalogSource) -> ManagerCatalog:
    """Parse the Manager's three files from ``source`` into a ``ManagerCatalog``: packs by every install URL,
    class claims, preemptions and name patterns from the node map, the repository-name index and the
    model list. Only the node map is required; bad ``nodename_pattern`` regexes are skipped with a warning.
    """
    cat = ManagerCatalog(source=source)
    try:
        node_list = source.read("custom-node-list.json").get("custom_nodes", [])
    except FileNotFoundError:
        node_list = []
    for entry in node_list:
        ref = entry.get("reference") or (entry.get("files") or [""])[0]
        if not ref:
            continue
        info = PackInfo(
            id=str(entry.get("id") or normalize_repo_url(ref).rsplit("/", 1)[-1]),
            reference=ref,
            title=entry.get("title"),
            install_type=entry.get("install_type"),
            files=list(entry.get("files") or []),
            description=entry.get("description"),
        )
        for url in {ref, *info.files}:
            # A pack is found by any URL the Manager would install it from, not only its main reference.
            cat.packs.setdefault(normalize_repo_url(url), info)
        cat.by_id.setdefault(info.id.lower(), info)

    node_map: dict[str, Any] = source.read("extension-node-map.json")
    claims: dict[str, list[str]] = {}
    for url, value in node_map.items():
        norm = normalize_repo_url(url)
        names, meta = (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else (value, {})
        if norm not in cat.packs:
            cat.packs[norm] = PackInfo(id=norm.rsplit("/", 1)[-1], reference=url, title=meta.get("title_aux"))
        # The node map lists ComfyUI itself; its classes are the core ones.
        if norm == CORE_REPO:
            cat.core_classes = frozenset(names)
        for name in names:
            claims.setdefault(name, []).append(norm)
        for name in meta.get("preemptions", []) or []:
            cat.preemptions[name] = norm
        pattern = meta.get("nodename_pattern")
        if pattern:
            try:
                cat.patterns.append((re.compile(pattern), norm))
            except re.error:
                log.warning("ignoring bad nodename_pattern %r of %s", pattern, url)
    cat.node_claims = claims
    seen_refs: set[str] = set()
    for info in cat.packs.values():
        ref = normalize_repo_url(info.reference)
        if ref in seen_refs:
            continue
        seen_refs.add(ref)
        cat.by_repo_name.setdefault(ref.rsplit("/", 1)[-1], []).append(info)
    try:
        for m in source.read("model-list.json").get("models", []):
            if m.get("filename") and m.get("url"):
                cat.models.append(ManagerModel.model_validate(m))
    except FileNotFoundError:
        pass
    return cat


# Keyed on the node map's mtime: a refreshed catalog is a new entry, an unchanged one is parsed once.
@lru_cache(maxsize=4)
def _cached(kind: str, location: str, mtime: float) -> ManagerCatalog:
    return _build(CatalogSource(kind, Path(location)))


def load_manager_catalog(
    folder: Path | None = None, cache_dir: Path | None = None, wheel_dirs: Iterable[Path] = ()
) -> ManagerCatalog:
    """Load (once per process and file version) the Manager's catalogs.

    The cache key includes the node map's modification time, so a ``catalogs refresh`` in the same process
    is picked up; at most four versions are kept. A missing ``custom-node-list.json`` or
    ``model-list.json`` gives empty lists; only the node map is required.
    """
    src = find_catalog_source(folder, cache_dir, tuple(wheel_dirs))
    probe = src.location if src.kind == "wheel" else src.location / CATALOG_FILES[0]
    return _cached(src.kind, str(src.location), probe.stat().st_mtime)
