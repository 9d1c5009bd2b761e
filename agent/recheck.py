"""An unchanged ``comfyfixer check PATHS --comfyui DIR --json`` answered from its previous run.

A re-check where nothing changed should cost next to nothing, and most of a ``check`` process is starting
Python's libraries (typer, pydantic, our models), not checking. So :func:`main` in ``agent/cli.py`` asks
:func:`replay` first, before any of that is imported: if the same command line ran before under the same
settings and nothing it read has changed since, the stored answer is printed (with a new
``generated_at``) and the process ends. Otherwise the CLI runs as usual inside :func:`recording`, and
``check`` says what its answer depends on (:func:`watch_check`); the answer is then stored for next time.

What an answer depends on, and how a replay knows it still holds, without reading any file:

* the **key** (the stored file's name and first field): the command line, the current folder, the
  ``COMFYFIXER_*`` variables, the stat of ``.env`` and both ``comfyfixer.toml`` files, and the stat of every
  file of our own code and data (so an upgrade never replays an old answer);
* the **witness**, re-taken on every replay: every workflow file and folder under the paths checked, every
  folder and file under the ComfyUI's ``models`` and ``custom_nodes`` (with each pack's git ``HEAD`` and
  ``config``), the catalog files and their pointer, the schema file, the history folder (path, size, mtime
  of each);
* an **expiry**: when the catalogs are due for their automatic refresh (or a failed download for a retry).

Only the plain form replays: ``check`` with paths, ``--comfyui``, ``--json`` and ``--strict``; nothing
with ``--out``, a live ComfyUI (``--comfyui-url`` or the setting), extra model paths, ``--hashes``,
``--no-cache`` or ``--demo``, and only when the cache folder is the default one (the stored answers live in
``<cache>/recheck``, written with ``atomic_write``). A stored file is untrusted input: bounded in size, checked
field by field (pydantic is not imported here on purpose), ignored and replaced when anything is off.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from comfyfixer.agent.home import default_cache_dir, settings_files, settings_variables

if TYPE_CHECKING:
    from comfyfixer.agent.config import Settings
    from comfyfixer.tools.context import ToolContext
    from comfyfixer.tools.readiness import CheckResult

FORMAT = 2
FOLDER = "recheck"
MAX_FILE_BYTES = 64 * 2**20  # a stored answer larger than this is not read
MAX_ENTRIES = 200_000  # a tree with more entries than this is not witnessed (the check just runs)
KEEP = 32  # stored answers kept (the oldest are removed)
# Folders each kind of tree may leave out, each a subset of what its reader skips: the workflow listing skips
# nothing, the model scan ``.git``, the pack scan these and every hidden folder (``.git``'s HEAD and config
# are stat'ed on their own).
TREES = {"trees": frozenset(), "model_trees": frozenset({".git"}), "pack_trees": frozenset({"__pycache__", "node_modules"})}


def plain_check(argv: list[str]) -> tuple[list[str], str | None, bool] | None:
    """(paths, ``--comfyui``, ``--strict``) of the plain ``check PATHS [--comfyui DIR] --json [--strict]``
    form, or None for any other command line. Options are read as click reads them: ``--comfyui`` takes
    the next word whatever it is, and the last one given wins."""
    if len(argv) < 3 or argv[0] != "check" or "--json" not in argv:
        return None
    paths: list[str] = []
    comfyui: str | None = None
    strict = False
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--comfyui":
            if i + 1 >= len(argv):
                return None
            comfyui = argv[i + 1]
            i += 2
            continue
        if a.startswith("--comfyui="):
            comfyui = a.partition("=")[2]
        elif a == "--strict":
            strict = True
        elif a.startswith("-") and a != "--json":
            return None
        elif a != "--json":
            paths.append(a)
        i += 1
    return paths, comfyui, strict


def eligible(argv: list[str]) -> bool:
    """Whether ``argv`` is the plain ``check PATHS [--comfyui DIR] --json [--strict]`` form."""
    return plain_check(argv) is not None


def _stat(path: Path | str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return f"{path}:-"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _tree(root: Path | str, out: list[str], skip: frozenset[str] = frozenset(), hidden: bool = True) -> bool:
    """Append a line per folder (its mtime) and per file (size, mtime) under ``root``, following links
    once, leaving out folders named in ``skip`` (and hidden ones unless ``hidden``); False when there are
    more than ``MAX_ENTRIES``."""
    if not os.path.isdir(root):
        out.append(_stat(root))
        return True
    seen: set[tuple[int, int]] = set()
    for top, dirs, files in os.walk(root, followlinks=True):
        try:
            st = os.stat(top)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        out.append(f"{top}/:{st.st_mtime_ns}")
        dirs[:] = sorted(d for d in dirs if d not in skip and (hidden or not d.startswith(".")))
        out.extend(_stat(os.path.join(top, f)) for f in sorted(files))
        if len(out) > MAX_ENTRIES:
            return False
    return True


def _code_stamp() -> str:
    """The stat of every file of the agent and tools packages (code and bundled data)."""
    import comfyfixer.tools as tools_pkg

    lines: list[str] = [sys.version]
    for root in (Path(__file__).parent, *map(Path, tools_pkg.__path__)):
        _tree(root, lines, frozenset({"__pycache__"}))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _key(argv: list[str]) -> str:
    parts = [json.dumps(argv), os.getcwd(), json.dumps(sorted(settings_variables().items())),
             *(_stat(p) for p in settings_files()), _code_stamp()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _witness(watch: dict[str, list[str]]) -> str | None:
    """The digest of everything ``watch`` names, or None when a tree is too large to witness."""
    lines: list[str] = []
    for kind, skip in TREES.items():
        for root in watch[kind]:
            if not _tree(root, lines, skip, hidden=kind != "pack_trees"):
                return None
    lines.extend(_stat(f) for f in watch["files"])
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _store_dir() -> Path:
    return default_cache_dir() / FOLDER


def _load(path: Path) -> dict[str, Any] | None:
    """A stored answer (its ``stdout`` read from the ``.out`` file beside it), or None when it is missing,
    too large, or not exactly what :func:`Recording.finish` wrote."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES or path.with_suffix(".out").stat().st_size > MAX_FILE_BYTES:
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict):
            out = path.with_suffix(".out").read_bytes()
            doc["stdout"] = out.decode("utf-8") if hashlib.sha256(out).hexdigest() == doc.get("stdout_sha256") else None
    except (OSError, ValueError):
        return None
    ok = (isinstance(doc, dict) and doc.get("format") == FORMAT and isinstance(doc.get("key"), str)
          and isinstance(doc.get("witness"), str) and isinstance(doc.get("stdout"), str)
          and isinstance(doc.get("stderr"), str) and doc.get("exit") in (0, 1)
          and (doc.get("expires") is None or isinstance(doc.get("expires"), int | float))
          and isinstance(doc.get("watch"), dict)
          and all(isinstance(doc["watch"].get(k), list) and all(isinstance(x, str) for x in doc["watch"][k])
                  for k in (*TREES, "files")))
    return doc if ok else None


