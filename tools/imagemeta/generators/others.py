"""Parsers for the JSON-based writers: NovelAI, InvokeAI, Fooocus, RuinedFooocus,
SwarmUI, Draw Things, Civitai's generator, EasyDiffusion, Stability Matrix, HF Spaces.

Each ``parse_*`` takes the decoded value(s) and fills a GenerationInfo; each
returns False when the data is not in its format, so the reader can try the next.
"""

from __future__ import annotations

import re
import shlex
from typing import Any
from xml.etree import ElementTree

from comfyfixer.tools.imagemeta.a1111 import hash_kind, info_from_a1111
from comfyfixer.tools.imagemeta.graphs import try_json
from comfyfixer.tools.imagemeta.models import GenerationInfo, LoraRef, ModelInfo, RefinerInfo
from comfyfixer.tools.imagemeta.samplers import NOVELAI_SCHEDULES, map_sampler, map_scheduler


def _int(v: Any) -> int | None:
    """An integer from JSON or text, None otherwise; ``"123.0"`` is accepted, booleans are not, and digit
    strings are converted without a float so 64-bit seeds keep every digit.
    """
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():  # NaN and Infinity are not integers
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"-?\d+(\.0+)?", v.strip()):
        return int(v.strip().split(".")[0])  # not via float: 64-bit seeds lose digits
    return None


def _list(v: Any) -> list[Any]:
    """``v`` when it is a JSON array, else empty: a writer's list field may hold any JSON value."""
    return v if isinstance(v, list) else []


