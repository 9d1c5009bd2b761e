"""Entry point: rebuild the ComfyUI workflow behind an image, local or on Civitai.

:func:`reconstruct` picks the evidence (local file or Civitai), builds or takes the graphs, then
resolves models, matches local files, validates the API graph, decides the status, writes the two JSON
files when asked (never overwriting: ``-2``, ``-3``… suffixes) and runs the readiness check when a
local ComfyUI is known. NaN/Infinity in embedded graphs are written as null because strict JSON readers,
ComfyUI's editor among them, refuse them.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.imagemeta.models import GenerationInfo
from comfyfixer.tools.paths import atomic_write, safe_stem
from comfyfixer.tools.reconstruct.api_to_ui import api_to_ui
from comfyfixer.tools.reconstruct.civitai_source import (
    CivitaiEvidence,
    ImageSource,
    comfy_graphs,
    fetch_evidence,
    meta_to_info,
    parse_civitai_url,
)
from comfyfixer.tools.reconstruct.evidence import inspect_needs, match_local_files, resolve_models
from comfyfixer.tools.reconstruct.from_parameters import build_from_parameters
from comfyfixer.tools.reconstruct.graph_builder import add_notes
from comfyfixer.tools.reconstruct.models import Inferred, ReconstructInput, ReconstructResult
from comfyfixer.tools.reconstruct.sibling import adapt_sibling_graph
from comfyfixer.tools.reconstruct.validate import validate_api
from comfyfixer.tools.schema import NodeSchema, SchemaSet

log = logging.getLogger(__name__)

Resolver = Callable[[Any], Any]  # ModelQuery -> Verdict
UiToApi = Callable[[dict[str, Any]], dict[str, Any]]


def _read_local(path: Path) -> GenerationInfo:
    """The image's ``GenerationInfo``; only the embedded graphs when the full reader is unavailable."""
    from comfyfixer.tools.imagemeta import read_embedded_graphs, read_image

    try:
        return read_image(path)
    except NotImplementedError:  # reader not finished: embedded graphs only
        graphs = read_embedded_graphs(path)
        return GenerationInfo(path=str(path), container=graphs.container,
                              generator="ComfyUI" if graphs.workflow or graphs.prompt else None,
                              workflow=graphs.workflow, prompt_graph=graphs.prompt)


def _has_parameters(info: GenerationInfo) -> bool:
    return bool(info.prompt or info.seed is not None or info.steps or info.model)


def _unique_pair(out_dir: Path, name: str) -> tuple[Path, Path]:
    """``name.workflow.json``/``name.api.json``, or ``name-2.…`` etc. when either exists: never overwrite."""
    n = 1
    while True:
        stem = name if n == 1 else f"{name}-{n}"
        wf, api = out_dir / f"{stem}.workflow.json", out_dir / f"{stem}.api.json"
        if not wf.exists() and not api.exists():
            return wf, api
        n += 1


