"""Shared helpers for the reconstruct tests: the real node schemas, corpus images, graph comparison."""

from __future__ import annotations

import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from comfyfixer.tools.imagemeta import GenerationInfo, read_image
from comfyfixer.tools.reconstruct.api_to_ui import default_for
from comfyfixer.tools.schema import SchemaSet, load_object_info

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("COMFYFIXER_SHARED", REPO.parent / "shared")) / "data"
CORPUS = SHARED_DATA / "images" / "corpus"
OBJECT_INFO = SHARED_DATA / "comfyui" / "object_info.json"
UPLOAD_KEYS = ("upload", "choose file to upload")


@lru_cache(maxsize=1)
def schemas() -> SchemaSet:
    return load_object_info(OBJECT_INFO)


def corpus_images() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*/*") if p.is_file()) if CORPUS.is_dir() else []


@cache
def info_for(path: Path) -> GenerationInfo | None:
    try:
        return read_image(path)
    except Exception:  # unreadable negative controls
        return None


def rel(path: Path) -> str:
    return str(path.relative_to(CORPUS))


def is_link(value: Any, nodes: dict[str, Any]) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int) and str(value[0]) in nodes


def canonical(prompt: dict[str, Any], id_map: dict[str, int] | None = None) -> dict[str, Any]:
    """Nodes with class_type and inputs only (``_meta`` is ignored by ComfyUI), ids renamed by ``id_map``."""
    nodes = {str(k): v for k, v in prompt.items() if isinstance(v, dict) and "class_type" in v}

    def ren(nid: str) -> str:
        return str(id_map[nid]) if id_map else nid

    out: dict[str, Any] = {}
    for nid, node in nodes.items():
        inputs = {}
        for name, value in (node.get("inputs") or {}).items():
            inputs[name] = [ren(str(value[0])), value[1]] if is_link(value, nodes) else value
        out[ren(nid)] = {"class_type": node["class_type"], "inputs": inputs}
    return out


def backend_view(prompt: dict[str, Any], reference: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ComfyUI's executor sees of a canonical prompt.

    Dropped: the frontend's upload-button keys and literal inputs the node's schema does not
    declare (the backend ignores both). With ``reference``, inputs this prompt has but the reference
    lacks are dropped when they equal the schema default (a newer schema's added widget).
    """
    sch = schemas()
    out: dict[str, Any] = {}
    for nid, node in prompt.items():
        schema = sch.get(node["class_type"])
        inputs = {}
        for name, value in node["inputs"].items():
            if name in UPLOAD_KEYS:
                continue
            spec = schema.input(name) if schema else None
            if schema is not None and spec is None and not is_link(value, prompt):
                continue
            if reference is not None and name not in reference.get(nid, {}).get("inputs", {}) \
                    and spec is not None and value == default_for(spec):
                continue
            inputs[name] = value
        out[nid] = {"class_type": node["class_type"], "inputs": inputs}
    return out


def ui_structure_problems(wf: dict[str, Any]) -> list[str]:
    """What the frontend's workflow schema (v0.4) and LiteGraph's link bookkeeping would reject."""
    problems: list[str] = []
    nodes = wf.get("nodes")
    if wf.get("version") != 0.4 or not isinstance(nodes, list) or not isinstance(wf.get("links"), list):
        return ["not a v0.4 workflow with nodes and links lists"]
    by_id = {}
    for n in nodes:
        if not isinstance(n.get("id"), int) or n["id"] in by_id:
            problems.append(f"node id {n.get('id')!r} is not a unique integer")
        by_id[n.get("id")] = n
        for key, typ in (("type", str), ("pos", list), ("size", list), ("flags", dict), ("order", int), ("mode", int),
                         ("inputs", list), ("outputs", list), ("properties", dict), ("widgets_values", list)):
            if not isinstance(n.get(key), typ):
                problems.append(f"node {n.get('id')}: {key} is not a {typ.__name__}")
    if wf.get("last_node_id", -1) < max(by_id, default=0):
        problems.append("last_node_id is below a node id")
    link_ids = set()
    for link in wf["links"]:
        if not (isinstance(link, list) and len(link) == 6):
            problems.append(f"link {link!r} is not [id, from, from_slot, to, to_slot, type]")
            continue
        lid, src, sslot, dst, dslot, _typ = link
        link_ids.add(lid)
        s, d = by_id.get(src), by_id.get(dst)
        if s is None or d is None:
            problems.append(f"link {lid} joins a missing node")
            continue
        if sslot >= len(s["outputs"]) or lid not in (s["outputs"][sslot].get("links") or []):
            problems.append(f"link {lid} is not listed on node {src} output {sslot}")
        if dslot >= len(d["inputs"]) or d["inputs"][dslot].get("link") != lid:
            problems.append(f"link {lid} is not the link of node {dst} input {dslot}")
    if wf.get("last_link_id", -1) < max(link_ids, default=0):
        problems.append("last_link_id is below a link id")
    for n in nodes:
        for slot in n["inputs"]:
            if slot.get("link") is not None and slot["link"] not in link_ids:
                problems.append(f"node {n['id']} input {slot.get('name')} names unknown link {slot['link']}")
    return problems
