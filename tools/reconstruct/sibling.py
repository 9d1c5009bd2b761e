"""Re-use a sibling image's ComfyUI graph for an image that only has parameters.

An author's images from the same post, or made with the same model version, usually come
from one workflow. When such a sibling carries its graph, the image's own seed, steps, cfg,
sampler, size and prompts are written into a copy of it: the pipeline (custom samplers, hires
steps, upscalers, packs) comes from real evidence instead of a generic template.
Only literal values on the sampler path are changed; nothing is rewired.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from comfyfixer.tools.imagemeta.models import GenerationInfo
from comfyfixer.tools.reconstruct.api_to_ui import is_link
from comfyfixer.tools.reconstruct.prompt_syntax import clean_prompt

SAMPLERS = ("KSampler", "KSamplerAdvanced")
LATENTS = ("EmptyLatentImage", "EmptySD3LatentImage", "EmptyHunyuanLatentVideo", "EmptyMochiLatentVideo")
LOADER_INPUTS = {"CheckpointLoaderSimple": "ckpt_name", "UNETLoader": "unet_name"}
_EMBEDDING_REF = re.compile(r"embedding:([^\s,()]+)")
_AIR = re.compile(r"urn:air:[^:]+:([^:]+):civitai:(\d+)@(\d+)")


@dataclass
class Adapted:
    """A sibling's graph with this image's values: the new ``prompt``, what was ``changed`` (one line each),
    what could not be placed (``missing``, which rules the sibling out), ``warnings`` about prompt
    embeddings, and whether the sibling loads the ``same_model`` (by Civitai version id or file stem).
    """
    prompt: dict[str, Any]
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    same_model: bool = False


def air_version(value: str) -> tuple[str, int] | None:
    """(resource type, model-version id) of a Civitai AIR such as
    ``urn:air:sdxl:lora:civitai:1141783@1284026``.
    """
    m = _AIR.search(value)
    return (m.group(1), int(m.group(3))) if m else None


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0].lower() if "." in base else base.lower()


def _text_node(nodes: dict[str, Any], link: Any, hops: int = 0) -> str | None:
    """The node whose literal ``text`` a conditioning link comes from, through pass-through nodes."""
    if not is_link(link, nodes) or hops > 8:
        return None
    nid = str(link[0])
    inputs = nodes[nid].get("inputs") or {}
    if isinstance(inputs.get("text"), str):
        return nid
    upstream = [v for k, v in inputs.items() if is_link(v, nodes) and k in ("conditioning", "conditioning_1", "positive")]
    return _text_node(nodes, upstream[0], hops + 1) if upstream else None


def _first_sampler(nodes: dict[str, Any]) -> str | None:
    """The sampler fed by an empty latent (the first pass), else the first sampler."""
    samplers = [k for k, v in nodes.items() if v.get("class_type") in SAMPLERS]
    for k in samplers:
        lat = (nodes[k].get("inputs") or {}).get("latent_image")
        if lat is not None and is_link(lat, nodes) and nodes[str(lat[0])].get("class_type") in LATENTS:
            return k
    return samplers[0] if samplers else None


def adapt_sibling_graph(sibling: dict[str, Any], info: GenerationInfo, version_ids: list[int]) -> Adapted:
    """A copy of ``sibling`` carrying ``info``'s values; what could not be placed is listed in ``missing``.

    Only literal inputs are changed: seed, steps, cfg, sampler and scheduler on the first sampler (the one
    fed by an empty latent), the same seed on later samplers that shared it, the prompt text nodes behind
    the sampler's conditioning (through up to eight pass-through nodes) and the empty latent's size. The
    caller uses the result only when ``same_model`` is true and nothing is missing.
    """
    nodes = copy.deepcopy({k: v for k, v in sibling.items() if isinstance(v, dict) and "class_type" in v})
    out = Adapted(prompt=nodes)
    sid = _first_sampler(nodes)
    if sid is None:
        out.missing.append("a KSampler to carry seed, steps, cfg and sampler")
        return out
    ks = nodes[sid]["inputs"]
    seed_key = "seed" if "seed" in ks else "noise_seed"
    old_seed = ks.get(seed_key)
    values = {seed_key: info.seed, "steps": info.steps, "cfg": info.cfg, "sampler_name": info.sampler,
              "scheduler": info.scheduler}
    for key, value in values.items():
        if value is None:
            continue
        if key in ks and not is_link(ks[key], nodes):
            if ks[key] != value:
                ks[key] = value
                out.changed.append(f"{nodes[sid]['class_type']}.{key} = {value}")
        else:
            out.missing.append(f"{key} (linked or absent in the sibling's sampler)")
    # Later passes that reused the first pass's seed (hires, refiner) keep doing so.
    if info.seed is not None and not is_link(old_seed, nodes):
        for nid, node in nodes.items():
            other = node.get("inputs") or {}
            k2 = "seed" if "seed" in other else "noise_seed"
            if nid != sid and node.get("class_type") in SAMPLERS and other.get(k2) == old_seed != info.seed:
                other[k2] = info.seed
                out.changed.append(f"node {nid} {node['class_type']}.{k2} = {info.seed} (it shared the first pass's seed)")
    for label, key, text in (("positive", "positive", info.prompt), ("negative", "negative", info.negative_prompt)):
        if text is None:
            continue
        tid = _text_node(nodes, ks.get(key))
        if tid is None:
            out.missing.append(f"{label} prompt (no text node on the sampler's {key} input)")
            continue
        cleaned = clean_prompt(text, [e.name for e in info.embeddings]).text
        old_refs = _EMBEDDING_REF.findall(nodes[tid]["inputs"]["text"])
        if old_refs and not _EMBEDDING_REF.search(cleaned):
            # Civitai's generator writes embeddings as AIR refs in the graph but by name in the meta.
            out.warnings.append(f"the sibling's {label} prompt loads {', '.join(old_refs)}; this image's prompt "
                                "names no embedding that way — check whether it used the same ones")
        if nodes[tid]["inputs"]["text"] != cleaned:
            nodes[tid]["inputs"]["text"] = cleaned
            out.changed.append(f"{label} prompt")
    lat = ks.get("latent_image")
    if info.width and info.height and is_link(lat, nodes) and nodes[str(lat[0])].get("class_type") in LATENTS:
        li = nodes[str(lat[0])]["inputs"]
        if (li.get("width"), li.get("height")) != (info.width, info.height):
            li["width"], li["height"] = info.width, info.height
            out.changed.append(f"size {info.width}x{info.height}")
    elif info.width and info.height:
        out.missing.append("size (the first sampler does not start from an empty latent)")
    model_name = info.model.name if info.model and info.model.name else None
    for node in nodes.values():
        loader_key = LOADER_INPUTS.get(node.get("class_type", ""))
        file = (node.get("inputs") or {}).get(loader_key or "")
        if not isinstance(file, str):
            continue
        air = air_version(file)
        if (air and air[1] in version_ids) or (model_name and _stem(file) == _stem(model_name)):
            out.same_model = True
    return out