def _float(v: Any) -> float | None:
    """A float from a number or numeric text, None otherwise (booleans refused)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


_NUMBERS = {"seed": _int, "steps": _int, "width": _int, "height": _int, "clip_skip": _int,
            "cfg": _float, "denoise": _float}


def _read(info: GenerationInfo, d: dict[str, Any], generator: str, confidence: float, **keys: str) -> None:
    """Name the generator and copy the plain settings: each keyword is a :class:`GenerationInfo` field and
    its value the key that holds it in ``d`` (numbers are parsed leniently; prompts are taken as they are)."""
    info.generator, info.generator_confidence = generator, confidence
    for field, key in keys.items():
        convert = _NUMBERS.get(field)
        setattr(info, field, convert(d.get(key)) if convert else d.get(key))


def _set_sampler(info: GenerationInfo, sampler: Any, scheduler: Any = None) -> None:
    """Record the raw sampler/scheduler names and their ComfyUI mappings; a sampler name that implies a
    scheduler (``DPM++ 2M Karras``) sets it unless an explicit scheduler follows.
    """
    if isinstance(sampler, str) and sampler:
        info.sampler_raw = sampler
        s, sch = map_sampler(sampler)
        info.sampler = s
        if sch:
            info.scheduler = sch
    if isinstance(scheduler, str) and scheduler:
        info.scheduler_raw = scheduler
        info.scheduler = map_scheduler(scheduler) or info.scheduler


def _model(name: Any, h: Any = None) -> ModelInfo | None:
    """A ``ModelInfo`` from a name and a hash such as ``"blake3:…"``, ``"0x…"`` or bare hex (kind guessed
    from the length); None when neither is given.
    """
    if not isinstance(name, str) and not h:
        return None
    hashes: dict[str, str] = {}
    if isinstance(h, str) and h:
        kind, _, val = h.partition(":") if ":" in h else ("", "", h)
        if kind.lower() == "blake3":
            hashes["BLAKE3"] = val
        else:
            val = h[2:] if h.startswith("0x") else h
            hashes[hash_kind(val)] = val
    return ModelInfo(name=name if isinstance(name, str) else None, hashes=hashes)


# --------------------------------------------------------------------------- NovelAI

_NAI_KEYS = {"uc", "noise_schedule", "v4_prompt", "n_samples", "uncond_scale", "cfg_rescale"}


def parse_novelai_wrapped(text: str, info: GenerationInfo) -> bool:
    """``{"Comment": "<json>", "Software": ...}`` (WebP UserComment, stealth payload)."""
    d = try_json(text)
    if not isinstance(d, dict) or not isinstance(d.get("Comment"), str):
        return False
    return parse_novelai(text, info)



def parse_novelai(comment: str, info: GenerationInfo, *, description: str | None = None, source: str | None = None) -> bool:
    """NovelAI's ``Comment`` JSON (PNG text, or wrapped in a WebP/stealth ``Comment``): prompt, uc, seed,
    steps, scale, sampler and noise schedule, V4 base and character captions.

    Recognised by NovelAI-only keys (``uc``, ``noise_schedule``, ``v4_prompt``…); ``description`` (the PNG
    ``Description``) stands in for the prompt when the JSON has none, and ``source`` (``"<model> <8 hex>"``)
    becomes the model with a ``NovelAI`` hash.
    """
    data = try_json(comment)
    if isinstance(data, dict) and isinstance(data.get("Comment"), str):  # WebP/stealth wrapper
        description = description or data.get("Description")
        source = source or data.get("Source") or data.get("Software")
        data = try_json(data["Comment"])
    if not isinstance(data, dict) or not _NAI_KEYS & set(data):
        return False
    info.generator, info.generator_confidence = "NovelAI", 0.98
    v4p = (data.get("v4_prompt") or {}).get("caption") if isinstance(data.get("v4_prompt"), dict) else None
    v4n = (data.get("v4_negative_prompt") or {}).get("caption") if isinstance(data.get("v4_negative_prompt"), dict) else None
    info.prompt = data.get("prompt") if isinstance(data.get("prompt"), str) else (v4p or {}).get("base_caption") or description
    neg = data.get("uc")
    info.negative_prompt = neg if isinstance(neg, str) else (v4n or {}).get("base_caption")
    if v4p and v4p.get("char_captions"):
        info.extra["character_prompts"] = [c.get("char_caption") for c in v4p["char_captions"] if isinstance(c, dict)]
    info.seed = _int(data.get("seed"))
    info.steps = _int(data.get("steps"))
    info.cfg = _float(data.get("scale"))
    info.width, info.height = _int(data.get("width")), _int(data.get("height"))
    info.denoise = _float(data.get("strength"))
    _set_sampler(info, data.get("sampler"))
    ns = data.get("noise_schedule")
    if isinstance(ns, str):
        info.scheduler_raw = ns
        info.scheduler = NOVELAI_SCHEDULES.get(ns, map_scheduler(ns))
    if source:
        m = re.match(r"(.*?)\s+([0-9A-Fa-f]{8})$", source.strip())
        info.model = ModelInfo(name=m.group(1) if m else source, hashes={"NovelAI": m.group(2)} if m else {})
    for k in ("cfg_rescale", "noise", "uncond_scale", "n_samples"):
        if k in data:
            info.extra[k] = data[k]
    return True


# --------------------------------------------------------------------------- InvokeAI


def parse_invokeai_metadata(text: str, info: GenerationInfo) -> bool:
    """InvokeAI 3+ ``invokeai_metadata`` JSON (flat keys: ``positive_prompt``, ``cfg_scale``, ``model``…).
    Any JSON object is accepted, since the key itself already identified InvokeAI.
    """
    d = try_json(text)
    if not isinstance(d, dict):
        return False
    _read(info, d, "InvokeAI", 0.98, prompt="positive_prompt", negative_prompt="negative_prompt", seed="seed",
          steps="steps", cfg="cfg_scale", width="width", height="height")
    info.denoise = _float(d.get("denoising_strength") or d.get("strength"))
    _set_sampler(info, d.get("scheduler"))
    m = d.get("model")
    if isinstance(m, dict):
        info.model = _model(m.get("name") or m.get("model_name"), m.get("hash"))
    v = d.get("vae")
    if isinstance(v, dict):
        info.vae = _model(v.get("name") or v.get("model_name"), v.get("hash"))
    for lo in _list(d.get("loras")):
        if isinstance(lo, dict):
            lm = lo.get("model") or lo.get("lora") or {}
            name = (lm.get("name") or lm.get("model_name") or lm.get("key")) if isinstance(lm, dict) else None
            if name:
                h = _model(name, lm.get("hash")) if isinstance(lm, dict) else None
                info.loras.append(LoraRef(name=name, weight=_float(lo.get("weight")), hashes=h.hashes if h else {}))
    if isinstance(d.get("refiner_model"), dict):
        info.refiner = RefinerInfo(model=_model(d["refiner_model"].get("name") or d["refiner_model"].get("model_name")),
                                   switch_at=_float(d.get("refiner_start")))
    return True


def parse_invokeai_sd_metadata(text: str, info: GenerationInfo) -> bool:
    """InvokeAI 2's ``sd-metadata`` JSON, whose settings sit under ``image`` (the prompt may be a list of
    weighted prompts: the first is used; ``[negative]`` parts are split out).
    """
    d = try_json(text)
    if not isinstance(d, dict) or not isinstance(d.get("image"), dict):
        return False
    img = d["image"]
    info.generator, info.generator_confidence = "InvokeAI", 0.95
    p = img.get("prompt")
    if isinstance(p, list) and p and isinstance(p[0], dict):
        p = p[0].get("prompt")
    if isinstance(p, str):
        info.prompt, info.negative_prompt = _split_invoke_prompt(p)
    info.seed, info.steps = _int(img.get("seed")), _int(img.get("steps"))
    info.cfg = _float(img.get("cfg_scale"))
    info.width, info.height = _int(img.get("width")), _int(img.get("height"))
    info.denoise = _float(img.get("strength"))
    _set_sampler(info, img.get("sampler"))
    info.model = _model(d.get("model_weights"), d.get("model_hash"))
    return True


def _split_invoke_prompt(p: str) -> tuple[str, str | None]:
    """InvokeAI writes the negative in [brackets] at the end of the prompt."""
    m = re.match(r"(?s)(.*?)\s*\[([^\[\]]*)\]\s*$", p)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return p.strip(), None


def parse_invokeai_dream(text: str, info: GenerationInfo) -> bool:
    """InvokeAI 1's ``Dream`` text: a shell-quoted command line, ``"prompt" -s steps -S seed -C cfg -W … -H …
    -A sampler``. False when the text does not split as a command line.
    """
    try:
        parts = shlex.split(text)
    except ValueError:
        return False
    if not parts:
        return False
    info.generator, info.generator_confidence = "InvokeAI", 0.9
    info.prompt, info.negative_prompt = _split_invoke_prompt(parts[0])
    opts: dict[str, str] = {}
    i = 1
    while i < len(parts):
        if parts[i].startswith("-") and i + 1 < len(parts):
            opts[parts[i]] = parts[i + 1]
            i += 2
        else:
            i += 1
    info.steps, info.seed = _int(opts.get("-s")), _int(opts.get("-S"))
    info.width, info.height = _int(opts.get("-W")), _int(opts.get("-H"))
    info.cfg = _float(opts.get("-C"))
    _set_sampler(info, opts.get("-A"))
    return True


# --------------------------------------------------------------------------- Fooocus family


def parse_fooocus(text: str, info: GenerationInfo) -> bool:
    """Fooocus and RuinedFooocus JSON ``parameters``.

    RuinedFooocus is told apart by ``Prompt`` with ``base_model_name`` or its ``software`` key; Fooocus by
    ``prompt`` with ``base_model``, ``full_prompt``, or ``guidance_scale`` and ``styles``. Styles,
    performance, sharpness, ADM guidance and version go to ``extra`` for the reconstructor's caveats.
    """
    d = try_json(text)
    if not isinstance(d, dict):
        return False
    if "Prompt" in d and ("base_model_name" in d or d.get("software") == "RuinedFooocus"):
        _read(info, d, "RuinedFooocus", 0.95, prompt="Prompt", negative_prompt="Negative", seed="seed", steps="steps",
              cfg="cfg", width="width", height="height", denoise="denoise", clip_skip="clip_skip")
        _set_sampler(info, d.get("sampler_name"), d.get("scheduler"))
        info.model = _model(d.get("base_model_name"), d.get("base_model_hash"))
        for lo in _list(d.get("loras")):
            if isinstance(lo, dict) and lo.get("name"):
                info.loras.append(LoraRef(name=str(lo["name"]), weight=_float(lo.get("weight"))))
            elif isinstance(lo, list | tuple) and lo:
                info.loras.append(LoraRef(name=str(lo[0]), weight=_float(lo[1]) if len(lo) > 1 else None))
        return True
    if "prompt" in d and ("base_model" in d or "full_prompt" in d or ("guidance_scale" in d and "styles" in d)):
        _read(info, d, "Fooocus", 0.95, prompt="prompt", negative_prompt="negative_prompt", seed="seed", steps="steps",
              cfg="guidance_scale")
        res = d.get("resolution")
        if isinstance(res, str):
            m = re.search(r"(\d+)\D+(\d+)", res)
            if m:
                info.width, info.height = int(m.group(1)), int(m.group(2))
        info.clip_skip = _int(d.get("clip_skip"))
        _set_sampler(info, d.get("sampler"), d.get("scheduler"))
        info.model = _model(d.get("base_model"), d.get("base_model_hash"))
        if d.get("refiner_model") and d.get("refiner_model") != "None":
            info.refiner = RefinerInfo(model=_model(d.get("refiner_model")), switch_at=_float(d.get("refiner_switch")))
        for lo in _list(d.get("loras")):
            if isinstance(lo, list | tuple) and lo:
                h = lo[2] if len(lo) > 2 and isinstance(lo[2], str) else None
                info.loras.append(LoraRef(name=str(lo[0]), weight=_float(lo[1]) if len(lo) > 1 else None,
                                          hashes={hash_kind(h): h} if h else {}))
        for k in ("styles", "performance", "sharpness", "adm_guidance", "version"):
            if k in d:
                info.extra[k] = d[k]
        return True
    return False


# --------------------------------------------------------------------------- SwarmUI


def parse_swarmui(text: str, info: GenerationInfo) -> bool:
    """SwarmUI's JSON (``sui_image_params`` plus ``sui_models`` with hashes), found in PNG ``parameters`` or,
    in older versions, in the EXIF ``Model`` tag.
    """
    d = try_json(text)
    if not isinstance(d, dict) or not isinstance(d.get("sui_image_params"), dict):
        return False
    p = d["sui_image_params"]
    _read(info, p, "SwarmUI", 0.99, prompt="prompt", negative_prompt="negativeprompt", seed="seed", steps="steps",
          cfg="cfgscale", width="width", height="height", denoise="initimagecreativity")
    _set_sampler(info, p.get("sampler"), p.get("scheduler"))
    model_hash = None
    for m in _list(d.get("sui_models")):
        if isinstance(m, dict) and m.get("param") == "model":
            model_hash = m.get("hash")
    info.model = _model(p.get("model"), model_hash)
    for name, w in zip(_list(p.get("loras")), _list(p.get("loraweights")), strict=False):
        info.loras.append(LoraRef(name=str(name), weight=_float(w)))
    if p.get("refinerupscale") or p.get("refinermodel"):
        info.refiner = RefinerInfo(model=_model(p.get("refinermodel")) if p.get("refinermodel") else None,
                                   switch_at=_float(p.get("refinercontrolpercentage")))
        from comfyfixer.tools.imagemeta.models import HiresInfo

        info.hires = HiresInfo(scale=_float(p.get("refinerupscale")), upscaler=p.get("refinerupscalemethod"),
                               denoise=_float(p.get("refinercontrolpercentage")))
    info.extra.update({k: v for k, v in p.items() if k.startswith("refiner") or k == "swarm_version"})
    return True


# --------------------------------------------------------------------------- Draw Things (XMP)

_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def xmp_fields(xmp: str) -> dict[str, str]:
    """CreatorTool, description and UserComment from an XMP packet (namespace-aware)."""
    out: dict[str, str] = {}
    start = xmp.find("<x:xmpmeta")
    end = xmp.rfind("</x:xmpmeta>")
    if start < 0 or end < 0 or "<!ENTITY" in xmp:  # no entity expansion (billion laughs)
        return out
    try:
        root = ElementTree.fromstring(xmp[start : end + len("</x:xmpmeta>")])
    except ElementTree.ParseError:
        return out
    for desc in root.iter(f"{{{_NS['rdf']}}}Description"):
        tool = desc.get(f"{{{_NS['xmp']}}}CreatorTool")
        if tool:
            out["CreatorTool"] = tool
    for tag, key in (("xmp:CreatorTool", "CreatorTool"), ("dc:description", "description"), ("exif:UserComment", "UserComment")):
        el = root.find(f".//{tag}", _NS)
        if el is None:
            continue
        li = el.find(".//rdf:li", _NS)
        text = (li.text if li is not None else el.text) or ""
        if text.strip():
            out[key] = text
    return out


def parse_drawthings(xmp: str, info: GenerationInfo) -> bool:
    """Draw Things' XMP: the JSON in ``exif:UserComment`` (``c`` prompt, ``uc`` negative, ``scale`` cfg,
    ``size``), recognised by the ``CreatorTool`` or the shape of that JSON.
    """
    f = xmp_fields(xmp)
    if "draw things" not in f.get("CreatorTool", "").lower() and not f.get("UserComment", "").startswith('{"c"'):
        return False
    info.generator, info.generator_confidence = "Draw Things", 0.98
    d = try_json(f.get("UserComment"))
    if isinstance(d, dict):
        info.prompt, info.negative_prompt = d.get("c"), d.get("uc")
        info.seed, info.steps = _int(d.get("seed")), _int(d.get("steps"))
        info.cfg = _float(d.get("scale"))
        info.denoise = _float(d.get("strength"))
        size = d.get("size")
        if isinstance(size, str):
            m = re.match(r"(\d+)x(\d+)", size)
            if m:
                info.width, info.height = int(m.group(1)), int(m.group(2))
        _set_sampler(info, d.get("sampler"))
        info.model = _model(d.get("model"))
        for lo in _list(d.get("lora")):
            if isinstance(lo, dict) and lo.get("model"):
                weight = _float(lo.get("weight", 1.0))
                info.loras.append(LoraRef(name=str(lo["model"]), weight=round(weight, 6) if weight is not None else None))
        for k in ("shift", "seed_mode", "sharpness"):
            if k in d:
                info.extra[k] = d[k]
    elif f.get("description"):
        info_from_a1111(f["description"], info)
        info.generator = "Draw Things"
    return True


# --------------------------------------------------------------------------- Civitai generator JSON


def parse_civitai_json(text: str, info: GenerationInfo) -> bool:
    """Civitai's ComfyUI-based generator: API prompt + ``extraMetadata`` (JSON in a string).

    Recognised by ``extraMetadata`` or ``extra``; the settings come from ``extraMetadata`` (camelCase
    keys), the resources and base model go to ``extra`` for the reconstructor, and ``extra.airs`` (the AIR
    ids of the models) is kept too. The graph itself is read by the ComfyUI parser.
    """
    d = try_json(text)
    if not isinstance(d, dict) or ("extraMetadata" not in d and "extra" not in d):
        return False
    meta = d.get("extraMetadata")
    meta = try_json(meta) if isinstance(meta, str) else meta
    info.generator, info.generator_confidence = "Civitai", 0.97
    if isinstance(meta, dict):
        info.prompt, info.negative_prompt = meta.get("prompt"), meta.get("negativePrompt")
        info.seed, info.steps = _int(meta.get("seed")), _int(meta.get("steps"))
        info.cfg = _float(meta.get("cfgScale"))
        info.width, info.height = _int(meta.get("width")), _int(meta.get("height"))
        info.clip_skip = _int(meta.get("clipSkip"))
        info.denoise = _float(meta.get("denoise"))
        _set_sampler(info, meta.get("sampler"))
        info.extra["civitai_resources"] = meta.get("resources")
        info.extra["base_model"] = meta.get("baseModel")
    extra = d.get("extra")
    if isinstance(extra, dict) and extra.get("airs"):
        info.extra["airs"] = extra["airs"]
    return True


# --------------------------------------------------------------------------- other JSON writers


def parse_easydiffusion(fields: dict[str, str], info: GenerationInfo) -> bool:
    """EasyDiffusion: one PNG text per field, or the same keys in a JSON object.

    Needs ``prompt`` plus ``use_stable_diffusion_model`` (or ``sampler_name`` with
    ``num_inference_steps``); a ``prompt`` holding a JSON object is ComfyUI's, not EasyDiffusion's.
    """
    low = {k.lower().replace(" ", "_"): v for k, v in fields.items()}
    if "prompt" not in low or not ("use_stable_diffusion_model" in low or ("sampler_name" in low and "num_inference_steps" in low)):
        return False
    if isinstance(try_json(low["prompt"]) if isinstance(low["prompt"], str) else None, dict):
        return False  # a ComfyUI API prompt in the ``prompt`` chunk, not EasyDiffusion's prompt text
    _read(info, low, "EasyDiffusion", 0.9, prompt="prompt", negative_prompt="negative_prompt", seed="seed",
          steps="num_inference_steps", cfg="guidance_scale", width="width", height="height")
    _set_sampler(info, low.get("sampler_name") or low.get("sampler"))
    info.model = _model(low.get("use_stable_diffusion_model"))
    return True


def parse_generic_json(text: str, info: GenerationInfo, generator: str) -> bool:
    """Flat JSON with common key spellings (HuggingFace Spaces, Stability Matrix ``parameters-json``).

    Needs a string ``prompt`` (or ``positive_prompt``…) to accept the object; keys are compared lower-cased
    with spaces as underscores. ``generator`` names the writer; ``"unknown"`` gets confidence 0.4. Other
    scalar values go to ``extra``.
    """
    d = try_json(text)
    if not isinstance(d, dict):
        return False
    low = {k.lower().replace(" ", "_"): v for k, v in d.items()}
    prompt = low.get("prompt") or low.get("positiveprompt") or low.get("positive_prompt")
    if not isinstance(prompt, str):
        return False
    info.generator, info.generator_confidence = generator, 0.4 if generator == "unknown" else 0.8
    info.prompt = prompt
    info.negative_prompt = low.get("negative_prompt") or low.get("negativeprompt")
    info.seed = _int(low.get("seed"))
    info.steps = _int(low.get("steps") or low.get("num_inference_steps"))
    info.cfg = _float(low.get("cfgscale") or low.get("guidance_scale") or low.get("cfg_scale") or low.get("cfg"))
    info.width, info.height = _int(low.get("width")), _int(low.get("height"))
    res = low.get("resolution")
    if info.width is None and isinstance(res, str):
        m = re.search(r"(\d+)\s*[x×]\s*(\d+)", res)
        if m:
            info.width, info.height = int(m.group(1)), int(m.group(2))
    _set_sampler(info, low.get("sampler") or low.get("sampler_name"), low.get("scheduler"))
    info.model = _model(low.get("model") or low.get("modelname") or low.get("model_name"), low.get("model_hash") or low.get("modelhash"))
    info.extra.update({k: v for k, v in d.items() if isinstance(v, str | int | float) and k not in ("prompt", "negative_prompt")})
    return True
