"""``workflows_for_model``: which workflows use a model, ranked, each with where it came from.

Sources, each optional and each named in the result's ``searched``:

* the user's own workflow folders (``<ComfyUI>/user/default/workflows`` and the folders the CLI passes
  with ``--in``): by exact file name, then by family;
* the official templates (the ``comfyui_workflow_templates*`` packages): by file name (the model they
  load first — their *primary* model — ranks above one they load beside it), then by family;
* ComfyUI-Manager's model list: an entry for the exact file (a download, not a workflow);
* Civitai images made with the model's version that carry a ComfyUI graph (most reactions first); the
  graph is saved only when the caller passes ``save_to`` (the CLI's ``--save``).

Each hit says whether it would run here when a ComfyUI folder is configured: every model file it loads
is found in that install (node packs are left to ``comfyfixer check``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError, HTTPError, InputError
from comfyfixer.tools.identify.capability import identify_model
from comfyfixer.tools.identify.detect import family_from_name
from comfyfixer.tools.identify.models import IdentifyInput, ModelIdentity
from comfyfixer.tools.identify.rules import FAMILIES, HELPER_MODEL_NAME
from comfyfixer.tools.inventory.cache import InventoryCache
from comfyfixer.tools.inventory.models import ModelInventory
from comfyfixer.tools.model_folders import MODEL_FILE_EXTENSIONS as MODEL_EXTENSIONS
from comfyfixer.tools.model_folders import model_basename
from comfyfixer.tools.paths import safe_stem
from comfyfixer.tools.toolset import capability
from comfyfixer.tools.workflow.copies import write_new
from comfyfixer.tools.workflow.graph import FRONTEND_ONLY_PACK_CLASSES, VIRTUAL_CLASSES

log = logging.getLogger(__name__)

MAX_WORKFLOW_BYTES = 20 * 1024 * 1024
MAX_LOCAL_FILES = 5000
# The folder order that decides a workflow's primary model: the file its main loader reads.
PRIMARY_ORDER = ("checkpoints", "diffusion_models", "unet", "loras", "upscale_models", "controlnet", "text_encoders",
                 "clip", "vae")
# Folders of core loaders, for widget values that carry no `properties.models` entry.
LOADER_FOLDER = {
    "CheckpointLoaderSimple": "checkpoints", "CheckpointLoader": "checkpoints", "ImageOnlyCheckpointLoader": "checkpoints",
    "UNETLoader": "diffusion_models", "UnetLoaderGGUF": "diffusion_models", "LoraLoader": "loras",
    "LoraLoaderModelOnly": "loras", "VAELoader": "vae", "CLIPLoader": "text_encoders", "DualCLIPLoader": "text_encoders",
    "TripleCLIPLoader": "text_encoders", "QuadrupleCLIPLoader": "text_encoders", "ControlNetLoader": "controlnet",
    "UpscaleModelLoader": "upscale_models", "CLIPVisionLoader": "clip_vision",
}

Source = Literal["local", "templates", "manager", "civitai"]
ALL_SOURCES: tuple[Source, ...] = ("local", "templates", "manager", "civitai")

# Scores: an exact file match beats a family match; the user's own workflows come first on ties.
SCORE_PRIMARY, SCORE_USES, SCORE_CIVITAI, SCORE_FAMILY, SCORE_MANAGER = 1.0, 0.85, 0.7, 0.45, 0.3
LOCAL_BONUS = 0.02


class WorkflowsForInput(BaseModel):
    """Input of ``workflows_for_model``."""

    model: str = Field(description="The model: a local file, a file name, a Civitai URL/id or a SHA256 (as for "
                                   "identify_model).")
    sources: list[Source] | None = Field(default=None, description="Only these sources (local, templates, manager, "
                                                                   "civitai); default: all.")
    limit: int = Field(default=10, ge=1, le=100, description="How many hits to return.")


class WorkflowHit(BaseModel):
    """One workflow (or catalog entry) that uses the model."""

    source: str = Field(description="your workflows | official template | ComfyUI-Manager model list | Civitai image")
    name: str = Field(description="The workflow's name (template id, file name, or Civitai image id).")
    location: str = Field(description="Where it is: a path, a template file, or a URL.")
    match: Literal["primary model", "file name", "family", "model version", "catalog entry"] = Field(
        description="Why it is listed.")
    score: float = Field(description="0..1 ranking score.")
    why: str = Field(description="One line of evidence.")
    models: list[str] = Field(default_factory=list, description="The model files the workflow loads.")
    runnable: bool | None = Field(default=None, description="Every model it loads is installed here (and, when the "
                                                            "node schemas of this ComfyUI are known, every node "
                                                            "class); None when no ComfyUI is configured.")
    missing: list[str] = Field(default_factory=list, description="Model files it loads that this ComfyUI lacks.")
    missing_nodes: list[str] = Field(default_factory=list, description="Node classes this ComfyUI does not have "
                                                                       "(checked only with its URL or object_info).")
    classes: list[str] = Field(default_factory=list, description="Node classes the workflow runs.")
    reactions: int | None = Field(default=None, description="Civitai reactions (likes, hearts, …) of the image.")
    saved: str | None = Field(default=None, description="Where the graph was saved (--save only).")
    app_versions: list[str] = Field(default_factory=list, description="The same workflow saved in app mode (the "
                                                                      "frontend's linear view), listed here "
                                                                      "instead of as hits of their own.")


class WorkflowsForResult(BaseModel):
    """Ranked workflows for one model."""

    model: str = Field(description="The model as given.")
    identity: ModelIdentity = Field(description="What the model was identified as.")
    hits: list[WorkflowHit] = Field(default_factory=list, description="Best first.")
    searched: list[str] = Field(default_factory=list, description="Each source consulted, with how many it held.")
    status: Literal["FOUND", "NOT_FOUND"] = Field(description="FOUND when at least one hit.")
    nodes_checked: bool = Field(default=False, description="Whether 'runnable' also checked the node classes "
                                                           "(only against this ComfyUI's own node list).")


# --- reading workflows -----------------------------------------------------------------------------
@dataclass
class WorkflowModels:
    """The model files one workflow loads: (basename, folder or None), in file order, and its primary."""

    name: str
    location: str
    models: list[tuple[str, str | None]] = field(default_factory=list)
    classes: set[str] = field(default_factory=set)  # node classes it runs (frontend-only and subgraph ids left out)
    muted: set[str] = field(default_factory=set)  # files only muted or bypassed nodes load
    app_mode: bool = False  # saved in app mode (`extra.linearMode`): the frontend's linear view of a graph

    @property
    def names(self) -> set[str]:
        return {m for m, _ in self.models}

    @property
    def primary(self) -> str | None:
        """The workflow's main model (:func:`main_model`); the first file when no folder is known."""
        found = main_model((name, f, name not in self.muted) for name, f in self.models)
        return found[0] if found else (self.models[0][0] if self.models else None)