def _finite(obj: Any) -> tuple[Any, int]:
    """(copy with NaN/Infinity replaced by null, how many). ComfyUI writes them; JSON.parse rejects them."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, 1
    if isinstance(obj, dict):
        n = 0
        out = {}
        for k, v in obj.items():
            out[k], c = _finite(v)
            n += c
        return out, n
    if isinstance(obj, list):
        pairs = [_finite(v) for v in obj]
        return [v for v, _ in pairs], sum(c for _, c in pairs)
    return obj, 0


def _write_exclusive(path: Path, data: Mapping[str, Any]) -> int:
    """Write JSON without overwriting; returns how many non-finite numbers were written as null."""
    clean, replaced = _finite(data)
    atomic_write(path, json.dumps(clean, ensure_ascii=False, indent=2, allow_nan=False) + "\n", exclusive=True)
    return replaced


class _Run:
    """State of one reconstruction."""

    def __init__(self, inp: ReconstructInput, schemas: Mapping[str, NodeSchema], ui_to_api: UiToApi | None,
                 catalog: Any = None) -> None:
        self.inp = inp
        self.catalog = catalog
        self.schemas = schemas
        self.ui_to_api = ui_to_api
        self.result = ReconstructResult(source="")
        self.info: GenerationInfo | None = None

    # ---- the three evidence kinds ---------------------------------------------------------
    def from_embedded(self, workflow: dict[str, Any] | None, prompt: dict[str, Any] | None, method: str) -> None:
        """Use a graph found in the evidence: the UI workflow unchanged (converted to an API prompt when none
        was embedded) or, for an API prompt alone, a UI workflow built from it. Fills models and packs from
        the graph itself.
        """
        r = self.result
        r.method = method
        if workflow is not None:
            r.workflow = copy.deepcopy(workflow)
            r.certain.append("UI workflow embedded in the image, returned unchanged")
            if prompt:
                r.api = copy.deepcopy(prompt)
                r.certain.append("API prompt embedded in the image (what was actually queued)")
            elif self.ui_to_api is not None:
                try:
                    r.api = self.ui_to_api(workflow)
                    r.notes.append("the API prompt was converted from the UI workflow (none was embedded)")
                except Exception as exc:  # a broken workflow must still come back
                    r.notes.append(f"could not convert the UI workflow to an API prompt: {exc}")
        elif prompt is not None:
            r.api = copy.deepcopy(prompt)
            conv = api_to_ui(prompt, self.schemas)
            r.workflow = conv.workflow
            r.certain.append("API prompt embedded in the image: every node, value and link")
            r.notes.append("the image holds only the API prompt: the UI workflow was built from it "
                           "(layout by dependency, widget order from the node schemas)")
            r.notes.extend(conv.warnings)
            if any(k != str(v) for k, v in conv.id_map.items()):
                renamed = {k: v for k, v in conv.id_map.items() if k != str(v)}
                r.notes.append(f"non-numeric node ids renumbered for the editor: {renamed}")
        r.models, r.custom_nodes = inspect_needs(r.workflow, r.api, self.schemas, self.catalog, self.info)
        _note_air_names(r)

    def from_parameters(self, info: GenerationInfo, method: str) -> None:
        """Build the graph from generation parameters (:func:`build_from_parameters`) and lay it out as a UI
        workflow with its Note nodes.
        """
        r = self.result
        r.method = method
        built = build_from_parameters(info, self.schemas)
        r.api = built.prompt
        r.certain.extend(built.certain)
        r.inferred.extend(built.inferred)
        r.models = built.models
        r.custom_nodes = built.custom_nodes
        conv = api_to_ui(built.prompt, self.schemas)
        add_notes(conv.workflow, built.notes)
        r.workflow = conv.workflow
        r.notes.extend(conv.warnings)
        r.notes.append("node positions are not in the evidence: nodes are laid out left to right by dependency")
        if info.generator:
            r.certain.insert(0, f"generator: {info.generator}")


def _note_air_names(r: ReconstructResult) -> None:
    airs = [m for m in r.models if m.file and m.file.startswith("urn:air:")]
    if airs:
        r.notes.append(f"Civitai's generator names {len(airs)} model(s) by AIR (urn:air:…), not by file: download "
                       "each (its model-version id is in models[]) and pick the file in its loader")


def _civitai_run(run: _Run, ev: CivitaiEvidence) -> None:
    """Reconstruct from Civitai evidence: ``meta.comfy`` graphs when present, else a sibling's graph with this
    image's values, else a graph built from the meta's parameters; Civitai version ids are attached to the
    matching models and graph-carrying siblings are reported as hints.
    """
    r = run.result
    img = ev.image
    wf, prompt = comfy_graphs(img)
    meta = img.meta or {}
    if wf is not None or prompt is not None:
        run.info = meta_to_info(meta) if meta else None  # hashes of its resources, for the models list
        run.from_embedded(wf, prompt, "civitai")
        r.certain.insert(0, f"Civitai image {img.id}: meta.comfy carries the ComfyUI graph")
    elif meta:
        info = meta_to_info(meta)
        run.info = info
        if not _from_sibling(run, ev, info):
            run.from_parameters(info, "civitai")
        r.certain.insert(0, f"Civitai image {img.id}: generation parameters from its meta")
        versions = info.extra.get("civitai_resources") or []
        for res in versions:
            vid = res.get("modelVersionId")
            rtype = str(res.get("type") or "").lower()
            target = next((m for m in r.models if m.model_version_id is None and (
                (rtype == "checkpoint" and m.role in ("checkpoint", "diffusion_model"))
                or (rtype == "lora" and m.role == "lora" and (res.get("weight") is None or m.weight == res.get("weight"))))), None)
            if target is not None and isinstance(vid, int):
                target.model_version_id = vid
    else:
        r.notes.append(f"Civitai image {img.id} has no generation metadata (the uploader removed it or never had it)")
    for sib in ev.graph_siblings:
        where = "same post" if sib in ev.post_images else "same author and model version"
        r.inferred.append(Inferred(what=f"sibling image {sib.id}",
                                   why=f"{where}; it carries a full ComfyUI graph — a strong hint at the "
                                       "workflow this image came from (open it to compare)", confidence=0.7))
    if ev.post_images:
        r.notes.append(f"post {img.post_id}: {len(ev.post_images)} image(s) checked as supporting evidence")


def _from_sibling(run: _Run, ev: CivitaiEvidence, info: GenerationInfo) -> bool:
    """Use a sibling's graph with this image's values when it ran the same model and every value fits."""
    r = run.result
    versions = [int(x["modelVersionId"]) for x in info.extra.get("civitai_resources") or []
                if isinstance(x, dict) and isinstance(x.get("modelVersionId"), int)] + ev.image.model_version_ids
    for sib in ev.graph_siblings:
        wf, prompt = comfy_graphs(sib)
        if prompt is None and wf is not None and run.ui_to_api is not None:
            try:
                prompt = run.ui_to_api(wf)
            except Exception:  # an unreadable sibling is just not evidence
                continue
        if not prompt:
            continue
        adapted = adapt_sibling_graph(prompt, info, versions)
        if not adapted.same_model or adapted.missing:
            why = "another model" if not adapted.same_model else "missing " + "; ".join(adapted.missing)
            r.notes.append(f"sibling image {sib.id}'s graph was not used ({why})")
            continue
        r.method = "civitai"
        r.api = adapted.prompt
        conv = api_to_ui(adapted.prompt, run.schemas)
        r.workflow = conv.workflow
        r.notes.extend(conv.warnings)
        r.inferred.append(Inferred(what="workflow structure", why=f"taken from sibling image {sib.id} (same author "
                                   "or post, same model), with this image's own values written in", confidence=0.7))
        r.certain.extend(f"from this image's meta: {c}" for c in adapted.changed)
        r.inferred.extend(Inferred(what="prompt embeddings", why=w, confidence=0.4) for w in adapted.warnings)
        r.models, r.custom_nodes = inspect_needs(None, r.api, run.schemas, run.catalog, info)
        _note_air_names(r)
        return True
    return False


def _status(r: ReconstructResult) -> str:
    """OK / UNCERTAIN / FAILED from the result, by the rules in ``ReconstructResult``'s docstring."""
    if r.method is None or r.workflow is None:
        return "FAILED"
    if r.method == "embedded" or (r.method == "civitai" and any("meta.comfy" in c for c in r.certain)):
        return "OK"  # the graph itself is evidence; what it needs is readiness, not uncertainty
    if r.validation is not None and any(e.kind != "unknown_class" for e in r.validation.errors):
        return "UNCERTAIN"
    if any(i.confidence < 0.5 for i in r.inferred):
        return "UNCERTAIN"
    if any(m.verdict in ("NOT_FOUND", "UNCERTAIN") for m in r.models):
        return "UNCERTAIN"
    return "OK"


