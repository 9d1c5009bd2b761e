"""The workflow inspector: node types, model files, custom node packs and key parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from comfyfixer.tools.catalogs.manager import ManagerCatalog
from comfyfixer.tools.model_folders import canonical_folder
from comfyfixer.tools.schema.folders import (
    core_model_folder,
    guess_folder_from_input,
    looks_like_model_file,
)
from comfyfixer.tools.schema.loader import SchemaSet, bundled_core_schemas
from comfyfixer.tools.workflow.graph import Graph, GraphNode, Link
from comfyfixer.tools.workflow.loader import LoadedWorkflow, load_workflow
from comfyfixer.tools.workflow.models import InspectionResult, ModelRef, NodeTypeCount
from comfyfixer.tools.workflow.packs import attribute_packs
from comfyfixer.tools.workflow.widgets import widget_inputs

_EMBEDDING = re.compile(r"embedding:([^\s,()\[\]{}<>|:\"']+(?:\.(?:safetensors|pt|bin|pth))?)", re.IGNORECASE)
_MODEL_URL = re.compile(
    r"https?://[^\s\"'<>()\[\]]+?\.(?:safetensors|ckpt|pt|pth|bin|gguf|sft|onnx)(?=[\s\"'<>()\[\],;]|\?|$)",
    re.IGNORECASE,
)
_PARAM_NAMES = ("seed", "noise_seed", "steps", "cfg", "sampler_name", "scheduler", "denoise", "guidance",
                "start_at_step", "end_at_step", "add_noise", "shift")
_SIZE_NAMES = ("width", "height", "batch_size", "length")


class InspectInput(BaseModel):
    """Arguments of the ``inspect_workflow`` capability."""

    path: str = Field(description="Path of a workflow JSON (UI or API) or an image (PNG/WebP/JPEG) that embeds one.")
    object_info: str | None = Field(
        None, description="Node schemas: a saved object_info JSON file or a ComfyUI URL. Default: bundled core schemas."
    )


def normalize_filename(name: str) -> str:
    """Forward slashes, no leading './'; the sub-folder part is kept."""
    n = name.strip().replace("\\", "/")
    while n.startswith("./"):
        n = n[2:]
    return n


def resolve_inputs(graph: Graph, schemas: SchemaSet) -> dict[str, str]:
    """Fill ``node.inputs`` for UI nodes from widgets_values; returns node id → mapping method."""
    methods: dict[str, str] = {}
    for node in graph.nodes.values():
        if node.widgets_mapped:
            continue
        mapped, how, rest = widget_inputs(node, schemas.get(node.class_type))
        for name, value in mapped.items():
            node.inputs.setdefault(name, value)
        node.unnamed_values = rest
        node.widgets_mapped = True
        methods[node.id] = how
    _apply_primitives(graph)
    return methods


def _apply_primitives(graph: Graph) -> None:
    """A PrimitiveNode writes its value into each widget it feeds (the frontend's applyToGraph)."""
    for node in graph.nodes.values():
        for name, value in list(node.inputs.items()):
            if not isinstance(value, Link):
                continue
            origin = graph.nodes.get(value.origin)
            hops = 0
            while origin is not None and origin.class_type == "Reroute" and hops < 64:
                upstream = next((v for v in origin.inputs.values() if isinstance(v, Link)), None)
                origin = graph.nodes.get(upstream.origin) if upstream else None
                hops += 1
            if origin is not None and origin.class_type == "PrimitiveNode":
                vals = origin.widgets_values
                if isinstance(vals, list) and vals:
                    node.inputs[name] = vals[0]
                    graph.applied_primitives.add(origin.id)


_MODEL_ENTRY_FIELDS = ("name", "url", "directory", "hash", "hash_type")


def model_entries(models: Any, where: str, warnings: list[str] | None = None) -> list[dict[str, str]]:
    """``[{name, url, directory, hash, hash_type}]`` as the workflow lists them, string fields only.

    A field of another type (``url: 5``) is dropped with a warning naming ``where`` (a node or the
    workflow), so a malformed entry never reaches the typed results.
    """
    if models is None:
        return []
    if not isinstance(models, list):
        if warnings is not None:
            warnings.append(f"{where}: 'models' is {type(models).__name__}, not a list; ignored")
        return []
    out: list[dict[str, str]] = []
    for i, m in enumerate(models):
        if not isinstance(m, Mapping):
            if warnings is not None:
                warnings.append(f"{where}: models[{i}] is {type(m).__name__}, not an object; ignored")
            continue
        entry: dict[str, str] = {}
        for key in _MODEL_ENTRY_FIELDS:
            value = m.get(key)
            if isinstance(value, str):
                entry[key] = value
            elif value is not None and warnings is not None:
                warnings.append(f"{where}: models[{i}].{key} is {type(value).__name__}, not a string; ignored")
        if entry.get("name"):
            out.append(entry)
    return out


def _properties_models(node: GraphNode, warnings: list[str] | None = None) -> list[dict[str, str]]:
    models = node.properties.get("models")
    return [] if models is None else model_entries(models, f"node {node.id} properties", warnings)


def _scan_nested(value: Any, key: str | None, out: list[tuple[str | None, str]], depth: int = 0) -> None:
    """Model-file strings inside dict/list widget values (e.g. LoRA stacks with {lora, strength})."""
    if depth > 6:
        return
    if isinstance(value, str):
        if looks_like_model_file(value):
            out.append((key, value))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _scan_nested(v, str(k), out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _scan_nested(v, key, out, depth + 1)


def extract_models(graph: Graph, warnings: list[str]) -> list[ModelRef]:
    refs: list[ModelRef] = []
    seen: set[tuple[str, str | None, str]] = set()
    # Base names already listed per node: looked up per node, so a list scan would be quadratic.
    listed_by_node: dict[str, set[str]] = {}

    def add(ref: ModelRef) -> None:
        key = (ref.node_id, ref.input, ref.filename)
        if key in seen:
            return
        seen.add(key)
        if ".." in ref.filename.split("/") or ref.filename.startswith("/") or re.match(r"^[A-Za-z]:", ref.filename):
            warnings.append(f"node {ref.node_id}: model name '{ref.filename}' points outside the model folder")
        refs.append(ref)
        listed_by_node.setdefault(ref.node_id, set()).add(_base(ref.filename))

    for node in graph.nodes.values():
        if node.virtual and (node.class_type != "PrimitiveNode" or node.id in graph.applied_primitives):
            continue
        declared = {normalize_filename(str(m["name"])).rsplit("/", 1)[-1].lower(): m for m in _properties_models(node, warnings)}
        source = "api" if graph.format == "api" else "widget"
        named: list[tuple[str | None, str]] = []
        for name, value in node.inputs.items():
            if isinstance(value, Link):
                continue
            core_folder = core_model_folder(node.class_type, name)
            if core_folder is not None and isinstance(value, str) and value.strip():
                named.append((name, value))
            elif isinstance(value, str):
                if looks_like_model_file(value):
                    named.append((name, value))
            else:
                _scan_nested(value, name, named)
        if node.class_type != "PrimitiveNode" or node.id not in graph.applied_primitives:
            # Values the mapping could not name (count mismatch, unknown schema) still count.
            leftovers: list[tuple[str | None, str]] = []
            _scan_nested(node.unnamed_values, None, leftovers)
            named_files = {f for _, f in named}
            named.extend((k, f) for k, f in leftovers if f not in named_files)
        for input_name, raw_name in named:
            filename = normalize_filename(raw_name)
            decl = declared.get(filename.rsplit("/", 1)[-1].lower())
            folder = core_model_folder(node.class_type, input_name) if input_name else None
            folder_from = "core-loader" if folder else "unknown"
            if folder is None and decl is not None and decl.get("directory"):
                folder, folder_from = canonical_folder(str(decl["directory"])), "properties"
            if folder is None:
                folder = guess_folder_from_input(node.class_type, input_name)
                folder_from = "input-name" if folder else "unknown"
            add(
                ModelRef(
                    filename=filename, folder=canonical_folder(folder), node_id=node.id, input=input_name,
                    class_type=node.class_type, url=(decl or {}).get("url") or None,
                    hash=(decl or {}).get("hash") or None, hash_type=(decl or {}).get("hash_type") or None,
                    source=source, folder_from=folder_from, active=node.active,
                )
            )
        listed = listed_by_node.get(node.id, set())
        for decl_name, m in declared.items():
            if decl_name not in listed:
                add(
                    ModelRef(
                        filename=normalize_filename(str(m["name"])), folder=canonical_folder(m.get("directory")),
                        node_id=node.id, class_type=node.class_type, url=m.get("url") or None,
                        hash=m.get("hash") or None, hash_type=m.get("hash_type") or None, source="properties",
                        folder_from="properties", active=node.active,
                    )
                )
        texts: list[tuple[str | None, str]] = [(k, v) for k, v in node.inputs.items() if isinstance(v, str)]
        texts += [(None, v) for v in node.unnamed_values if isinstance(v, str)]
        for name, value in texts:
            if "embedding:" in value.lower():
                for match in _EMBEDDING.finditer(value):
                    add(ModelRef(filename=normalize_filename(match.group(1)), folder="embeddings", node_id=node.id,
                                 input=name, class_type=node.class_type, source="embedding",
                                 folder_from="core-loader", active=node.active))
    _attach_workflow_level_models(graph, refs, add, warnings)
    return refs


def _base(filename: str) -> str:
    """The case-folded base name a model file is matched by (sub-folders differ between installs)."""
    return filename.rsplit("/", 1)[-1].lower()


def _attach_workflow_level_models(graph: Graph, refs: list[ModelRef], add: Any, warnings: list[str]) -> None:
    """UI workflows may list models at the top level (``models: [{name, url, directory}]``)."""
    top = graph.raw.get("models") if graph.format == "ui" else None
    if top is None:
        return
    by_base: dict[str, list[ModelRef]] = {}
    for r in refs:
        by_base.setdefault(_base(r.filename), []).append(r)
    for m in model_entries(top, "workflow", warnings):
        base = _base(normalize_filename(str(m["name"])))
        matched = by_base.get(base, [])
        for r in matched:
            if r.url is None and m.get("url"):
                r.url = str(m["url"])
            if r.folder is None and m.get("directory"):
                r.folder, r.folder_from = canonical_folder(str(m["directory"])), "properties"
        if not matched:
            before = len(refs)
            add(ModelRef(filename=normalize_filename(str(m["name"])), folder=canonical_folder(m.get("directory")),
                         node_id="workflow", class_type="", url=m.get("url") or None, source="properties",
                         folder_from="properties"))
            if len(refs) > before:  # a later entry with the same base name matches this one
                by_base.setdefault(base, []).append(refs[-1])


def note_urls(graph: Graph) -> list[str]:
    """Model-file URLs that authors write into Note/MarkdownNote nodes."""
    urls: dict[str, None] = {}  # ordered set: a list membership test per URL is quadratic
    for node in graph.nodes.values():
        if node.class_type not in ("Note", "MarkdownNote"):
            continue
        for text in node.widgets_values if isinstance(node.widgets_values, list) else []:
            if isinstance(text, str):
                for m in _MODEL_URL.finditer(text):
                    # A Hugging Face page link ("blob") downloads from the "resolve" twin.
                    url = re.sub(r"(huggingface\.co/[^/]+/[^/]+)/blob/", r"\1/resolve/", m.group(0))
                    urls.setdefault(url, None)
    return list(urls)


# Notes are free text anyone can write; these bounds keep a huge or numerous Note from flooding a result.
MAX_NOTES = 12
MAX_NOTE_CHARS = 1500
MAX_NOTES_TOTAL = 6000


def note_texts(graph: Graph) -> list[str]:
    """The text of the graph's Note/MarkdownNote nodes, in node order, bounded in count and size.

    The text is kept as data only (nothing parses or follows it); each note is cut at
    ``MAX_NOTE_CHARS`` and the whole list at ``MAX_NOTES`` notes or ``MAX_NOTES_TOTAL`` characters,
    with a marker saying how much was left out.
    """
    notes: list[str] = []
    total = 0
    for node in graph.nodes.values():
        if node.class_type not in ("Note", "MarkdownNote"):
            continue
        values = node.widgets_values if isinstance(node.widgets_values, list) else []
        text = "\n".join(v for v in values if isinstance(v, str)).strip()
        if not text:
            continue
        if len(notes) >= MAX_NOTES or total >= MAX_NOTES_TOTAL:
            notes.append("(more notes not shown)")
            break
        if len(text) > MAX_NOTE_CHARS:
            text = text[:MAX_NOTE_CHARS] + f" ... ({len(text) - MAX_NOTE_CHARS} more characters)"
        notes.append(text)
        total += len(text)
    return notes


def _attach_note_urls(models: list[ModelRef], urls: list[str]) -> None:
    by_name = {u.rsplit("/", 1)[-1].lower(): u for u in urls}
    for m in models:
        if m.url is None:
            m.url = by_name.get(m.filename.rsplit("/", 1)[-1].lower())


def extract_parameters(graph: Graph) -> dict[str, Any]:
    samplers: list[dict[str, Any]] = []
    latents: list[dict[str, Any]] = []
    prompts: list[dict[str, Any]] = []
    for node in graph.nodes.values():
        if not node.active or node.virtual:
            continue
        lits = {k: v for k, v in node.inputs.items() if not isinstance(v, Link)}
        p = {k: lits[k] for k in _PARAM_NAMES if k in lits and isinstance(lits[k], str | int | float | bool)}
        if len(p) >= 2 or ("sampler" in node.class_type.lower() and p):
            samplers.append({"node_id": node.id, "class_type": node.class_type, **p})
        s = {k: lits[k] for k in _SIZE_NAMES if k in lits and isinstance(lits[k], int | float)}
        if "width" in s and "height" in s:
            latents.append({"node_id": node.id, "class_type": node.class_type, **s})
        if "TextEncode" in node.class_type:
            for key in ("text", "prompt", "text_g", "text_l", "clip_l", "t5xxl"):
                text = lits.get(key)
                if isinstance(text, str) and text.strip():
                    prompts.append({"node_id": node.id, "input": key, "text": text[:2000]})
    return {"samplers": samplers, "latents": latents, "prompts": prompts}


def node_type_counts(graph: Graph) -> tuple[list[NodeTypeCount], list[str]]:
    counts: dict[str, NodeTypeCount] = {}
    locations: dict[str, dict[str, None]] = {}
    virtual: set[str] = set()
    for node in graph.nodes.values():
        if node.class_type.startswith("workflow>"):
            continue
        if node.virtual:
            virtual.add(node.class_type)
            continue
        entry = counts.setdefault(node.class_type, NodeTypeCount(class_type=node.class_type, count=0))
        entry.count += 1
        entry.active_count += 1 if node.active else 0
        scopes = locations.setdefault(node.class_type, {})
        if node.scope not in scopes:  # a set beside the list: thousands of subgraph scopes stay linear
            scopes[node.scope] = None
            entry.locations.append(node.scope)
    return sorted(counts.values(), key=lambda c: c.class_type), sorted(virtual)


def _saved_version(graph: Graph) -> str | None:
    vers = [str(n.properties.get("ver")) for n in graph.nodes.values()
            if n.properties.get("cnr_id") == "comfy-core" and n.properties.get("ver")]
    return max(vers, key=lambda v: tuple(int(x) if x.isdigit() else 0 for x in v.split("."))) if vers else None


def inspect_loaded(
    loaded: LoadedWorkflow, *, schemas: SchemaSet | None = None, catalog: ManagerCatalog | None = None
) -> InspectionResult:
    schemas = schemas if schemas is not None else bundled_core_schemas()
    graph = loaded.graph
    warnings = list(graph.warnings)
    methods = resolve_inputs(graph, schemas)
    guessed = sorted({graph.nodes[n].class_type for n, how in methods.items() if how == "ui-inputs"})
    if guessed:
        warnings.append(
            f"no schema for {len(guessed)} class(es) ({', '.join(guessed[:5])}{'…' if len(guessed) > 5 else ''}): "
            "widget names taken from the node's own input list (heuristic)"
        )
    tolerant = sorted({graph.nodes[n].class_type for n, how in methods.items() if how == "schema-tolerant"})
    if tolerant:
        warnings.append(
            f"widgets_values count differs from the schema for {', '.join(tolerant[:5])}: mapped tolerantly "
            "(the workflow may come from another version of the node)"
        )
    node_types, virtual = node_type_counts(graph)
    models = extract_models(graph, warnings)
    hinted = note_urls(graph)
    _attach_note_urls(models, hinted)
    custom = attribute_packs(graph.nodes.values(), schemas, catalog)
    if catalog is None and custom:
        warnings.append("ComfyUI-Manager catalogs not loaded: custom node packs could not be looked up")
    return InspectionResult(
        path=loaded.path, format=loaded.format, container=loaded.container,
        node_types=node_types, models=models, custom_nodes=custom, virtual_nodes=virtual,
        parameters=extract_parameters(graph), warnings=warnings, note_urls=hinted, notes=note_texts(graph),
        schema_source=schemas.source,
        comfyui_version=_saved_version(graph),
    )


def inspect_source(
    source: Path | str | bytes | Mapping[str, Any],
    *,
    schemas: SchemaSet | None = None,
    catalog: ManagerCatalog | None = None,
) -> InspectionResult:
    """Load ``source`` (a path, JSON text or bytes, or a parsed document) and inspect it.

    The library form of the ``inspect_workflow`` capability (``tools/workflow/capability.py``), for
    callers that hold their own schemas and catalogs (the readiness check, evals, tests).
    """
    return inspect_loaded(load_workflow(source), schemas=schemas, catalog=catalog)