def main_model(loaded: Iterable[tuple[str, str | None, bool]]) -> tuple[str, str] | None:
    """``(file, folder)`` of a workflow's main model among ``(file, folder, active)`` in file order: the first
    file of the highest-ranked folder (checkpoint > diffusion model > LoRA > …; :data:`PRIMARY_ORDER`).
    Files active loaders read come before those only muted nodes load (an optional upscaler pass is not
    the main model), and generators before helper models (SAM, detectors: ``rules.HELPER_MODEL_NAME``)."""
    ranked = [(not active, bool(HELPER_MODEL_NAME.search(name)), PRIMARY_ORDER.index(folder), i, name, folder)
              for i, (name, folder, active) in enumerate(loaded) if folder in PRIMARY_ORDER]
    if not ranked:
        return None
    *_, name, folder = min(ranked)
    return name, folder


def _graphs(doc: Any) -> Iterator[dict[str, Any]]:
    """The top graph and every subgraph definition, without recursion."""
    stack = [doc]
    while stack:
        graph = stack.pop()
        if not isinstance(graph, dict):
            continue
        yield graph
        defs = graph.get("definitions")
        if isinstance(defs, dict):
            stack.extend(defs.get("subgraphs") or [])


def workflow_models(doc: Any, name: str, location: str) -> WorkflowModels:
    """The model files a UI or API workflow loads: ``properties.models`` entries and widget values that
    name a model file (folder from the entry, else from the core loader's class)."""
    out = WorkflowModels(name=name, location=location)
    seen: dict[str, int] = {}  # basename → its place in out.models

    def add(value: str, folder: str | None, muted: bool = False) -> None:
        base = model_basename(value)
        if base and not muted:
            out.muted.discard(base)
        if base and base not in seen:
            seen[base] = len(out.models)
            out.models.append((base, folder))
            if muted:
                out.muted.add(base)
        elif base and folder is not None and out.models[seen[base]][1] is None:
            # A subgraph's promoted widget names the file before the loader inside it says which folder.
            out.models[seen[base]] = (base, folder)

    if isinstance(doc, dict) and "nodes" not in doc and all(isinstance(v, dict) for v in doc.values()):
        for node in doc.values():  # API format
            out.classes.add(str(node.get("class_type")))
            folder = LOADER_FOLDER.get(str(node.get("class_type")))
            for v in (node.get("inputs") or {}).values():
                if isinstance(v, str) and v.lower().endswith(MODEL_EXTENSIONS):
                    add(v, folder)
        return out
    extra = doc.get("extra") if isinstance(doc, dict) else None
    out.app_mode = isinstance(extra, dict) and extra.get("linearMode") is True
    subgraph_ids = {str(g.get("id")) for g in _graphs(doc) if g is not doc}
    for graph in _graphs(doc):
        for m in graph.get("models") or []:
            if isinstance(m, dict) and isinstance(m.get("name"), str):
                add(m["name"], m.get("directory"))
        for node in graph.get("nodes") or []:
            if not isinstance(node, dict):
                continue
            props = node.get("properties")
            muted = node.get("mode") in (2, 4)  # never / bypass
            for m in (props.get("models") if isinstance(props, dict) else None) or []:
                if isinstance(m, dict) and isinstance(m.get("name"), str):
                    add(m["name"], m.get("directory"), muted)
            kind = str(node.get("type"))
            if kind not in subgraph_ids and kind not in VIRTUAL_CLASSES and kind not in FRONTEND_ONLY_PACK_CLASSES:
                out.classes.add(kind)
            folder = LOADER_FOLDER.get(kind)
            values = node.get("widgets_values")
            for v in values if isinstance(values, list) else []:
                if isinstance(v, str) and v.lower().endswith(MODEL_EXTENSIONS):
                    add(v, folder, muted)
    return out