def reconstruct(
    inp: ReconstructInput,
    *,
    schemas: SchemaSet | Mapping[str, NodeSchema] | None = None,
    civitai: ImageSource | None = None,
    resolver: Resolver | None = None,
    ui_to_api: UiToApi | None = None,
    readiness: Callable[[Path], dict[str, Any]] | None = None,
    catalog: Any = None,
    local_files: Mapping[str, list[str]] | None = None,
    out_dir: Path | None = None,
) -> ReconstructResult:
    """Rebuild the ComfyUI workflow behind an image, as faithfully as its evidence allows.

    Give one source: a local image path (PNG/JPEG/WebP), a civitai.com image or post URL, a Civitai
    image id, or a Civitai post id. Evidence is used best first: (1) a ComfyUI graph embedded in the
    image (returned as is; an API prompt alone is turned into an editor workflow); (2) generation
    parameters from A1111/Forge/SD.Next/Fooocus/NovelAI/InvokeAI/SwarmUI/Civitai (a graph is built
    from the node schemas: loaders for the model family, LoRAs with weights, clip skip, prompts, size,
    sampler with seed/steps/cfg/denoise mapped to ComfyUI names, hires fix, refiner); (3) Civitai's
    image meta, the post's other images and the author's images with the same model.

    The result says which parts are ``certain`` (read from the evidence) and which are ``inferred``
    (with why and a 0..1 confidence), lists the models (with resolver verdicts when a resolver is
    given) and node packs needed, validates the API graph against the node schemas, and writes
    ``<name>.workflow.json`` (UI) and ``<name>.api.json`` (API) into ``out_dir`` without overwriting.
    ``status``: OK, UNCERTAIN (parts guessed or models unidentified) or FAILED (no evidence).

    Collaborators are injected: ``civitai`` (a ``CivitaiClient``), ``resolver`` (``ModelQuery`` →
    ``Verdict``), ``readiness`` (workflow file → report, for a local ComfyUI), ``catalog``
    (ComfyUI-Manager catalogs, to name the packs of unknown nodes), ``local_files`` (folder key →
    model names the local ComfyUI lists, to point loaders at files it already has).
    """
    from comfyfixer.tools.schema import bundled_core_schemas

    sources = [x for x in (inp.image, inp.civitai_image_id, inp.civitai_post_id) if x is not None]
    if len(sources) != 1:
        raise InputError("give exactly one source: an image path or URL, a Civitai image id, or a Civitai post id")
    schemas = schemas if schemas is not None else bundled_core_schemas()
    if ui_to_api is None:
        from comfyfixer.tools.workflow import ui_to_api as convert

        sset = schemas if isinstance(schemas, SchemaSet) else SchemaSet(dict(schemas), "given schemas")
        ui_to_api = lambda wf: convert(wf, sset)  # noqa: E731
    run = _Run(inp, schemas, ui_to_api, catalog)
    r = run.result
    name = inp.name

    civ: tuple[str, int] | None = None
    if inp.civitai_image_id is not None:
        civ = ("image", inp.civitai_image_id)
    elif inp.civitai_post_id is not None:
        civ = ("post", inp.civitai_post_id)
    elif inp.image and inp.image.startswith(("http://", "https://")):
        civ = parse_civitai_url(inp.image)
        if civ is None:
            raise InputError(f"{inp.image}: not a Civitai image or post URL",
                             hint="download the image and pass the file, or give a civitai.com/images/ID URL")

    if civ is not None:
        kind, cid = civ
        r.source = f"civitai {kind} {cid}"
        if civitai is None:
            raise InputError("a Civitai source needs network access to Civitai", hint="run without --offline")
        ev = fetch_evidence(civitai, image_id=cid if kind == "image" else None, post_id=cid if kind == "post" else None)
        name = name or f"civitai-{kind}-{cid}"
        _civitai_run(run, ev)
    else:
        assert inp.image is not None
        path = Path(inp.image).expanduser()
        if not path.is_file():
            raise InputError(f"{path}: no such image file")
        r.source = str(path)
        name = name or path.stem
        info = _read_local(path)
        run.info = info
        if info.workflow is not None or info.prompt_graph is not None:
            run.from_embedded(info.workflow, info.prompt_graph, "embedded")
            if info.generator and info.generator != "ComfyUI":
                r.certain.insert(0, f"generator: {info.generator} (its embedded ComfyUI graph is used)")
        elif _has_parameters(info):
            run.from_parameters(info, "parameters")
        elif info.generator:
            r.notes.append(f"the {info.generator} metadata holds no generation parameters (no prompt, seed, steps "
                           "or model): nothing to rebuild from")
        else:
            r.notes.append("the image carries no generation metadata (stripped, re-saved, or not AI-generated)")
        r.notes.extend(info.warnings)

    if resolver is not None and r.models:
        resolve_models(r, resolver)
    if local_files is not None:
        match_local_files(r, local_files)
    if r.api is not None:
        r.validation = validate_api(r.api, schemas)
    r.status = _status(r)

    if r.workflow is not None and out_dir is not None:
        out = Path(out_dir).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        wf_path, api_path = _unique_pair(out, safe_stem(name or "", default="reconstructed"))
        replaced = _write_exclusive(wf_path, r.workflow)
        r.files.append(str(wf_path))
        if r.api is not None:
            replaced += _write_exclusive(api_path, r.api)
            r.files.append(str(api_path))
        if replaced:
            r.notes.append(f"{replaced} NaN/Infinity value(s) of the embedded graph were written as null "
                           "(standard JSON has no NaN; ComfyUI's editor could not open the file otherwise)")
    if readiness is not None and r.workflow is not None:
        if r.files:
            r.readiness = readiness(Path(r.files[0]))
        else:
            # The readiness check reads files: without --out, the rebuilt workflow goes to a throwaway file.
            with tempfile.TemporaryDirectory() as tmp:
                p = Path(tmp) / f"{safe_stem(name or '', default='reconstructed')}.workflow.json"
                _write_exclusive(p, r.workflow)
                r.readiness = readiness(p)
    return r
