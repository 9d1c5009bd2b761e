"""Models and node packs a rebuilt graph needs, and their identity through the resolver.

Called by ``reconstruct.py`` after a graph exists: :func:`inspect_needs` (embedded graphs, through the
workflow inspector) or :func:`scan_models` (built graphs) list what the graph loads with the hashes the
metadata gives; :func:`resolve_models` asks the model resolver about each, restricted by
:func:`resolver_sources` to identity lookups (hash, Civitai version, the workflow's URL) because a
name search would only find look-alikes; :func:`match_local_files` points loaders at files the local
ComfyUI already has under the same stem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from comfyfixer.tools.imagemeta.a1111 import hash_kind
from comfyfixer.tools.imagemeta.models import GenerationInfo
from comfyfixer.tools.reconstruct.api_to_ui import is_link
from comfyfixer.tools.reconstruct.models import CustomNodeNeed, Inferred, ModelVerdict, ReconstructResult
from comfyfixer.tools.reconstruct.sibling import air_version
from comfyfixer.tools.schema import NodeSchema, SchemaSet
from comfyfixer.tools.schema.folders import core_model_folder, guess_folder_from_input, looks_like_model_file

log = logging.getLogger(__name__)

CIVITAI_DOWNLOAD = "https://civitai.com/api/download/models/"

_ROLE_BY_FOLDER = {
    "checkpoints": "checkpoint", "diffusion_models": "diffusion_model", "loras": "lora", "vae": "vae",
    "text_encoders": "text_encoder", "upscale_models": "upscaler", "embeddings": "embedding",
    "controlnet": "controlnet", "clip_vision": "clip_vision",
}


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def _hash_applies(key: str, role: str, file: str) -> bool:
    """Whether a metadata hash key (``model``, ``vae``, ``lora:name``, ``embed:name``) names this file."""
    low = key.lower()
    if low == "model":
        return role == "checkpoint"
    if low == "vae":
        return role == "vae"
    kind, _, name = low.partition(":")
    return bool(name) and kind in ("lora", "embed", "model") and _stem(name) == _stem(file).lower()


def _info_hashes(info: GenerationInfo | None, role: str, file: str) -> dict[str, str]:
    """Hashes the metadata gives for this file: ``Hashes``-style keys, then the model/VAE/LoRA entries by
    name.
    """
    if info is None:
        return {}
    hs = {hash_kind(v): v for k, v in info.hashes.items() if _hash_applies(k, role, file)}
    stem = _stem(file).lower()
    refs: list[tuple[str | None, dict[str, str]]] = []
    if role in ("checkpoint", "diffusion_model") and info.model is not None:
        refs.append((info.model.name, info.model.hashes))
    if role == "vae" and info.vae is not None:
        refs.append((info.vae.name, info.vae.hashes))
    if role == "lora":
        refs += [(lo.name, lo.hashes) for lo in info.loras]
    if role == "embedding":
        refs += [(e.name, e.hashes) for e in info.embeddings]
    for name, ref_hashes in refs:
        if name and _stem(name).lower() == stem:
            for k, v in ref_hashes.items():
                hs.setdefault(k, v)
    return hs


def scan_models(api: Mapping[str, Any], info: GenerationInfo | None = None) -> list[ModelVerdict]:
    """Model files an API graph loads (string inputs only), with the metadata's hashes for them.

    Core loader inputs by the folder table; other string inputs only when they look like model files, with
    the folder guessed from the input name. Each (folder, file) once.
    """
    out: list[ModelVerdict] = []
    seen: set[tuple[str, str]] = set()
    for node in api.values():
        if not isinstance(node, dict):
            continue
        ct = str(node.get("class_type"))
        inputs = node.get("inputs")
        for name, value in (inputs.items() if isinstance(inputs, dict) else ()):
            if not isinstance(value, str) or is_link(value, api):
                continue
            folder = core_model_folder(ct, name)
            if folder is None:
                if not looks_like_model_file(value):
                    continue
                folder = guess_folder_from_input(ct, name) or "unknown"
            if (folder, value) in seen:
                continue
            seen.add((folder, value))
            role = _ROLE_BY_FOLDER.get(folder, folder)
            out.append(ModelVerdict(role=role, name=_stem(value), file=value, folder=folder,
                                    hashes=_info_hashes(info, role, value)))
    return out


def inspect_needs(workflow: dict[str, Any] | None, api: dict[str, Any] | None, schemas: Mapping[str, NodeSchema],
                  catalog: Any = None, info: GenerationInfo | None = None,
                  ) -> tuple[list[ModelVerdict], list[CustomNodeNeed]]:
    """Models and node packs an embedded graph needs, as the workflow inspector reads them.

    Models come from the API prompt when there is one (what actually ran), else from the UI
    workflow's active nodes; packs from the UI workflow (it also names muted nodes' packs).
    """
    from comfyfixer.tools.workflow import inspect_source

    sset = schemas if isinstance(schemas, SchemaSet) else SchemaSet(dict(schemas), "given schemas")
    models: list[ModelVerdict] = []
    model_source = api or workflow
    try:
        refs = inspect_source(model_source, schemas=sset).models if model_source else []
    except Exception as exc:  # the inspector failing must not lose the reconstruction
        log.warning("inspector could not read the graph's models: %s", exc)
        return scan_models(api or {}, info), []
    seen: set[tuple[str | None, str]] = set()
    for ref in refs:
        if not ref.active or (ref.folder, ref.filename) in seen:
            continue
        seen.add((ref.folder, ref.filename))
        role = _ROLE_BY_FOLDER.get(ref.folder or "", ref.folder or "unknown")
        hashes = _info_hashes(info, role, ref.filename)
        if ref.hash:
            hashes.setdefault(hash_kind(ref.hash) if (ref.hash_type or "").lower() != "sha256" else "SHA256", ref.hash)
        mv = ModelVerdict(role=role, name=_stem(ref.filename), file=ref.filename, folder=ref.folder,
                          hashes=hashes, detail={"url_hint": ref.url} if ref.url else {})
        air = air_version(ref.filename)
        if air is not None:  # Civitai's generator names models by AIR: the version id is their identity
            mv.model_version_id = air[1]
            mv.name = ref.filename
        models.append(mv)
    return models, graph_custom_nodes(workflow, api, schemas, catalog)


def graph_custom_nodes(workflow: dict[str, Any] | None, api: dict[str, Any] | None,
                       schemas: Mapping[str, NodeSchema], catalog: Any = None) -> list[CustomNodeNeed]:
    """Node packs for classes the schemas do not know, via the workflow inspector's pack attribution.

    One entry per pack with the classes it provides; a pack is optional when only muted or bypassed nodes
    need it. If the inspector fails, the unknown classes are listed under an "unknown" pack.
    """
    from comfyfixer.tools.workflow import inspect_source

    source = workflow if workflow is not None else api
    if not source:
        return []
    sset = schemas if isinstance(schemas, SchemaSet) else SchemaSet(dict(schemas), "given schemas")
    try:
        found = inspect_source(source, schemas=sset, catalog=catalog).custom_nodes
    except Exception as exc:  # the inspector failing must not lose the reconstruction
        log.warning("inspector could not read the rebuilt workflow: %s", exc)
        classes = sorted({str(n.get("class_type")) for n in (api or {}).values()
                          if isinstance(n, dict) and n.get("class_type") not in schemas})
        return [CustomNodeNeed(pack="unknown", classes=classes, reason="not in the node schemas")] if classes else []
    by_pack: dict[str, CustomNodeNeed] = {}
    for f in found:
        pack = f.packs[0].reference if f.packs else f"unknown pack ({f.status})"
        need = by_pack.setdefault(pack, CustomNodeNeed(pack=pack, optional=not f.active,
                                                       reason=f.reason or f.status))
        need.classes.append(f.class_type)
        need.optional = need.optional and not f.active
    return list(by_pack.values())


def _replace_value(graph: Any, old: str, new: str) -> int:
    """Replace a literal string everywhere in an API prompt or in UI widgets_values; returns the count."""
    count = 0
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list):
        for node in graph["nodes"]:
            wv = node.get("widgets_values")
            if isinstance(wv, list):
                for i, v in enumerate(wv):
                    if v == old:
                        wv[i] = new
                        count += 1
        return count
    if isinstance(graph, dict):
        for node in graph.values():
            inputs = node.get("inputs") if isinstance(node, dict) else None
            if isinstance(inputs, dict):
                for k, v in inputs.items():
                    if v == old:
                        inputs[k] = new
                        count += 1
    return count


def _attach_download(workflow: Any, file: str, url: str, folder: str | None, sha256: str | None) -> None:
    """``properties.models`` on the loader nodes, so ComfyUI's missing-models dialog offers the download."""
    if not isinstance(workflow, dict) or not folder:
        return
    entry: dict[str, Any] = {"name": file, "url": url, "directory": folder}
    if sha256:
        entry.update(hash=sha256.lower(), hash_type="sha256")
    for node in workflow.get("nodes") or []:
        if file in (node.get("widgets_values") or []) and node.get("type") != "Note":
            props = node.setdefault("properties", {})
            models = [x for x in props.get("models") or [] if x.get("name") != file]
            props["models"] = [*models, entry]


