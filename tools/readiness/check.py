"""The readiness check of many workflows: inventory once, then each workflow's readiness from the cache
or by inspecting and assessing it.

Two caches (the inventory cache's SQLite file, in the caller's cache folder): each workflow's inspection,
keyed on its path, size and mtime plus what the inspector reads (its code, the schemas, the catalogs); and
each workflow's readiness, keyed on the same plus a fingerprint of the inventory (every model file found,
the packs and their classes, ComfyUI's version). A re-check where nothing changed therefore lists the
folders, stats the files and validates the stored results: the schemas and catalogs are not even parsed.
Anything that changes (a model file added, a pack installed, a catalog refreshed, a workflow saved) gives
other keys, so the affected workflows are assessed again. Stored entries are untrusted: each is bounded in
size and validated into its model; one that fails is ignored and rebuilt.

Asked for the VRAM fit too (``fit=``, a :class:`~comfyfixer.tools.fit.report.FitTarget`: ``check --out`` and
``schedule``), the check keeps a third cache the same way: each workflow's estimate keyed on its readiness key
plus the VRAM target and the fit code's fingerprint, its entry witnessed by the size and mtime of each model
file whose header it read. A workflow none of the caches answers for is loaded and inspected once, for both.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from comfyfixer.tools.catalogs.manager import CATALOG_FILES, CatalogSource, ManagerCatalog
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError, ConfigError, InputError, WorkflowFormatError
from comfyfixer.tools.fit.report import FitTarget  # light: the estimate itself loads only when asked for
from comfyfixer.tools.inventory import (
    InventoryCache,
    InventoryInput,
    LocalInventory,
    ModelFile,
    build_inventory,
    file_sha256,
)
from comfyfixer.tools.readiness.assess import Assessor, invalid
from comfyfixer.tools.readiness.models import CheckInput, CheckResult, Summary, WorkflowReadiness
from comfyfixer.tools.schema import SchemaSet, bundled_core_schemas, load_object_info, parse_object_info
from comfyfixer.tools.toolset import capability
from comfyfixer.tools.workflow.loader import iter_workflow_files

if TYPE_CHECKING:
    from comfyfixer.tools.fit.models import FitReport
    from comfyfixer.tools.fit.report import FitEstimator
    from comfyfixer.tools.workflow.loader import LoadedWorkflow
    from comfyfixer.tools.workflow.models import InspectionResult

log = logging.getLogger(__name__)

INSPECTIONS = "inspections"
READINESS = "readiness"
FITS = "fits"
SCHEMA_SOURCES = "schema-sources"
# A stored result larger than this is not read back (a real one is a few kilobytes).
MAX_ENTRY_CHARS = 2_000_000
# Results kept per cache (at least twice the workflows of the check that writes): about 100 MB at most.
KEEP_ENTRIES = 20_000
_NO_CATALOG = "ComfyUI-Manager catalogs not loaded"
# What the readiness check reads from an inspection: only this is cached, to keep warm runs light.
_KEPT = {"path", "format", "container", "node_types", "models", "custom_nodes", "virtual_nodes", "warnings",
         "schema_source", "comfyui_version"}


def _code_fingerprint() -> str:
    """Changes whenever the inspector's or the assessor's code changes, so cached results never outlive it:
    the packages that read a workflow and compare it (images' embedded workflows included) and ComfyUI's
    folder table they share."""
    tools = Path(__file__).resolve().parent.parent
    files = [p for pkg in ("workflow", "schema", "catalogs", "inventory", "readiness", "imagemeta")
             for p in sorted((tools / pkg).glob("*.py"))]
    return _files_fingerprint([*files, tools / "model_folders.py"])


def _files_fingerprint(files: list[Path]) -> str:
    """Name, size and mtime of each file (code, data), hashed: changes whenever one of them does."""
    h = hashlib.sha256()
    for p in files:
        try:
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        except OSError:
            h.update(f"{p.name}:-;".encode())
    return h.hexdigest()[:16]


def _stat_id(files: list[Path]) -> str:
    """Path, size and mtime of each file: changes when any of them is replaced."""
    parts = []
    for f in files:
        try:
            st = f.stat()
            parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{f}:-")
    return ";".join(parts)


def _schema_id(object_info_file: Path | None, inventory: LocalInventory) -> str:
    """What the schemas are made of, without parsing them: the live answer, the saved file's stat, or the
    stat of the bundled core snapshots (``tools/schema/data/*.json``; the packs' recordings below it are
    not read by the check)."""
    if inventory.object_info is not None:  # live combo lists can change what the inspector reads
        return "live:" + hashlib.sha256(json.dumps(inventory.object_info, sort_keys=True, default=str).encode()).hexdigest()
    if object_info_file is not None:
        return "file:" + _stat_id([Path(object_info_file).resolve()])
    import comfyfixer.tools.schema as schema_pkg

    return "bundled:" + _stat_id(sorted((Path(schema_pkg.__file__ or "").parent / "data").glob("*.json")))


def _catalog_id(source: CatalogSource | None) -> str:
    """Which catalogs, and which version of them (a refreshed set lives in a new folder; a user's folder or
    the installed package is stat'ed)."""
    if source is None:
        return "no-catalog"
    files = [source.location] if source.kind == "wheel" else [source.location / n for n in CATALOG_FILES]
    return source.describe() + "|" + _stat_id(files)


def _inventory_id(inventory: LocalInventory, summary: dict[str, object]) -> str:
    """Everything of the inventory an assessment reads: every model file found (folder key, name, where,
    size), the packs with their classes and state, ComfyUI's version and the inventory's summary."""
    h = hashlib.sha256(json.dumps(summary, sort_keys=True, default=str).encode())
    for files in inventory.models.by_basename.values():
        for f in files:
            h.update(f"{f.key}\0{f.name}\0{f.location}\0{f.path}\0{f.size}\n".encode())
    h.update(inventory.nodes.model_dump_json().encode())
    return h.hexdigest()


def _schemas_for(object_info_file: Path | None, inventory: LocalInventory) -> SchemaSet:
    if inventory.object_info is not None:
        return parse_object_info(inventory.object_info, f"live /object_info ({inventory.comfyui_url})", inventory.comfyui_version)
    if object_info_file is not None:
        return load_object_info(object_info_file)
    return bundled_core_schemas()


def display_names(files: list[Path], roots: list[Path]) -> dict[Path, str]:
    """Short, unique names: the path below the folder it was found in, else the file name."""
    out: dict[Path, str] = {}
    used: set[str] = set()
    # ``relative_to`` by parts, each folder's parts taken once (this runs for every file on every check).
    folders = [(r.parts, r.is_absolute()) for r in roots if r.is_dir()]
    for f in files:
        name = f.name
        parts = f.parts
        for prefix, absolute in folders:
            if absolute == f.is_absolute() and len(parts) > len(prefix) and parts[: len(prefix)] == prefix:
                name = "/".join(parts[len(prefix) :])
                break
        base, n = name, 2
        while name in used:
            name = f"{base} ({n})"
            n += 1
        used.add(name)
        out[f] = name
    return out


@capability(command="check")
def check_workflows(
    inp: CheckInput,
    ctx: ToolContext,
    *,
    progress: Callable[[int, int], None] | None = None,
    fit: FitTarget | None = None,
) -> CheckResult:
    """Check whether each workflow runs on the user's ComfyUI, and exactly what is missing.

    A workflow is runnable only when every node class it uses is core or installed and every model
    it loads is in a folder its loader reads. For each workflow the result lists the missing node
    classes (with the pack that provides each: RESOLVED, UNCERTAIN with candidates, NOT_FOUND, or
    CORE_UPDATE when ComfyUI itself is too old), the missing model files, and the misplaced ones
    (found in another folder). A file that is not a workflow is ``invalid`` and never stops the
    others. Reads only; changes nothing.

    ``fit`` (the reports' choice, not the assistant's) also sizes each workflow for that VRAM: the
    result's ``fits`` then maps each workflow that loads a model to its estimate.
    """
    if ctx.comfyui_dir is None and ctx.comfyui_url is None:
        raise ConfigError("no ComfyUI to check against",
                          hint="pass --comfyui DIR or --comfyui-url URL (or set COMFYFIXER_COMFYUI_DIR)")
    return _check(inp, ctx, progress, fit)


class _Work:
    """What inspecting and assessing a workflow needs, built on the first workflow the caches do not
    answer for (a warm re-check builds none of it)."""

    def __init__(self, ctx: ToolContext, inventory: LocalInventory, hashes: bool, cache: InventoryCache | None) -> None:
        self.ctx, self.inventory, self.hashes, self.cache = ctx, inventory, hashes, cache

    @cached_property
    def schemas(self) -> SchemaSet:
        return _schemas_for(self.ctx.object_info_file, self.inventory)

    @cached_property
    def catalog(self) -> ManagerCatalog | None:
        return self.ctx.catalog()

    @cached_property
    def assessor(self) -> Assessor:
        schemas = self.schemas
        core = {c for c, s in schemas.items() if not s.is_custom}
        if self.inventory.object_info is None and self.ctx.object_info_file is not None:
            # A saved /object_info is a dump of the user's own server: its custom classes are installed there.
            core = set(schemas)
        catalog_url = _catalog_model_urls(self.catalog)
        cache = self.cache

        def hasher(f: ModelFile) -> str | None:
            try:
                return file_sha256(Path(f.path), cache)
            except OSError as exc:
                log.warning("cannot hash %s: %s", f.path, exc)
                return None

        return Assessor(
            self.inventory, core, schema_version=schemas.comfyui_version,
            catalog_url=catalog_url.get if catalog_url else None, hasher=hasher if self.hashes else None,
        )


def _bounded(text: str | None) -> str | None:
    """A stored entry's text, or None when it is absent or larger than any real one (never parsed)."""
    return None if text is None or len(text) > MAX_ENTRY_CHARS else text


def _stored_readiness(text: str | None) -> WorkflowReadiness | None:
    """A cached readiness, validated, or None when it is absent, too large or not valid."""
    text = _bounded(text)
    if text is None:
        return None
    try:
        return WorkflowReadiness.model_validate_json(text)
    except ValidationError:
        log.debug("ignoring a damaged cached readiness", exc_info=True)
        return None


def _stored_inspection(text: str | None) -> InspectionResult | str | None:
    """A cached inspection (validated) or the error a file gave when it was inspected; None when the entry
    is absent, too large or not valid."""
    text = _bounded(text)
    if text is None:
        return None
    try:
        entry = json.loads(text)
        if isinstance(entry, dict) and isinstance(entry.get("error"), str):
            return str(entry["error"])
        from comfyfixer.tools.workflow.models import InspectionResult

        return InspectionResult.model_validate(entry["inspection"]) if isinstance(entry, dict) else None
    except (ValueError, KeyError):  # ValidationError is a ValueError
        log.debug("ignoring a damaged cached inspection", exc_info=True)
        return None


def _stored_fit(text: str | None) -> tuple[FitReport | None] | None:
    """A cached estimate as a 1-tuple (its report, or None for a workflow that loads no model or cannot be
    read), or None when the entry is absent, too large, not valid, or a model file it read has changed."""
    text = _bounded(text)
    if text is None:
        return None
    try:
        entry = json.loads(text)
        files, report = entry["files"], entry["fit"]
        for path, size, mtime in files:
            if not (isinstance(path, str) and _stat(Path(path)) == (size, mtime)):
                return None  # a model file was rewritten (or removed) since: read it again
        if report is None:
            return (None,)
        from comfyfixer.tools.fit.models import FitReport

        return (FitReport.model_validate(report),)
    except (ValueError, KeyError, TypeError):  # ValidationError is a ValueError
        log.debug("ignoring a damaged cached fit estimate", exc_info=True)
        return None


class _Parsed:
    """One workflow loaded and inspected at most once in a check, for its readiness and its fit alike."""

    def __init__(self, path: Path, work: _Work) -> None:
        self.path, self.work = path, work
        self._value: tuple[LoadedWorkflow, InspectionResult] | None = None
        self._error: Exception | None = None

    def get(self) -> tuple[LoadedWorkflow, InspectionResult]:
        """The loaded workflow and its inspection; raises what loading or inspecting raised."""
        if self._value is None and self._error is None:
            from comfyfixer.tools.workflow.inspect import inspect_loaded
            from comfyfixer.tools.workflow.loader import load_workflow

            try:
                loaded = load_workflow(self.path)
                self._value = loaded, inspect_loaded(loaded, schemas=self.work.schemas, catalog=self.work.catalog)
            except Exception as exc:  # kept, so the fit does not read the file again to fail the same way
                self._error = exc
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def _check(inp: CheckInput, ctx: ToolContext, progress: Callable[[int, int], None] | None,
           fit: FitTarget | None) -> CheckResult:
    """Inventory once; each workflow's readiness from the cache, else inspected (cached on file metadata)
    and assessed."""
    t0 = time.perf_counter()
    if not inp.paths:
        raise InputError("no workflows given", hint="pass workflow files or folders")
    roots = [Path(p) for p in inp.paths]
    for r in roots:
        if not r.exists():
            raise InputError(f"not found: {r}", hint="pass existing workflow files or folders")
    cache_dir = ctx.inventory_cache_dir()
    cache = InventoryCache(cache_dir) if cache_dir is not None else None
    try:
        inventory = build_inventory(
            InventoryInput(
                comfyui_dir=ctx.comfyui_dir, comfyui_url=ctx.comfyui_url,
                extra_model_paths=list(ctx.extra_model_paths), cache_dir=None,
            ),
            cache=cache,
        )
        inv_summary = inventory.summary()
        t_inv = time.perf_counter()
        work = _Work(ctx, inventory, inp.hashes, cache)
        catalog_source = ctx.catalog_source()
        if catalog_source is None:
            ctx.catalog()  # says (once) why there are none, warm or cold
        schema_id = _schema_id(ctx.object_info_file, inventory)
        excluded = [Path(e).resolve() for e in inp.exclude]
        files = [f for f in iter_workflow_files(roots) if not any(_under(f, e) for e in excluded)]
        names = display_names(files, roots)
        inspect_context = "|".join((_code_fingerprint(), schema_id, _catalog_id(catalog_source)))
        inventory_context = inspect_context + "|" + _inventory_id(inventory, inv_summary)
        # With --hashes a result carries each model's sha256, which the inventory's stat does not pin down.
        readiness_context = None if inp.hashes else inventory_context
        stats = {f: _stat(f) for f in files}
        r_keys = {f: _file_key(f, stats[f], readiness_context) for f in files} if readiness_context else {}
        stored = cache.get_many_text(READINESS, [k for k in r_keys.values() if k]) if cache is not None else {}
        fitter: FitEstimator | None = None
        f_keys: dict[Path, str | None] = {}
        stored_fits: dict[str, str] = {}
        if fit is not None:
            from comfyfixer.tools.fit.report import FitEstimator, fit_code_files

            fitter = FitEstimator(fit, inventory.comfyui_dir, model_dirs={  # the inventory's, extra paths included
                key: [Path(d) for d in dirs if not d.startswith(("http://", "https://"))]
                for key, dirs in inventory.models.folders.items()} if inventory.comfyui_dir is not None else None)
            # The readiness key plus the target and the fit code (an estimate reads no sha256: --hashes keeps it).
            fit_context = "|".join((inventory_context, _files_fingerprint(fit_code_files()), fit.key))
            f_keys = {f: _file_key(f, stats[f], fit_context) for f in files}
            if cache is not None:
                stored_fits = cache.get_many_text(FITS, [k for k in f_keys.values() if k])
        misses = [f for f in files if r_keys.get(f) not in stored]
        i_keys = {f: _file_key(f, stats[f], inspect_context) for f in misses}
        inspections = cache.get_many_text(INSPECTIONS, [k for k in i_keys.values() if k]) if cache and misses else {}
        fresh_inspections: dict[str, object] = {}
        fresh_readiness: dict[str, object] = {}
        fresh_fits: dict[str, object] = {}
        fits: dict[str, FitReport] = {}
        results: list[WorkflowReadiness] = []
        counts = {"readiness_cached": 0, "inspections_cached": 0}
        if fitter is not None:
            counts["fits_cached"] = 0
        for i, f in enumerate(files):
            name = names[f]
            r_key = r_keys.get(f)
            parsed = _Parsed(f, work)
            ready = _stored_readiness(stored.get(r_key) if r_key else None)
            if ready is not None:
                counts["readiness_cached"] += 1
                ready.path, ready.name = str(f), name
            else:
                ready, cacheable = _assess_one(f, name, i_keys.get(f), inspections, fresh_inspections, parsed, counts)
                if r_key and cacheable:
                    # Defaults left out: a smaller entry is validated faster on every later check.
                    fresh_readiness[r_key] = ready.model_dump(mode="json", exclude={"name", "regression_report"},
                                                              exclude_defaults=True)
            if fitter is not None:
                report = _fit_one(f, f_keys.get(f), stored_fits, fresh_fits, parsed, fitter, counts)
                if report is not None:
                    fits[str(f)] = report
            results.append(ready)
            if progress is not None:
                progress(i + 1, len(files))
        if cache is not None and (fresh_inspections or fresh_readiness or fresh_fits):
            # Bounded: the newest entries are the ones still asked for.
            fresh: dict[str, dict[str, Any]] = {INSPECTIONS: fresh_inspections, READINESS: fresh_readiness}
            if fresh_fits:
                fresh[FITS] = fresh_fits
            cache.put_many_trimmed(fresh, max(KEEP_ENTRIES, 2 * len(files)))
        schema_source = _schema_source(cache, schema_id, work)
        notes = list(inventory.warnings)
        if inventory.object_info is None and ctx.object_info_file is not None:
            notes.append(f"node classes (core and packs) taken from {ctx.object_info_file}")
        if catalog_source is None:
            # Said once for the whole check rather than in every workflow.
            for r in results:
                r.warnings = [w for w in r.warnings if not w.startswith(_NO_CATALOG)]
            unnamed = sorted({n.class_type for r in results for n in r.missing_node_types if not n.packs})
            notes.append("ComfyUI-Manager catalogs not loaded: packs were named from the workflows' own hints only"
                         + (f"; could not name the pack of {len(unnamed)} class(es): {', '.join(unnamed[:8])}"
                            + (", …" if len(unnamed) > 8 else "") if unnamed else ""))
        t_end = time.perf_counter()
        summary = Summary(
            total=len(results),
            runnable=sum(r.status == "runnable" for r in results),
            missing=sum(r.status == "missing" for r in results),
            invalid=sum(r.status == "invalid" for r in results),
        )
        return CheckResult(
            generated_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
            inventory=inv_summary,
            schema_source=schema_source,
            catalog_source=catalog_source.describe() if catalog_source is not None else None,
            workflows=results,
            summary=summary,
            notes=notes,
            timings={"inventory_s": round(t_inv - t0, 4), "workflows_s": round(t_end - t_inv, 4),
                     "total_s": round(t_end - t0, 4)},
            cache={**counts, "inspections_new": len(fresh_inspections),
                   "model_dirs_scanned": inventory.models.dirs_scanned,
                   "model_dirs_from_cache": inventory.models.dirs_from_cache},
            fits=fits if fit is not None else None,
            fit_where=fit.where if fit is not None else "",
        )
    finally:
        if cache is not None:
            cache.close()


def _assess_one(f: Path, name: str, key: str | None, inspections: dict[str, str],
                fresh: dict[str, object], parsed: _Parsed, counts: dict[str, int]) -> tuple[WorkflowReadiness, bool]:
    """One workflow's readiness and whether it may be cached: its inspection from the cache or inspected
    now (and stored in ``fresh``), compared with the inventory. A file that is not a workflow is
    ``invalid``; so is one whose reading failed unexpectedly, and that result is not cached."""
    work = parsed.work
    insp = _stored_inspection(inspections.get(key) if key else None)
    if insp is not None:
        counts["inspections_cached"] += 1
    if isinstance(insp, str):
        return invalid(str(f), insp, name=name), True
    if insp is None:
        try:
            insp = parsed.get()[1]
        except ComfyFixerError as exc:
            message = _error_text(exc)
            if key:
                fresh[key] = {"error": message}
            return invalid(str(f), message, name=name), True
        except Exception as exc:  # one broken file must never stop the others
            log.debug("inspecting %s failed", f, exc_info=True)
            return invalid(str(f), f"could not read the workflow: {type(exc).__name__}: {exc}", name=name), False
        if key:
            fresh[key] = {"inspection": insp.model_dump(mode="json", include=_KEPT)}
    insp.path = str(f)
    return work.assessor.assess(insp, name=name), True


def _fit_one(f: Path, key: str | None, stored: dict[str, str], fresh: dict[str, object], parsed: _Parsed,
             fitter: FitEstimator, counts: dict[str, int]) -> FitReport | None:
    """One workflow's VRAM estimate (None when it loads no model or cannot be read): from the cache, else
    from its parse (shared with its readiness) with the check's schemas, and stored in ``fresh``."""
    hit = _stored_fit(stored.get(key) if key else None)
    if hit is not None:
        counts["fits_cached"] += 1
        report = hit[0]
        if report is not None:
            report.path = str(f)
        return report
    from comfyfixer.tools.fit.report import read_files

    try:
        loaded, insp = parsed.get()
        report = fitter.estimate(str(f), loaded.graph, insp.models, parsed.work.schemas)
    except ComfyFixerError as exc:
        log.debug("no fit estimate for %s: %s", f, exc)
        report = None
    except Exception:  # one workflow the estimate trips on must never stop the check; not cached
        log.debug("estimating %s failed", f, exc_info=True)
        return None
    if key:
        fresh[key] = {"fit": report.model_dump(mode="json", exclude_defaults=True) if report is not None else None,
                      "files": read_files(report)}
    return report


def _schema_source(cache: InventoryCache | None, schema_id: str, work: _Work) -> str:
    """The schemas' one-line origin for the result, remembered per schema id so a warm re-check need not
    parse them to say it."""
    key = hashlib.sha256(schema_id.encode()).hexdigest()
    if "schemas" not in work.__dict__ and cache is not None:
        hit = cache.get_many(SCHEMA_SOURCES, [key]).get(key)
        if isinstance(hit, str) and len(hit) < 1000:
            return hit
    source = work.schemas.source
    if cache is not None:
        cache.put_many(SCHEMA_SOURCES, {key: source})
    return source


def _error_text(exc: ComfyFixerError) -> str:
    """The reason without the file name (reports show the path next to it)."""
    if isinstance(exc, WorkflowFormatError):
        return f"{exc.reason} ({exc.hint})" if exc.hint else exc.reason
    return str(exc)


def _under(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _file_key(path: Path, stat: tuple[int, int] | None, context: str) -> str | None:
    """The cache key of one file's result: its absolute path, size and mtime, and ``context``."""
    if stat is None:
        return None
    raw = f"{os.path.abspath(path)}|{stat[0]}|{stat[1]}|{context}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _catalog_model_urls(catalog: ManagerCatalog | None) -> dict[str, str]:
    if catalog is None:
        return {}
    out: dict[str, str] = {}
    for m in catalog.models:
        if m.filename and m.url:
            out.setdefault(m.filename, m.url)
    return out