def _read_json(path: Path) -> Any:
    """A JSON file, or None when it is too big, too deep, unreadable or not JSON (a folder of workflows
    often holds other JSON files; they are skipped, not errors). Read with the bounded reader of
    ``tools/workflow/jsonload.py``: a stranger's file must not crash the parser."""
    from comfyfixer.tools.workflow.jsonload import read_json_file

    try:
        return read_json_file(path, max_bytes=MAX_WORKFLOW_BYTES)
    except (ComfyFixerError, OSError):
        return None


def template_models(folders: Iterable[Path]) -> list[WorkflowModels]:
    """The models of every official template (``*.json`` in each folder), templates without models skipped."""
    out = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*.json")):
            wm = workflow_models(_read_json(path), path.stem, str(path))
            if wm.models:
                out.append(wm)
    return out


def _local_models(folders: Sequence[Path]) -> tuple[list[WorkflowModels], int, list[str]]:
    """The models of every workflow under ``folders`` (recursively, at most ``MAX_LOCAL_FILES``
    files), with how many files were looked at and the names of those that are not readable JSON."""
    out: list[WorkflowModels] = []
    unreadable: list[str] = []
    n = 0
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            n += 1
            if n > MAX_LOCAL_FILES:
                log.warning("more than %d workflow files under %s; the rest are skipped", MAX_LOCAL_FILES, folder)
                return out, n, unreadable
            doc = _read_json(path)
            if doc is None:
                unreadable.append(path.name)
            wm = workflow_models(doc, path.name, str(path))
            if wm.models:
                out.append(wm)
    return out, n, unreadable


# --- ranking ---------------------------------------------------------------------------------------
def _family_of(wm: WorkflowModels) -> str | None:
    """A workflow's family: that of its primary model's name."""
    primary = wm.primary
    return family_from_name(primary)[0] if primary else None