def _fresh_time(stdout: str) -> str:
    """The stored document with today's ``generated_at`` (the first key :func:`check_json` writes)."""
    head = '{\n  "generated_at": "'
    if not stdout.startswith(head):
        return stdout
    end = stdout.find('"', len(head))
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    return head + now + stdout[end:]


def replay(argv: list[str]) -> int | None:
    """Print the stored answer of ``argv`` and return its exit code, or None when there is none that
    still holds (then nothing was printed)."""
    try:
        if not eligible(argv):
            return None
        key = _key(argv)
        doc = _load(_store_dir() / f"{key[:32]}.json")
        if doc is None or doc["key"] != key:
            return None
        if doc["expires"] is not None and time.time() >= doc["expires"]:
            return None
        if _witness(doc["watch"]) != doc["witness"]:
            return None
    except Exception:  # a replay is only ever a shortcut: anything odd runs the real check
        return None
    from comfyfixer.tools.text import inert, inert_json

    # Written inert again: the stored files are local state, not proof that nobody edited them.
    sys.stderr.write(inert(doc["stderr"], multiline=True))
    sys.stdout.write(inert_json(_fresh_time(doc["stdout"])))
    sys.stdout.flush()
    return int(doc["exit"])


class _Tee(io.TextIOBase):
    """Writes through to ``target`` and keeps a copy."""

    def __init__(self, target: TextIO) -> None:
        self.target, self.copy = target, io.StringIO()

    def write(self, s: str) -> int:
        self.copy.write(s)
        return self.target.write(s)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")


