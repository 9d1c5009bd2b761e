"""Custom-node packs installed in ``custom_nodes/`` and the node classes they register, read statically.

ComfyUI imports every entry of ``custom_nodes/`` except ``__pycache__``, non-``.py`` files and names ending
in ``.disabled``; a pack registers the keys of its module-level ``NODE_CLASS_MAPPINGS`` or, only when it
has none, the ``node_id`` of each V3 node its ``comfy_entrypoint()`` lists. Importing third-party code
just to look is unsafe, so this module reads the source with :mod:`ast` instead:

* ``NODE_CLASS_MAPPINGS = {"Name": Cls, ...}`` (and any ``*_CLASS_MAPPINGS`` dict literal,
  ``dict(Name=...)``),
* ``NODE_CLASS_MAPPINGS.update({...})``, ``NODE_CLASS_MAPPINGS["Name"] = Cls``,
* V3: ``io.Schema(node_id="Name", ...)`` in packs that define ``comfy_entrypoint``,
* identity: ``pyproject.toml`` ``[project] name`` (the registry id), ``[tool.comfy] PublisherId``,
  ``[project.urls]`` and the git ``origin`` remote (the repository).

Known limits (reported with the result): names built at run time (loops, f-strings, constants from
other modules, mappings generated from a list) are not seen; an import failure at run time would make a
pack contribute nothing, which a static read cannot know. A live ``/object_info`` has no such limits.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import logging
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from comfyfixer.tools.inventory.cache import InventoryCache

log = logging.getLogger(__name__)

STATIC_LIMITS = (
    "static read of the packs' Python source: node names built at run time (loops, f-strings, names from "
    "other modules) are missed, and a pack that would fail to import is still counted"
)
LIVE_LIMITS = "read from a running ComfyUI's /object_info: exact for that server at the time of the check"

_SKIP_DIRS = {".git", "__pycache__", "node_modules", "web", "js", ".venv", "venv", "site-packages", "dist", "build"}
# A pack that vendors a whole library must not stall a check: read at most this many files of 2 MB.
_MAX_FILES = 600
_MAX_BYTES = 2_000_000
# Part of every cached pack's signature: bump it when the reader changes so old scans are redone.
SCAN_VERSION = "1"


class InstalledPack(BaseModel):
    """One entry of ``custom_nodes/``, filled by :func:`read_pack` (static) or from a live ``/object_info``.

    Identity (registry id, publisher, version, repository) comes from the pack's own ``pyproject.toml``
    and git config and is what lets the resolver say which pack a missing class belongs to.
    """

    name: str = Field(description="Folder (or .py file stem) name: what python_module shows after 'custom_nodes.'.")
    path: str = Field(description="Absolute path on disk, empty when only known from a live server.")
    enabled: bool = Field(default=True, description="False for entries ending in .disabled (ComfyUI skips them).")
    classes: list[str] = Field(default_factory=list, description="Node class names the pack registers.")
    registry_id: str | None = Field(default=None, description="pyproject [project] name, the Comfy registry id.")
    publisher_id: str | None = Field(default=None, description="pyproject [tool.comfy] PublisherId.")
    version: str | None = Field(default=None, description="pyproject [project] version.")
    reference: str | None = Field(default=None, description="Repository URL (pyproject urls or git origin).")
    api: list[Literal["v1", "v3"]] = Field(default_factory=list, description="Registration styles seen.")
    dynamic_keys: int = Field(default=0, description="Mapping entries whose name is not a literal (not counted).")
    parse_errors: list[str] = Field(default_factory=list, description="Files that could not be parsed.")


class CustomNodeInventory(BaseModel):
    """Installed packs and the class → pack map, with how it was obtained.

    Built by :func:`scan_custom_nodes` (``method="static"``) or :func:`inventory_from_object_info`
    (``"live"``); ``limits`` is the sentence reports show about what that method can miss. When two packs
    register the same class, ``class_to_pack`` names the one ComfyUI would use (the later one in load order).
    """

    method: Literal["live", "static", "none"] = Field(description="live /object_info, static source read, or none.")
    limits: str = Field(default="", description="What the method can miss.")
    dirs: list[str] = Field(default_factory=list, description="custom_nodes folders that were read.")
    packs: list[InstalledPack] = Field(default_factory=list)
    class_to_pack: dict[str, str] = Field(default_factory=dict, description="Node class → pack name (enabled packs).")

    def pack(self, name: str) -> InstalledPack | None:
        """The pack whose folder name (``.disabled`` removed) is ``name``, or None."""
        return next((p for p in self.packs if p.name == name), None)


# --- pack identity ---------------------------------------------------------------------------------------
def _read_pyproject(pack_dir: Path, pack: InstalledPack) -> None:
    """Fill the pack's registry id (lower-cased), version, publisher and repository URL from its
    ``pyproject.toml``; a file that does not parse is recorded in ``parse_errors``.
    """
    f = pack_dir / "pyproject.toml"
    if not f.is_file():
        return
    try:
        data = tomllib.loads(f.read_text(encoding="utf-8", errors="replace"))
    except (tomllib.TOMLDecodeError, OSError) as exc:
        pack.parse_errors.append(f"pyproject.toml: {exc}")
        return
    project: dict[str, Any] = data["project"] if isinstance(data.get("project"), dict) else {}
    tool: dict[str, Any] = data["tool"] if isinstance(data.get("tool"), dict) else {}
    comfy: dict[str, Any] = tool["comfy"] if isinstance(tool.get("comfy"), dict) else {}
    if isinstance(project.get("name"), str):
        pack.registry_id = project["name"].strip().lower()
    if isinstance(project.get("version"), str):
        pack.version = project["version"]
    if isinstance(comfy.get("PublisherId"), str):
        pack.publisher_id = comfy["PublisherId"]
    urls: dict[str, Any] = project["urls"] if isinstance(project.get("urls"), dict) else {}
    for k in ("Repository", "repository", "Source", "Homepage", "homepage"):
        if isinstance(urls.get(k), str) and urls[k].startswith("http"):
            pack.reference = urls[k].rstrip("/")
            break


def _read_git_origin(pack_dir: Path) -> str | None:
    """The ``origin`` remote of the pack's git checkout as an https URL without ``.git``, or None."""
    cfg = pack_dir / ".git" / "config"
    if not cfg.is_file():
        return None
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(cfg, encoding="utf-8")
    except (configparser.Error, OSError):
        return None
    url = parser.get('remote "origin"', "url", fallback=None)
    if not url:
        return None
    url = url.strip()
    # An SSH remote becomes the https URL the catalogs list, so the two compare equal.
    if url.startswith("git@github.com:"):
        url = "https://github.com/" + url.split(":", 1)[1]
    return url[:-4] if url.endswith(".git") else url