def rank_workflows(workflows: Iterable[WorkflowModels], name: str, family: str | None, role: str,
                   *, source: str, bonus: float = 0.0, aliases: dict[str, str] | None = None) -> list[WorkflowHit]:
    """Hits among ``workflows`` for model file ``name`` (or, failing that, its ``family``).

    ``aliases`` are other file names known to hold the same bytes (name → why), matched like ``name``.
    """
    hits = []
    same = {name: "", **(aliases or {})}
    for wm in workflows:
        models = [m for m, _ in wm.models]
        found = next((n for n in same if n in wm.names), None)
        if found is not None:
            primary = wm.primary == found
            score = (SCORE_PRIMARY if primary else SCORE_USES) + bonus
            match = "primary model" if primary else "file name"
            why = f"loads {found}" + (" as its main model" if primary else f" (its main model is {wm.primary})")
            if same[found]:
                why += f"; {same[found]}"
        elif family and _family_of(wm) == family:
            score, match = SCORE_FAMILY + bonus, "family"
            why = f"a {FAMILIES.get(family, family)} workflow (main model {wm.primary})"
            if role in ("lora", "lycoris") and any(f == "loras" for _, f in wm.models):
                score += 0.05
                why += "; it already has a LoRA loader"
        else:
            continue
        hits.append(WorkflowHit(source=source, name=wm.name, location=wm.location, match=match,  # type: ignore[arg-type]
                                score=round(score, 3), why=why, models=models, classes=sorted(wm.classes)))
    # Simpler workflows first among equals: fewer models to fetch, easier to adapt.
    hits.sort(key=lambda h: (-h.score, len(h.models), h.name))
    return _fold_app_versions(hits, {wm.name for wm in workflows if wm.app_mode})


def _fold_app_versions(hits: list[WorkflowHit], app_mode: set[str]) -> list[WorkflowHit]:
    """An app-mode copy of a graph that is also a hit (same models, same node classes) is named on that
    hit rather than taking a place of its own: the official templates ship several workflows twice."""
    if not app_mode:
        return hits
    graphs = {(tuple(h.models), tuple(h.classes)): h for h in reversed(hits) if h.name not in app_mode}
    out = []
    for hit in hits:
        twin = graphs.get((tuple(hit.models), tuple(hit.classes))) if hit.name in app_mode else None
        if twin is None:
            out.append(hit)
        else:
            twin.app_versions.append(hit.name)
    return out


def _local_line(folders: Sequence[Path], found: Sequence[Path], n: int, unreadable: Sequence[str]) -> str:
    """What the search of the user's folders covered, in one line (missing folders and unreadable files named)."""
    if not folders:
        return "your workflows: no folder (pass --in DIR or set the ComfyUI folder)"
    line = f"your workflows: {n} file{'s' * (n != 1)} in {len(found)} folder{'s' * (len(found) != 1)}"
    if unreadable:
        shown = ", ".join(unreadable[:3]) + (f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else "")
        line += f"; {len(unreadable)} not readable as workflows ({shown})"
    missing = [str(f) for f in folders if f not in found]
    return line + (f"; not a folder: {', '.join(missing)}" if missing else "")


# --- sources ---------------------------------------------------------------------------------------
def _manager_hits(ctx: ToolContext, name: str) -> tuple[list[WorkflowHit], str]:
    """ComfyUI-Manager's ``model-list.json`` entries for exactly this file name."""
    catalog = ctx.catalog()
    if catalog is None:
        return [], "ComfyUI-Manager model list: not available (run `comfyfixer catalogs refresh`)"
    hits = [WorkflowHit(source="ComfyUI-Manager model list", name=m.name, location=m.reference or m.url,
                        match="catalog entry", score=SCORE_MANAGER, models=[m.filename],
                        why=f"the Manager lists {m.filename} ({m.base or 'base ?'}, {m.type or 'type ?'}): a download "
                            "with its reference page, not a workflow")
            for m in catalog.models if m.filename == name]
    return hits, f"ComfyUI-Manager model list: {len(catalog.models)} models"


def _reactions(stats: dict[str, Any]) -> int:
    """An image's reactions: every ``…Count`` except comments and dislikes."""
    return sum(int(v or 0) for k, v in stats.items() if k.endswith("Count") and k not in ("commentCount",
                                                                                           "dislikeCount"))


