"""Fewer sampling steps with a distilled LoRA the family has (``tune --faster``).

The LoRA is wired as ComfyUI's own ``LoraLoaderModelOnly`` between the diffusion model's loader and
everything its ``MODEL`` fed, in the same graph (top level or subgraph), with new node and link ids
above every id in use; the samplers' ``steps`` (and, where the LoRA's card says so, ``cfg``) are set
to the LoRA's documented settings. Only LoRAs that exist in ComfyUI-Manager's model catalog are used
(real file name and URL), and only for the models they were trained for:

* ``Hyper-FLUX.1-dev-8steps-lora.safetensors`` (ByteDance Hyper-SD) for FLUX.1 [dev] and its GGUF
  files: 8 steps, LoRA strength 0.125, FLUX guidance kept at 3.5 (knowledge/model-family-flux.md).

A LoRA is merged into the model's weights when it loads, so the estimate does not change; sampling
time falls with the steps (20 → 8: about 2.5× faster), at some loss of detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from comfyfixer.tools.fit.tune import TuneChange, _raw_for, _Tuner
from comfyfixer.tools.workflow.copies import bump_ids, next_ids


@dataclass(frozen=True)
class StepCut:
    """A distilled LoRA and the settings its model card documents."""

    lora: str
    applies_to: str  # regex on the diffusion model's file name (lower case)
    steps: int
    strength: float
    cfg: float | None
    cost: str
    source: str


STEP_CUTS = (
    StepCut("Hyper-FLUX.1-dev-8steps-lora.safetensors", r"^flux1-dev(?![-_](kontext|fill|canny|depth))", 8, 0.125, None,
            "about 2.5× faster sampling at 8 steps instead of 20; some loss of fine detail",
            "ByteDance/Hyper-SD model card (knowledge/model-family-flux.md)"),
)
_SAMPLERS = ("KSampler", "KSamplerAdvanced", "BasicScheduler")


def _scope(doc: dict[str, Any], node_id: str) -> dict[str, Any]:
    """The graph (document or subgraph definition) that holds a node."""
    if ":" not in node_id:
        return doc
    inner = node_id.rsplit(":", 1)[-1]
    for sg in (doc.get("definitions") or {}).get("subgraphs") or []:
        if any(str(n.get("id")) == inner for n in sg.get("nodes") or []):
            return sg
    return doc


def insert_lora(doc: dict[str, Any], loader_id: str, lora: str, strength: float, url: str) -> int | None:
    """Wire ``LoraLoaderModelOnly`` after the loader's ``MODEL`` output; returns the new node's id, or
    None when the loader's output is not where a UI workflow keeps it."""
    loader = _raw_for(doc, loader_id)
    graph = _scope(doc, loader_id)
    outputs = loader.get("outputs") if loader is not None else None
    if loader is None or not isinstance(outputs, list) or not outputs or not isinstance(outputs[0], dict):
        return None
    fed = [int(x) for x in outputs[0].get("links") or []]
    node_id, link_id = next_ids(doc)
    links = graph.setdefault("links", [])
    dict_links = (bool(links) and isinstance(links[0], dict)) or graph is not doc
    for lk in links:  # what the loader fed now comes from the LoRA
        lid = lk[0] if isinstance(lk, list) else lk.get("id")
        if lid in fed:
            if isinstance(lk, list):
                lk[1], lk[2] = node_id, 0
            else:
                lk.update(origin_id=node_id, origin_slot=0)
    if dict_links:
        links.append({"id": link_id, "origin_id": loader["id"], "origin_slot": 0, "target_id": node_id, "target_slot": 0,
                      "type": "MODEL"})
    else:
        links.append([link_id, loader["id"], 0, node_id, 0, "MODEL"])
    outputs[0]["links"] = [link_id]
    x, y = (loader.get("pos") or [0, 0])[:2]
    graph.setdefault("nodes", []).append({
        "id": node_id, "type": "LoraLoaderModelOnly", "pos": [x, y + 160], "size": [270, 82], "flags": {}, "order": 0,
        "mode": 0, "inputs": [{"name": "model", "type": "MODEL", "link": link_id}],
        "outputs": [{"name": "MODEL", "type": "MODEL", "links": fed}],
        "properties": {"Node name for S&R": "LoraLoaderModelOnly", "models": [{"name": lora, "url": url, "directory": "loras"}]},
        "widgets_values": [lora, strength]})
    bump_ids(doc, node_id, link_id)
    return node_id


def cut_steps(t: _Tuner, catalog: Any) -> None:
    """Apply the first step cut whose LoRA fits the workflow's diffusion model and is in the catalog."""
    listed = {m.filename: m for m in getattr(catalog, "models", [])}
    for m in [m for m in t.report.models if m.role == "diffusion"]:
        name = m.filename.rsplit("/", 1)[-1].lower()
        cut = next((c for c in STEP_CUTS if re.search(c.applies_to, name)), None)
        if cut is None:
            continue
        if any(w.filename.rsplit("/", 1)[-1] == cut.lora for w in t.report.models):
            t.notes.append(f"{cut.lora} is already in the workflow")
            return
        entry = listed.get(cut.lora)
        if entry is None:
            t.notes.append(f"{cut.lora} is not in the loaded model catalog: no step cut (run `comfyfixer catalogs refresh`)")
            return
        new = insert_lora(t.doc, m.node_id, cut.lora, cut.strength, entry.url)
        if new is None:
            t.notes.append(f"{m.class_type} node {m.node_id}: its MODEL output could not be rewired; no step cut")
            return
        scope = m.node_id.rsplit(":", 1)[0] + ":" if ":" in m.node_id else ""
        t.changes.append(TuneChange(node_id=f"{scope}{new}", class_type="LoraLoaderModelOnly", input="class_type", old=None,
                                    new="LoraLoaderModelOnly",
                                    why=f"{cut.lora} at strength {cut.strength:g} after {m.filename} ({cut.source}): "
                                        f"{cut.cost}; merged into the weights as they load, no extra VRAM"))
        t.estimate()
        for node in list(t.graph.nodes.values()):
            if node.active and node.class_type in _SAMPLERS and "steps" in node.inputs:
                steps = t.current(node, "steps")
                if steps is not None and steps > cut.steps:
                    t.change(node.id, node.class_type, "steps", cut.steps,
                             f"{steps} → {cut.steps} steps, as {cut.lora} is made for ({cut.source})")
                if cut.cfg is not None and "cfg" in node.inputs:
                    t.change(node.id, node.class_type, "cfg", cut.cfg, f"cfg {cut.cfg:g} with {cut.lora} ({cut.source})")
        t.estimate()
        return
    t.notes.append("no distilled LoRA known for this model family: steps left as they are")