class Recording:
    """One CLI run whose answer may be stored; ``watch`` is set by :func:`watch_check`."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.watch: dict[str, list[str]] | None = None
        self.expires: float | None = None
        self.out: _Tee | None = None
        self.err: _Tee | None = None

    def finish(self, exit_code: int) -> None:
        """Store the answer when the command said what it depends on and ended normally."""
        if self.watch is None or exit_code not in (0, 1) or self.out is None or self.err is None:
            return
        from comfyfixer.tools.paths import atomic_write

        witness = _witness(self.watch)
        stdout = self.out.copy.getvalue()
        if witness is None or len(stdout) > MAX_FILE_BYTES // 2:
            return
        key = _key(self.argv)
        folder = _store_dir()
        out = stdout.encode("utf-8")
        doc = {"format": FORMAT, "key": key, "witness": witness, "watch": self.watch, "expires": self.expires,
               "stdout_sha256": hashlib.sha256(out).hexdigest(), "stderr": self.err.copy.getvalue(), "exit": exit_code}
        # The document first: a description without its document (or with an older one) is never replayed.
        atomic_write(folder / f"{key[:32]}.out", out)
        atomic_write(folder / f"{key[:32]}.json", json.dumps(doc, ensure_ascii=False))
        stored = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in stored[:-KEEP]:
            old.unlink(missing_ok=True)
            old.with_suffix(".out").unlink(missing_ok=True)


_active: Recording | None = None


@contextmanager
def recording(argv: list[str]) -> Iterator[Recording]:
    """Run the CLI inside this to have its answer stored (copies of stdout and stderr are kept while it
    runs; nothing is stored unless the command calls :func:`watch_check`)."""
    global _active
    rec = Recording(argv)
    if not eligible(argv):
        yield rec
        return
    saved = sys.stdout, sys.stderr
    rec.out, rec.err = _Tee(sys.stdout), _Tee(sys.stderr)
    sys.stdout, sys.stderr = rec.out, rec.err
    _active = rec
    try:
        yield rec
    finally:
        _active = None
        sys.stdout, sys.stderr = saved


def watch_check(settings: Settings, ctx: ToolContext, paths: list[str], result: CheckResult) -> None:
    """Called by ``check`` with what its answer was computed from; makes the running :func:`recording`
    store it, unless the settings take it outside what a replay can witness."""
    rec = _active
    if rec is None:
        return
    from comfyfixer.tools.catalogs.manager import POINTER_FILE, manager_cache_dir
    from comfyfixer.tools.catalogs.refresh import ATTEMPT_FILE, RETRY_AFTER_FAILURE_S

    # Folders an extra_model_paths.yaml adds may be anywhere: such a check is not witnessed, it just runs.
    if (ctx.comfyui_url or ctx.extra_model_paths or result.inventory.get("extra_model_paths")
            or ctx.comfyui_dir is None or not ctx.use_cache
            or Path(settings.cache_dir).resolve() != default_cache_dir().resolve()):
        return
    comfy = Path(ctx.comfyui_dir).resolve()
    trees = list(paths)
    files = [str(comfy / "extra_model_paths.yaml"), str(comfy / "comfyui_version.py"),
             str(Path(ctx.state_dir) / "history" / "workflows")]
    for pack in sorted((comfy / "custom_nodes").glob("*/.git")):
        files += [str(pack / "HEAD"), str(pack / "config")]
    if ctx.object_info_file is not None:
        files.append(str(Path(ctx.object_info_file).resolve()))
    catalogs = manager_cache_dir(ctx.cache_dir)
    files += [str(catalogs / POINTER_FILE), str(catalogs / ATTEMPT_FILE)]
    if ctx.manager_catalog_dir is not None:
        trees.append(str(ctx.manager_catalog_dir))
    trees += [str(d) for d in ctx.manager_wheel_dirs]
    source = ctx.catalog_source()
    if source is not None:
        (files if source.kind == "wheel" else trees).append(str(source.location))
    expires: float | None = None
    if ctx.manager_catalog_dir is None and ctx.catalogs_max_age_hours > 0 and not ctx.offline:
        # The next check would refresh the catalogs (or retry a failed download): the answer lasts until then.
        due = []
        for name, after in ((POINTER_FILE, ctx.catalogs_max_age_hours * 3600), (ATTEMPT_FILE, RETRY_AFTER_FAILURE_S)):
            try:
                doc = json.loads((catalogs / name).read_text(encoding="utf-8"))
                due.append(float(doc["checked_ts" if name == POINTER_FILE else "ts"]) + after)
            except (OSError, ValueError, KeyError, TypeError):
                continue
        if not due:
            return
        expires = min(due)
    rec.watch = {"trees": trees, "model_trees": [str(comfy / "models")], "pack_trees": [str(comfy / "custom_nodes")],
                 "files": files}
    rec.expires = expires
