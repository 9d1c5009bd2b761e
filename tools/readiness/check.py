"""The readiness check of many workflows: inventory once, inspect each workflow (cached), compare."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from comfyfixer.tools.catalogs.manager import ManagerCatalog
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError, ConfigError, InputError, WorkflowFormatError
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
from comfyfixer.tools.workflow import InspectionResult, inspect_source, iter_workflow_files

log = logging.getLogger(__name__)

INSPECTIONS = "inspections"
_NO_CATALOG = "ComfyUI-Manager catalogs not loaded"
# What the readiness check reads from an inspection: only this is cached, to keep warm runs light.
_KEPT = {"path", "format", "container", "node_types", "models", "custom_nodes", "virtual_nodes", "warnings",
         "schema_source", "comfyui_version"}


def _code_fingerprint() -> str:
    """Changes whenever the inspector's code changes, so cached inspections never outlive it."""
    import comfyfixer.tools.catalogs as cat_pkg
    import comfyfixer.tools.schema as schema_pkg
    import comfyfixer.tools.workflow as wf_pkg

    h = hashlib.sha256()
    for pkg in (wf_pkg, schema_pkg, cat_pkg):
        for p in sorted(Path(pkg.__file__ or "").parent.glob("*.py")):
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _schemas_for(object_info_file: Path | None, inventory: LocalInventory) -> SchemaSet:
    if inventory.object_info is not None:
        return parse_object_info(inventory.object_info, f"live /object_info ({inventory.comfyui_url})", inventory.comfyui_version)
    if object_info_file is not None:
        return load_object_info(object_info_file)
    return bundled_core_schemas()


def _schema_fingerprint(schemas: SchemaSet, inventory: LocalInventory) -> str:
    h = hashlib.sha256(schemas.source.encode())
    if inventory.object_info is not None:  # live combo lists can change what the inspector reads
        h.update(json.dumps(inventory.object_info, sort_keys=True, default=str).encode())
    else:
        h.update("\n".join(sorted(schemas)).encode())
    return h.hexdigest()[:16]


def display_names(files: list[Path], roots: list[Path]) -> dict[Path, str]:
    """Short, unique names: the path below the folder it was found in, else the file name."""
    out: dict[Path, str] = {}
    used: set[str] = set()
    for f in files:
        name = f.name
        for r in roots:
            if r.is_dir():
                try:
                    name = f.relative_to(r).as_posix()
                    break
                except ValueError:
                    continue
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
) -> CheckResult:
    """Check whether each workflow runs on the user's ComfyUI, and exactly what is missing.

    A workflow is runnable only when every node class it uses is core or installed and every model
    it loads is in a folder its loader reads. For each workflow the result lists the missing node
    classes (with the pack that provides each: RESOLVED, UNCERTAIN with candidates, NOT_FOUND, or
    CORE_UPDATE when ComfyUI itself is too old), the missing model files, and the misplaced ones
    (found in another folder). A file that is not a workflow is ``invalid`` and never stops the
    others. Reads only; changes nothing.
    """
    if ctx.comfyui_dir is None and ctx.comfyui_url is None:
        raise ConfigError("no ComfyUI to check against",
                          hint="pass --comfyui DIR or --comfyui-url URL (or set COMFYFIXER_COMFYUI_DIR)")
    return _check(inp, ctx, ctx.catalog(), progress)


def _check(
    inp: CheckInput, ctx: ToolContext, catalog: ManagerCatalog | None, progress: Callable[[int, int], None] | None
) -> CheckResult:
    """Inventory once, inspect each workflow (cached on file metadata), compare."""
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
        t_inv = time.perf_counter()
        schemas = _schemas_for(ctx.object_info_file, inventory)
        core = {c for c, s in schemas.items() if not s.is_custom}
        file_note = None
        if inventory.object_info is None and ctx.object_info_file is not None:
            # A saved /object_info is a dump of the user's own server: its custom classes are installed there.
            core = set(schemas)
            file_note = f"node classes (core and packs) taken from {ctx.object_info_file}"
        catalog_url = _catalog_model_urls(catalog)

        def hasher(f: ModelFile) -> str | None:
            try:
                return file_sha256(Path(f.path), cache)
            except OSError as exc:
                log.warning("cannot hash %s: %s", f.path, exc)
                return None

        assessor = Assessor(
            inventory, core, schema_version=schemas.comfyui_version,
            catalog_url=catalog_url.get if catalog_url else None, hasher=hasher if inp.hashes else None,
        )
        excluded = [Path(e).resolve() for e in inp.exclude]
        files = [f for f in iter_workflow_files(roots) if not any(_under(f, e) for e in excluded)]
        names = display_names(files, roots)
        context = "|".join(
            (_code_fingerprint(), _schema_fingerprint(schemas, inventory),
             catalog.source.describe() if catalog is not None else "no-catalog")
        )
        keys = {f: _file_key(f, context) for f in files}
        cached = cache.get_many(INSPECTIONS, [k for k in keys.values() if k]) if cache is not None else {}
        fresh: dict[str, object] = {}
        results: list[WorkflowReadiness] = []
        hits = 0
        for i, f in enumerate(files):
            key = keys[f]
            entry = cached.get(key) if key else None
            name = names[f]
            if entry is not None:
                hits += 1
                if "error" in entry:
                    results.append(invalid(str(f), entry["error"], name=name))
                    continue
                insp = InspectionResult.model_validate(entry["inspection"])
            else:
                try:
                    insp = inspect_source(f, schemas=schemas, catalog=catalog)
                except ComfyFixerError as exc:
                    message = _error_text(exc)
                    results.append(invalid(str(f), message, name=name))
                    if key:
                        fresh[key] = {"error": message}
                    continue
                except Exception as exc:  # one broken file must never stop the others
                    log.debug("inspecting %s failed", f, exc_info=True)
                    results.append(invalid(str(f), f"could not read the workflow: {type(exc).__name__}: {exc}", name=name))
                    continue
                if key:
                    fresh[key] = {"inspection": insp.model_dump(mode="json", include=_KEPT)}
            insp.path = str(f)
            results.append(assessor.assess(insp, name=name))
            if progress is not None:
                progress(i + 1, len(files))
        if cache is not None:
            cache.put_many(INSPECTIONS, fresh)
        notes = list(inventory.warnings) + ([file_note] if file_note else [])
        if catalog is None:
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
            inventory=inventory.summary(),
            schema_source=schemas.source,
            catalog_source=catalog.source.describe() if catalog is not None else None,
            workflows=results,
            summary=summary,
            notes=notes,
            timings={"inventory_s": round(t_inv - t0, 4), "workflows_s": round(t_end - t_inv, 4),
                     "total_s": round(t_end - t0, 4)},
            cache={"inspections_cached": hits, "inspections_new": len(fresh),
                   "model_dirs_scanned": inventory.models.dirs_scanned,
                   "model_dirs_from_cache": inventory.models.dirs_from_cache},
        )
    finally:
        if cache is not None:
            cache.close()


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


def _file_key(path: Path, context: str) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    raw = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{context}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _catalog_model_urls(catalog: ManagerCatalog | None) -> dict[str, str]:
    if catalog is None:
        return {}
    out: dict[str, str] = {}
    for m in catalog.models:
        if m.filename and m.url:
            out.setdefault(m.filename, m.url)
    return out