def _civitai_hits(ctx: ToolContext, version_id: int, save_to: Path | None) -> tuple[list[WorkflowHit], str]:
    """Civitai images of ``version_id`` that carry a ComfyUI graph, most reactions first; each graph
    is written to ``save_to`` (a new file, never over an existing one) only when it is given."""
    client = ctx.civitai()
    if client is None:
        return [], "Civitai images: skipped (offline)"
    images = list(client.images(model_version_id=version_id, limit=50))
    with_graph = [(img, img.comfy) for img in images]
    with_graph = [(img, g) for img, g in with_graph if g]
    with_graph.sort(key=lambda p: -_reactions(p[0].stats))
    hits = []
    for img, graph in with_graph:
        ui = graph.get("workflow") if isinstance(graph.get("workflow"), dict) else None
        doc = ui or graph.get("prompt")
        wm = workflow_models(doc, f"civitai image {img.id}", img.url or "")
        hit = WorkflowHit(source="Civitai image", name=f"image {img.id}", location=f"https://civitai.com/images/{img.id}",
                          match="model version", score=SCORE_CIVITAI, reactions=_reactions(img.stats),
                          models=[m for m, _ in wm.models], classes=sorted(wm.classes),
                          why=f"made with Civitai version {version_id}; carries a ComfyUI "
                              f"{'workflow' if ui else 'prompt (API graph)'}")
        if save_to is not None:
            target = save_to / f"{safe_stem(f'civitai_image_{img.id}')}.json"
            n = 1
            while target.exists():  # never overwrite: a new version is a new file
                target = save_to / f"{safe_stem(f'civitai_image_{img.id}')} ({n}).json"
                n += 1
            write_new(target, doc, option="--save")
            hit.saved = str(target)
        hits.append(hit)
    return hits, f"Civitai images of version {version_id}: {len(images)} images, {len(with_graph)} with a ComfyUI graph"


def _inventory(ctx: ToolContext) -> ModelInventory | None:
    """The configured ComfyUI's model files (scanned once per context), or None without one."""
    if ctx.comfyui_dir is None:
        return None
    if not Path(ctx.comfyui_dir).expanduser().is_dir():  # as the inventory says it (an empty install would be a lie)
        raise InputError(f"ComfyUI folder not found: {ctx.comfyui_dir}",
                         hint="pass the folder that holds models/ and custom_nodes/")
    from comfyfixer.tools.inventory.inventory import model_folder_table
    from comfyfixer.tools.inventory.models import scan_models

    def scan() -> ModelInventory | None:
        try:
            table, _ = model_folder_table(Path(ctx.comfyui_dir), list(ctx.extra_model_paths))
            return scan_models(table, base_dir=ctx.comfyui_dir)
        except ComfyFixerError as exc:
            log.warning("could not list the models of %s: %s", ctx.comfyui_dir, exc)
            return None

    return ctx.memo(f"workflows-for:inventory:{ctx.comfyui_dir}", scan)


def _installed(ctx: ToolContext) -> set[str] | None:
    """Lower-cased basenames of every model file in the configured ComfyUI, or None without one."""
    inv = _inventory(ctx)
    return set(inv.by_basename) if inv is not None else None