def resolver_sources(query: Any) -> tuple[str, ...]:
    """Identity first: a version id or hash is looked up as such; a bare name is searched only without one."""
    if getattr(query, "hashes", None) or getattr(query, "url_hint", None):
        return ("workflow", "hash")
    return ("civitai",)


def resolve_models(result: ReconstructResult, resolver: Callable[[Any], Any]) -> None:
    """Ask the resolver about every model (hashes first); take an exact hash match's real file name.

    A Civitai model-version id is passed as that version's download URL, so it is looked up like a hash. When
    a hash (or version) resolves to a file with another name, the graph is rewritten to that name (graphs we
    built only, never an embedded one) and the rename is recorded as inferred. In built graphs, resolved
    models get a ``properties.models`` download entry on their loaders. A failing lookup is logged and
    recorded in that model's ``detail``; the others still run.
    """
    from comfyfixer.tools.resolver.models import ModelQuery

    for m in result.models:
        if not m.file:
            continue
        if m.verdict == "NOT_FOUND" and m.detail:
            continue  # known not to be downloadable (e.g. NovelAI's models)
        # A Civitai model-version id names the exact file, like a hash does.
        url = m.detail.pop("url_hint", None) or (f"{CIVITAI_DOWNLOAD}{m.model_version_id}" if m.model_version_id else None)
        query = ModelQuery(filename=m.file, folder=m.folder, hashes=dict(m.hashes), url_hint=url)
        try:
            verdict = resolver(query)
        except Exception as exc:  # one failing lookup must not lose the others
            log.warning("resolver failed for %s: %s", m.file, exc)
            m.detail = {"error": str(exc)}
            continue
        status = str(getattr(verdict, "status", "NOT_FOUND"))
        m.verdict = status if status in ("RESOLVED", "UNCERTAIN", "NOT_FOUND") else "UNCERTAIN"
        best = getattr(verdict, "best", None)
        if best is None:
            continue
        m.source = best.url
        m.detail = {"filename": best.filename, "score": best.score, "reasons": list(best.reasons),
                    "exact": best.exact, "source": best.source}
        by_hash = best.exact and (best.source.startswith("civitai-hash") or (best.source == "workflow" and bool(url)))
        if m.verdict == "RESOLVED" and by_hash and best.filename and best.filename != m.file and result.method != "embedded":
            old = m.file
            n = _replace_value(result.api, old, best.filename) + _replace_value(result.workflow, old, best.filename)
            if n:
                m.file = best.filename
                result.inferred.append(Inferred(what=f"{m.role} file name {best.filename}",
                                                why=f"the metadata says '{m.name}'; its hash matches this file "
                                                    f"on {best.source}", confidence=0.95))
        if m.verdict == "RESOLVED" and result.method != "embedded":
            _attach_download(result.workflow, m.file, best.url, m.folder, best.sha256)


def match_local_files(result: ReconstructResult, files: Mapping[str, Iterable[str]]) -> None:
    """Point loaders at files the local ComfyUI already has under the same name in another form.

    WebUIs write ``waiIllustriousSDXL_v160``; the local file may be
    ``SDXL/waiIllustriousSDXL_v160.safetensors``. ``files`` maps a folder key to the names its
    loaders list. Only graphs we built are changed; an embedded graph stays as the image has it.
    """
    if result.method == "embedded":
        return
    for m in result.models:
        if not m.file or not m.folder:
            continue
        names = list(files.get(m.folder, ()))
        if m.file in names:
            continue
        want = _stem(m.file).lower()
        found = sorted(n for n in names if _stem(n).lower() == want)
        if len(found) != 1:
            continue
        old, new = m.file, found[0]
        if _replace_value(result.api, old, new) + _replace_value(result.workflow, old, new):
            m.file = new
            result.inferred.append(Inferred(what=f"{m.role} file {new}", why=f"'{m.name}' is installed here as {new} "
                                            "(same name; its content was not compared)", confidence=0.85))