# --- source reading ----------------------------------------------------------------------------------------
def _is_mapping_name(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name.endswith("CLASS_MAPPINGS")


def _dict_keys(node: ast.expr) -> tuple[list[str], int]:
    """(literal string keys, count of non-literal keys) of a dict display, a ``dict(...)`` call or a dict
    comprehension (all dynamic). ``**other`` entries are skipped: that mapping is read where it is defined.
    """
    keys: list[str] = []
    dynamic = 0
    if isinstance(node, ast.Dict):
        for k in node.keys:
            if k is None:  # ``**other`` — that mapping is read where it is defined
                continue
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                keys.append(k.value)
            else:
                dynamic += 1
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        keys.extend(kw.arg for kw in node.keywords if kw.arg)
        for arg in node.args:
            k2, d2 = _dict_keys(arg)
            keys.extend(k2)
            dynamic += d2
    elif isinstance(node, ast.DictComp):
        dynamic += 1
    return keys, dynamic


class _Visitor(ast.NodeVisitor):
    """Collects node registrations from one module's AST: V1 mapping keys, V3 ``node_id`` values, how many
    keys were not literals, and whether the module defines or imports ``comfy_entrypoint`` or a mapping.
    """
    def __init__(self) -> None:
        self.v1: list[str] = []
        self.v3: list[str] = []
        self.dynamic = 0
        self.has_entrypoint = False
        self.has_mapping = False

    def _add(self, node: ast.expr) -> None:
        keys, dyn = _dict_keys(node)
        self.v1.extend(keys)
        self.dynamic += dyn

    def visit_Assign(self, node: ast.Assign) -> None:
        """``NODE_CLASS_MAPPINGS = {...}`` and ``NODE_CLASS_MAPPINGS["Name"] = Cls``."""
        for target in node.targets:
            if _is_mapping_name(target):
                self.has_mapping = True
                self._add(node.value)
            elif isinstance(target, ast.Subscript) and _is_mapping_name(target.value):
                self.has_mapping = True
                s = target.slice
                if isinstance(s, ast.Constant) and isinstance(s.value, str):
                    self.v1.append(s.value)
                else:
                    self.dynamic += 1
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        """``NODE_CLASS_MAPPINGS: dict[...] = {...}``."""
        if node.value is not None and _is_mapping_name(node.target):
            self.has_mapping = True
            self._add(node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """``NODE_CLASS_MAPPINGS.update({...})`` and ``io.Schema(node_id="Name", ...)`` (any callee named
        Schema).
        """
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr == "update" and _is_mapping_name(f.value):
            self.has_mapping = True
            for arg in node.args:
                self._add(arg)
            self.v1.extend(kw.arg for kw in node.keywords if kw.arg)
        fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if fname == "Schema":
            for kw in node.keywords:
                if kw.arg == "node_id":
                    if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        self.v3.append(kw.value.value)
                    else:
                        self.dynamic += 1
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        """Notes a module-level or nested ``comfy_entrypoint`` definition (the V3 registration hook)."""
        if node.name == "comfy_entrypoint":
            self.has_entrypoint = True
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        """As :meth:`visit_FunctionDef`; V3 entrypoints are usually ``async def``."""
        if node.name == "comfy_entrypoint":
            self.has_entrypoint = True
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        """A re-exported ``comfy_entrypoint`` or ``*_CLASS_MAPPINGS`` counts as having one (the names
        themselves are read in the module that defines them); a star import proves nothing.
        """
        for alias in node.names:
            if alias.name == "comfy_entrypoint":
                self.has_entrypoint = True
            if alias.name.endswith("CLASS_MAPPINGS") or alias.name == "*":
                self.has_mapping = self.has_mapping or alias.name != "*"


def _py_files(pack_path: Path) -> list[Path]:
    """The pack's ``.py`` files in a stable order (itself, for a single-file pack), skipping front-end,
    environment and build folders and stopping at ``_MAX_FILES``.
    """
    if pack_path.is_file():
        return [pack_path]
    out: list[Path] = []
    for root, dirs, files in os.walk(pack_path):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        out.extend(Path(root) / f for f in sorted(files) if f.endswith(".py"))
        if len(out) >= _MAX_FILES:
            log.info("%s: more than %d Python files, reading the first ones", pack_path, _MAX_FILES)
            return out[:_MAX_FILES]
    return out


def pack_signature(pack_path: Path) -> str:
    """A fingerprint of the pack's state from file metadata only (names, sizes, mtimes of source files).

    Covers every ``.py`` file read (same limits as the scan), ``pyproject.toml`` and the git ``config``
    and ``HEAD``, plus ``SCAN_VERSION`` so a change to the reader invalidates old cache entries. Cheap
    enough to compute on every check; no file content is read.
    """
    h = hashlib.sha256(SCAN_VERSION.encode())
    files = _py_files(pack_path)
    if pack_path.is_dir():
        files += [pack_path / "pyproject.toml", pack_path / ".git" / "config", pack_path / ".git" / "HEAD"]
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def read_pack(pack_path: Path, *, classes: bool = True) -> InstalledPack:
    """Read one ``custom_nodes`` entry statically (never imports it).

    ``pack_path`` is a folder or a single ``.py`` file, either possibly ending in ``.disabled``. With
    ``classes=False`` only the identity is read. At most 600 ``.py`` files (``_MAX_FILES``) are parsed and
    files over 2 MB (``_MAX_BYTES``) are skipped, so a pack vendoring a whole library cannot stall a check;
    files that do not parse are listed in ``parse_errors``. Never raises for a bad pack.
    """
    name = pack_path.name
    enabled = not name.endswith(".disabled")
    base = name[: -len(".disabled")] if not enabled else name
    if pack_path.is_file() and base.endswith(".py"):
        base = base[:-3]
    pack = InstalledPack(name=base, path=str(pack_path), enabled=enabled)
    if pack_path.is_dir():
        _read_pyproject(pack_path, pack)
        pack.reference = pack.reference or _read_git_origin(pack_path)
    if not classes:
        return pack
    v1: list[str] = []
    v3: list[str] = []
    has_mapping = has_entry = False
    for f in _py_files(pack_path):
        try:
            if f.stat().st_size > _MAX_BYTES:
                continue
            tree = ast.parse(f.read_bytes(), filename=str(f))
        except (SyntaxError, ValueError, OSError) as exc:
            pack.parse_errors.append(f"{f.relative_to(pack_path.parent)}: {type(exc).__name__}")
            continue
        vis = _Visitor()
        vis.visit(tree)
        v1 += vis.v1
        v3 += vis.v3
        pack.dynamic_keys += vis.dynamic
        has_mapping = has_mapping or vis.has_mapping
        has_entry = has_entry or vis.has_entrypoint
    if v1 or has_mapping:
        pack.api.append("v1")
    # ComfyUI only asks comfy_entrypoint when the module has no NODE_CLASS_MAPPINGS; a pack mixing both
    # styles across files usually aggregates them, so V3 ids are kept whenever an entrypoint exists.
    if has_entry and v3:
        pack.api.append("v3")
    else:
        v3 = []
    pack.classes = sorted(set(v1) | set(v3))
    return pack


def list_pack_entries(custom_nodes_dir: Path) -> list[Path]:
    """Entries ComfyUI would consider (plus ``.disabled`` ones, reported as disabled).

    Folders and ``.py``/``.py.disabled`` files, sorted by name (ComfyUI's load order), without
    ``__pycache__`` and hidden entries. An unreadable folder gives ``[]``.
    """
    try:
        entries = sorted(os.scandir(custom_nodes_dir), key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for e in entries:
        if e.name == "__pycache__" or e.name.startswith("."):
            continue
        p = Path(e.path)
        if e.is_dir() or (e.is_file() and (e.name.endswith(".py") or e.name.endswith(".py.disabled"))):
            out.append(p)
    return out


def scan_custom_nodes(dirs: list[Path], *, cache: InventoryCache | None = None) -> CustomNodeInventory:
    """Statically scan every ``custom_nodes`` folder; later packs win a class name, like ComfyUI's import
    order.

    A pack whose :func:`pack_signature` matches the cache is not parsed again. Disabled packs are listed
    but contribute no classes to ``class_to_pack``.
    """
    inv = CustomNodeInventory(method="static", limits=STATIC_LIMITS, dirs=[str(d) for d in dirs])
    for d in dirs:
        for entry in list_pack_entries(d):
            sig = pack_signature(entry)
            data = cache.get_pack(str(entry), sig) if cache is not None else None
            if data is not None:
                pack = InstalledPack.model_validate(data)
            else:
                pack = read_pack(entry)
                if cache is not None:
                    cache.put_pack(str(entry), sig, pack.model_dump())
            inv.packs.append(pack)
            if pack.enabled:
                for cls in pack.classes:
                    inv.class_to_pack[cls] = pack.name
    return inv


def inventory_from_object_info(
    object_info: dict[str, dict], *, local: CustomNodeInventory | None = None
) -> CustomNodeInventory:
    """Packs and classes from a live ``/object_info``; ``python_module`` ``custom_nodes.X`` names pack X.

    ``local`` (a scan of the same install, classes optional) lends pack identities (registry id, repository),
    and its packs that the server does not show (disabled, or failed to import) are appended with no classes.
    Core classes (``python_module`` not under ``custom_nodes.``) belong to no pack.
    """
    inv = CustomNodeInventory(method="live", limits=LIVE_LIMITS, dirs=list(local.dirs) if local else [])
    by_name: dict[str, InstalledPack] = {}
    for cls, info in object_info.items():
        module = str(info.get("python_module") or "") if isinstance(info, dict) else ""
        if not module.startswith("custom_nodes."):
            continue
        pack_name = module[len("custom_nodes.") :]
        pack = by_name.get(pack_name)
        if pack is None:
            known = local.pack(pack_name) if local else None
            pack = known.model_copy(update={"classes": []}) if known else InstalledPack(name=pack_name, path="")
            by_name[pack_name] = pack
        pack.classes.append(cls)
        inv.class_to_pack[cls] = pack_name
    for p in by_name.values():
        p.classes.sort()
    inv.packs = sorted(by_name.values(), key=lambda p: p.name)
    if local:  # disabled or failed-to-import packs are on disk but not in object_info
        inv.packs += [p.model_copy(update={"classes": []}) for p in local.packs if p.name not in by_name]
    return inv