def _cached_hash(cache: InventoryCache, path: str) -> str | None:
    """The SHA256 the inventory cache holds for ``path`` while its size and mtime are unchanged."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return cache.get_hash(path, st.st_size, st.st_mtime_ns)


def hash_aliases(ctx: ToolContext, sha256: str | None, model: str) -> tuple[dict[str, str], str | None]:
    """Other names of the same file in the configured ComfyUI: files whose SHA256 the inventory cache
    already knows (nothing is hashed here) and equals the model's. Returns (name → why, the SHA256 used).

    The model's own SHA256 comes from a source (Civitai), from the input when it is one, or from the cache
    for a local file."""
    inv, where = _inventory(ctx), ctx.inventory_cache_dir()
    if inv is None or where is None:
        return {}, sha256
    from comfyfixer.tools.inventory.cache import InventoryCache

    with InventoryCache(where) as cache:
        if sha256 is None and re.fullmatch(r"[0-9a-fA-F]{64}", model.strip()):
            sha256 = model.strip()
        if sha256 is None and Path(model).is_file():
            sha256 = _cached_hash(cache, str(Path(model).resolve()))
        if sha256 is None:
            return {}, None
        out = {}
        for files in inv.by_basename.values():
            for f in files:
                if f.path and (_cached_hash(cache, f.path) or "").lower() == sha256.lower():
                    base = model_basename(f.name)
                    out[base] = f"{f.location} has the same SHA256 (inventory cache)"
    return out, sha256


@capability(command="workflows-for")
def workflows_for_model(inp: WorkflowsForInput, ctx: ToolContext, *, workflow_folders: Sequence[Path] = (),
                        save_to: Path | None = None) -> WorkflowsForResult:
    """Find workflows that use a model, best first, each with where it came from: the user's own
    workflows, the official ComfyUI templates (by file name, then by the model's family), ComfyUI-Manager's
    model list, and Civitai images made with the model's version that carry a ComfyUI graph (most
    reactions first). Each hit says whether it would run here (every model it loads is installed) when a
    ComfyUI is configured.

    Give the model as for identify_model. A 'primary model' hit loads the file as its main model; a
    'family' hit only shares the family and needs the file swapped in.
    """
    ident = identify_model(IdentifyInput(model=inp.model), ctx)
    name = model_basename(ident.name)
    sources = set(inp.sources or ALL_SOURCES)
    hits: list[WorkflowHit] = []
    searched: list[str] = []
    aliases, _ = hash_aliases(ctx, ident.sha256, inp.model) if sources & {"local", "templates"} else ({}, None)
    aliases.pop(name, None)
    if aliases:
        searched.append(f"same file by SHA256 under other names here: {', '.join(sorted(aliases))}")
    if "local" in sources:
        folders = [Path(f) for f in workflow_folders]
        if ctx.comfyui_dir is not None and (Path(ctx.comfyui_dir) / "user" / "default" / "workflows").is_dir():
            folders.append(Path(ctx.comfyui_dir) / "user" / "default" / "workflows")
        found_dirs = [f for f in folders if f.is_dir()]
        local, n, unreadable = _local_models(found_dirs)
        hits += rank_workflows(local, name, ident.family, ident.role, source="your workflows", bonus=LOCAL_BONUS,
                               aliases=aliases)
        searched.append(_local_line(folders, found_dirs, n, unreadable))
    if "templates" in sources:
        from comfyfixer.tools.catalogs.model_index import find_template_dirs

        dirs = find_template_dirs()
        templates = ctx.memo(f"workflows-for:templates:{dirs}", lambda: template_models(dirs))
        hits += rank_workflows(templates, name, ident.family, ident.role, source="official template",
                               aliases=aliases)
        searched.append(f"official templates: {len(templates)} with models" if dirs
                        else "official templates: none installed (pip install comfyui-workflow-templates)")
    if "manager" in sources:
        found, line = _manager_hits(ctx, name)
        hits += found
        searched.append(line)
    if "civitai" in sources:
        if ident.civitai_version_id is None:
            searched.append("Civitai images: skipped (no Civitai model version known for this model; give its Civitai "
                            "URL or SHA256)")
        else:
            try:
                found, line = _civitai_hits(ctx, ident.civitai_version_id, save_to)
            except HTTPError as exc:  # one source failing leaves the others' hits
                found, line = [], f"Civitai images: failed ({exc})"
            hits += found
            searched.append(line)
    hits.sort(key=lambda h: (-h.score, -(h.reactions or 0), len(h.models), h.name))
    hits = hits[: inp.limit]
    installed = _installed(ctx)
    # Node classes are checked only against this ComfyUI's own schemas (its URL or a saved object_info);
    # the bundled core snapshot would call every custom node missing.
    schemas = ctx.schemas() if installed is not None and (ctx.comfyui_url or ctx.object_info_file) else None
    if installed is not None:
        if schemas is None:
            searched.append("runnable here: model files checked; node packs not (give the ComfyUI URL, or run "
                            "`comfyfixer check` on a hit)")
        for hit in hits:
            if hit.match == "catalog entry":
                continue
            hit.missing = [m for m in hit.models if m.lower() not in installed]
            hit.missing_nodes = [c for c in hit.classes if c not in schemas] if schemas is not None else []
            hit.runnable = not hit.missing and not hit.missing_nodes
    return WorkflowsForResult(model=inp.model, identity=ident, hits=hits, searched=searched,
                              status="FOUND" if hits else "NOT_FOUND", nodes_checked=schemas is not None)
