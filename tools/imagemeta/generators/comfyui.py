"""Summarise a ComfyUI graph (API ``prompt`` or UI ``workflow``) into GenerationInfo fields.

The walk starts at a sampler node and follows links backwards: ``positive`` and
``negative`` to the text, ``model`` through LoRA loaders to the checkpoint, the
latent to its size. Custom nodes are handled by input *names* rather than by a
fixed list of class types, so Efficiency, Comfyroll and subgraph-free custom
samplers work too. Never raises on odd graphs: a link may point anywhere.
"""

from __future__ import annotations

import math
import re
from typing import Any

from comfyfixer.tools.imagemeta.models import GenerationInfo, LoraRef, ModelInfo
from comfyfixer.tools.imagemeta.samplers import map_sampler, map_scheduler

_MAX_DEPTH = 40
_TEXT_KEYS = ("text", "populated_text", "text_g", "prompt", "positive", "string", "text_positive", "wildcard_text", "value", "t5xxl", "clip_l")
_NEG_TEXT_KEYS = ("text", "populated_text", "text_g", "negative", "base_negative", "text_negative", "string", "value", "prompt")
_MODEL_KEYS = ("ckpt_name", "unet_name", "model_name", "base_ckpt_name", "model_path", "gguf_name")
_SEED_KEYS = ("seed", "noise_seed", "seed_num", "value", "int", "number")

# Widget order of common UI nodes (the UI format stores values positionally).
_UI_WIDGETS: dict[str, list[str]] = {
    "CLIPTextEncode": ["text"],
    "KSampler": ["seed", "_control", "steps", "cfg", "sampler_name", "scheduler", "denoise"],
    "KSamplerAdvanced": ["add_noise", "noise_seed", "_control", "steps", "cfg", "sampler_name", "scheduler",
                         "start_at_step", "end_at_step", "return_with_leftover_noise"],
    "CheckpointLoaderSimple": ["ckpt_name"],
    "CheckpointLoader|pysssss": ["ckpt_name"],
    "UNETLoader": ["unet_name", "weight_dtype"],
    "EmptyLatentImage": ["width", "height", "batch_size"],
    "EmptySD3LatentImage": ["width", "height", "batch_size"],
    "LoraLoader": ["lora_name", "strength_model", "strength_clip"],
    "LoraLoaderModelOnly": ["lora_name", "strength_model"],
    "RandomNoise": ["noise_seed", "_control"],
    "KSamplerSelect": ["sampler_name"],
    "BasicScheduler": ["scheduler", "steps", "denoise"],
    "CFGGuider": ["cfg"],
    "VAELoader": ["vae_name"],
}


# Sampler/scheduler *nodes* → the ComfyUI names they stand for.
_CLASS_SAMPLERS = {
    "SamplerEulerAncestral": "euler_ancestral", "SamplerEulerAncestralCFGPP": "euler_ancestral_cfg_pp",
    "SamplerDPMPP_2M_SDE": "dpmpp_2m_sde", "SamplerDPMPP_3M_SDE": "dpmpp_3m_sde", "SamplerDPMPP_SDE": "dpmpp_sde",
    "SamplerDPMPP_2S_Ancestral": "dpmpp_2s_ancestral", "SamplerLMS": "lms", "SamplerDPMAdaptative": "dpm_adaptive",
    "SamplerLCMUpscale": "lcm", "SamplerER_SDE": "er_sde", "SamplerSASolver": "sa_solver",
}
_CONTROL_WORDS = {"fixed", "increment", "decrement", "randomize"}
_CLASS_SCHEDULERS = {
    "KarrasScheduler": "karras", "ExponentialScheduler": "exponential", "PolyexponentialScheduler": "exponential",
    "BetaSamplingScheduler": "beta", "SDTurboScheduler": "sgm_uniform", "LaplaceScheduler": "normal",
}


def _is_link(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], str | int) and isinstance(v[1], int)


def _list(v: Any) -> list[Any]:
    """``v`` when it is a JSON array, else empty: embedded graphs are untrusted JSON."""
    return v if isinstance(v, list) else []


def _hashable(v: Any) -> bool:
    """A usable link id: a number or a string (not null, not a list or object)."""
    return isinstance(v, int | str) and not isinstance(v, bool)


def ui_to_api(workflow: dict[str, Any]) -> dict[str, Any]:
    """Best-effort API view of a UI workflow (links resolved, known widgets named).

    Muted (mode 2) and bypassed (mode 4) nodes are left out, as ComfyUI would.
    """
    nodes = _list(workflow.get("nodes"))
    links: dict[Any, tuple[Any, int]] = {}
    for link in _list(workflow.get("links")):
        if isinstance(link, list) and len(link) >= 5 and _hashable(link[0]):
            links[link[0]] = (link[1], link[2] if isinstance(link[2], int) else 0)
        elif isinstance(link, dict) and _hashable(link.get("id")):
            slot = link.get("origin_slot")
            links[link["id"]] = (link.get("origin_id"), slot if isinstance(slot, int) else 0)
    api: dict[str, Any] = {}
    for node in nodes:
        if not isinstance(node, dict) or node.get("mode") in (2, 4):
            continue
        ctype = str(node.get("type", ""))
        inputs: dict[str, Any] = {}
        for inp in _list(node.get("inputs")):
            if isinstance(inp, dict) and _hashable(inp.get("link")) and inp.get("link") in links:
                src, slot = links[inp["link"]]
                inputs[str(inp.get("name"))] = [str(src), slot]
        wv = node.get("widgets_values")
        if isinstance(wv, dict):
            for k, v in wv.items():
                inputs.setdefault(str(k), v)
        elif isinstance(wv, list):
            names = _UI_WIDGETS.get(ctype)
            if names:
                for name, v in zip(names, wv, strict=False):
                    inputs.setdefault(name, v)
            else:
                for i, v in enumerate(wv):
                    inputs.setdefault(f"widget_{i}", v)
        api[str(node.get("id"))] = {"class_type": ctype, "inputs": inputs, "_meta": {"title": node.get("title") or ""}}
    return api


class _Graph:
    """An API graph with link-following helpers; every walk is bounded in depth and guards against cycles,
    since a saved graph may link anywhere.
    """
    def __init__(self, api: dict[str, Any]) -> None:
        self.nodes = {str(k): v for k, v in api.items() if isinstance(v, dict)}

    def node(self, ref: Any) -> dict[str, Any] | None:
        """The node a link points to, or None when ``ref`` is not a link or points at nothing."""
        if _is_link(ref):
            return self.nodes.get(str(ref[0]))
        return None

    @staticmethod
    def inputs(node: dict[str, Any] | None) -> dict[str, Any]:
        """A node's inputs, with lower-case copies of capitalised names added (custom nodes write ``Text``,
        ``Steps``); ``{}`` for a missing node or inputs that are not a mapping.
        """
        if not node:
            return {}
        inp = node.get("inputs")
        if not isinstance(inp, dict):
            return {}
        # Custom nodes capitalise input names ("Text", "Steps"); lower-case copies help lookups.
        extra = {k.lower(): v for k, v in inp.items() if isinstance(k, str) and k.lower() not in inp}
        return {**inp, **extra} if extra else inp

    def value(self, v: Any, keys: tuple[str, ...], depth: int = 0) -> Any:
        """A literal, or the first literal under ``keys`` of the node a link points to.

        Follows up to six links (primitive and converter nodes); a node with exactly one literal input and no
        links counts as a primitive whatever its input is called. Control words ("fixed", "randomize"…) are
        never taken for the value.
        """
        if not _is_link(v):
            return v
        if depth > 6:
            return None
        inp = self.inputs(self.node(v))
        for k in keys:
            if k in inp:
                return self.value(inp[k], keys, depth + 1)
        # A primitive node with an odd input name: exactly one literal and no links
        # (UI primitives also carry their "control after generate" word).
        literals = [x for x in inp.values() if isinstance(x, int | float | str) and not isinstance(x, bool) and x not in _CONTROL_WORDS]
        if len(literals) == 1 and not any(_is_link(x) for x in inp.values()):
            return literals[0]
        return None

    def text(self, ref: Any, keys: tuple[str, ...], depth: int = 0, seen: set[str] | None = None) -> str | None:
        """Follow a conditioning/text link back to the prompt string.

        Through encoders, pass-through conditioning nodes (the link's output slot picks the positive or
        negative side), string concatenation nodes and primitive text nodes, looking for the first of ``keys``
        at each step; at most ``_MAX_DEPTH`` hops, each node visited once. None when no literal text is found.
        """
        seen = seen if seen is not None else set()
        if isinstance(ref, str):
            return ref
        node = self.node(ref)
        if node is None or depth > _MAX_DEPTH or str(ref[0]) in seen:
            return None
        seen.add(str(ref[0]))
        inp = self.inputs(node)
        ct = str(node.get("class_type", "")).lower()
        # Conditioning pass-through nodes (ControlNetApplyAdvanced, WanImageToVideo, InpaintModelConditioning...)
        # output (positive, negative): the link's output slot says which side we are on.
        if _is_link(inp.get("positive")) and _is_link(inp.get("negative")) and _is_link(ref):
            side = inp["negative"] if ref[1] == 1 else inp["positive"]
            return self.text(side, keys, depth + 1, seen)
        if any(w in ct for w in ("concat", "merge string", "join", "combine string")):
            joined = self._concat(inp, keys, depth, seen)
            if joined is not None:
                return joined
        for k in keys:
            v = inp.get(k)
            if isinstance(v, str):
                return v
            if _is_link(v):
                t = self.text(v, keys, depth + 1, seen)
                if t is not None:
                    return t
        # A text primitive (UI widgets have no names): its only string, when it has no links.
        strings = [v for v in inp.values() if isinstance(v, str)]
        if len(strings) == 1 and not any(_is_link(v) for v in inp.values()) and "widget_0" in inp:
            return strings[0]
        # Walk through conditioning/text plumbing (guidance, combine, concat, control nets).
        order = sorted(inp.items(), key=lambda kv: (kv[0] not in ("conditioning", "conditioning_1", "positive", "text", "string_a", "text_a"), kv[0]))
        for name, v in order:
            if keys is _NEG_TEXT_KEYS and "pos" in name.lower():
                continue
            if _is_link(v) and name not in ("clip", "model", "vae", "image", "images", "control_net", "mask", "pixels", "samples", "latent", "latent_image"):
                t = self.text(v, keys, depth + 1, seen)
                if t is not None:
                    return t
        return None

    def _concat(self, inp: dict[str, Any], keys: tuple[str, ...], depth: int, seen: set[str]) -> str | None:
        """String concatenation nodes: join the text inputs in name order with the node's delimiter."""
        delim = next((inp[k] for k in ("delimiter", "Delimiter", "separator", "delim") if isinstance(inp.get(k), str)), None)
        if delim is None:  # UI graph: the delimiter is an unnamed short widget
            w0 = inp.get("widget_0")
            delim = w0 if isinstance(w0, str) and len(w0) <= 4 else ""
        parts: list[str] = []
        names = sorted(
            (k for k in inp if k == k.lower() and re.fullmatch(r"(string|text|str)?_?([a-z]|\d+)", k) and k not in ("delimiter",)),
            key=lambda k: (len(k), k),
        )
        for name in names:
            v = inp[name]
            t = v if isinstance(v, str) else self.text(v, keys, depth + 1, seen) if _is_link(v) else None
            if t:
                parts.append(t)
        return delim.join(parts) if parts else None

    def walk_model(self, ref: Any) -> tuple[dict[str, Any] | None, list[LoraRef]]:
        """(loader node, LoRAs) found by following a ``model`` link back through LoRA loaders and other
        model-patching nodes to the node that loads the checkpoint or diffusion model.
        """
        loras: list[LoraRef] = []
        for node, inp in self.upstream(ref, _model_link):
            if isinstance(inp.get("lora_name"), str) and inp["lora_name"] not in ("None", ""):
                loras.append(LoraRef(name=inp["lora_name"], weight=_f(inp.get("strength_model", inp.get("strength"))),
                                     clip_weight=_f(inp.get("strength_clip"))))
            loras.extend(_multi_loras(inp))
            if any(isinstance(inp.get(k), str) for k in _MODEL_KEYS):
                return node, loras
        return None, loras

    def upstream(self, ref: Any, step: Any) -> Any:
        """(node, inputs) of each node met walking back from the link ``ref``; ``step(inputs)`` names the
        next link. Ends at a dead end, a loop or after ``_MAX_DEPTH`` nodes (hostile graphs are bounded)."""
        seen: set[str] = set()
        for _ in range(_MAX_DEPTH):
            node = self.node(ref)
            if node is None or str(ref[0]) in seen:
                return
            seen.add(str(ref[0]))
            inp = self.inputs(node)
            yield node, inp
            ref = step(inp)

    def size_from(self, ref: Any) -> tuple[int | None, int | None]:
        """(width, height) found by walking back from a latent link through at most ``_MAX_DEPTH`` nodes:
        explicit ``width``/``height`` inputs, or a ``resolution``/``dimensions`` string such as
        ``"1024x768"``. (None, None) when the chain ends or loops first.
        """
        for _node, inp in self.upstream(ref, _latent_link):
            w, h = self.value(inp.get("width"), ("width", "value", "int")), self.value(inp.get("height"), ("height", "value", "int"))
            if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
                return w, h
            res = inp.get("resolution") or inp.get("dimensions")
            if isinstance(res, str):
                m = re.search(r"(\d+)\s*[x×]\s*(\d+)", res)
                if m:
                    return int(m.group(1)), int(m.group(2))
        return None, None


def _model_link(inp: dict[str, Any]) -> Any:
    """The link a model-patching node takes its model from (else its first link)."""
    nxt = inp.get("model") or inp.get("unet") or inp.get("MODEL")
    return nxt if _is_link(nxt) else next((v for v in inp.values() if _is_link(v)), None)


def _latent_link(inp: dict[str, Any]) -> Any:
    """The link a latent or image node takes its input from."""
    return inp.get("samples") or inp.get("latent_image") or inp.get("latent") or inp.get("pixels") or inp.get("image")


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _multi_loras(inp: dict[str, Any]) -> list[LoraRef]:
    """rgthree Power Lora Loader / stack nodes: lora_1 = {"on", "lora", "strength"}, or lora_name_1 +
    strength_1.
    """
    out: list[LoraRef] = []
    for k, v in inp.items():
        if isinstance(v, dict) and isinstance(v.get("lora"), str) and v.get("on", True) and v["lora"] != "None":
            out.append(LoraRef(name=v["lora"], weight=_f(v.get("strength")), clip_weight=_f(v.get("strengthTwo"))))
        elif k.startswith("lora_name_") and isinstance(v, str) and v != "None":
            n = k[len("lora_name_") :]
            if inp.get(f"switch_{n}", "On") in ("On", True):
                out.append(LoraRef(name=v, weight=_f(inp.get(f"model_weight_{n}", inp.get(f"lora_wt_{n}"))),
                                   clip_weight=_f(inp.get(f"clip_weight_{n}"))))
    return out


def _is_sampler(node: dict[str, Any]) -> bool:
    ct = str(node.get("class_type", ""))
    inp = _Graph.inputs(node)
    if "SamplerCustom" in ct:
        return True
    if "sampler" in ct.lower() and ("positive" in inp or "guider" in inp or "model" in inp) and ("steps" in inp or "sigmas" in inp):
        return True
    return "positive" in inp and "negative" in inp and ("steps" in inp or "seed" in inp or "noise_seed" in inp)


def _sampler_rank(g: _Graph, nid: str, node: dict[str, Any]) -> tuple[int, int, str]:
    """Prefer the first pass: a sampler fed by an empty latent, full denoise, then lowest id."""
    inp = g.inputs(node)
    lat = g.node(inp.get("latent_image") or inp.get("latent"))
    from_empty = 0 if lat is not None and "empty" in str(lat.get("class_type", "")).lower() else 1
    den = inp.get("denoise")
    full = 0 if den in (None, 1, 1.0) else 1
    try:
        key = f"{int(nid):08d}"
    except ValueError:
        key = nid
    return (from_empty, full, key)


def summarize_api(api: dict[str, Any], info: GenerationInfo) -> GenerationInfo:
    """Fill prompt/seed/steps/cfg/sampler/model/loras/size from an API graph.

    The sampler judged to be the first pass (:func:`_sampler_rank`) is the source of truth; when there are
    several, their count goes to ``extra["comfy_samplers"]``. Without a sampler, fields are taken from
    the first node that has them (titles for prompts, loaders for the model, any latent for the size).
    """
    g = _Graph(api)
    samplers = [(nid, n) for nid, n in g.nodes.items() if _is_sampler(n)]
    if samplers:
        samplers.sort(key=lambda p: _sampler_rank(g, *p))
        _, s = samplers[0]
        inp = g.inputs(s)
        _fill_from_sampler(g, inp, info)
        if len(samplers) > 1:
            info.extra["comfy_samplers"] = len(samplers)
    # Fallbacks when no sampler led there (e.g. text-only graphs, unusual savers).
    if info.prompt is None:
        pos, neg = _texts_by_title(g)
        info.prompt, info.negative_prompt = pos, info.negative_prompt or neg
    if info.model is None:
        for n in g.nodes.values():
            inp = g.inputs(n)
            name = next((inp[k] for k in _MODEL_KEYS if isinstance(inp.get(k), str)), None)
            if name and not any(w in str(n.get("class_type", "")).lower() for w in ("upscale", "controlnet", "clip", "vae")):
                info.model = ModelInfo(name=name)
                break
    if not info.loras:
        seen: set[str] = set()
        for n in g.nodes.values():
            inp = g.inputs(n)
            refs = _multi_loras(inp)
            if isinstance(inp.get("lora_name"), str) and inp["lora_name"] not in ("None", ""):
                refs.insert(0, LoraRef(name=inp["lora_name"], weight=_f(inp.get("strength_model", inp.get("strength"))),
                                       clip_weight=_f(inp.get("strength_clip"))))
            for r in refs:
                if r.name not in seen:
                    seen.add(r.name)
                    info.loras.append(r)
    if info.width is None:
        for n in g.nodes.values():
            ct = str(n.get("class_type", "")).lower()
            inp = g.inputs(n)
            if "latent" in ct and isinstance(inp.get("width"), int) and isinstance(inp.get("height"), int):
                info.width, info.height = inp["width"], inp["height"]
                break
    if info.vae is None:
        for n in g.nodes.values():
            v = g.inputs(n).get("vae_name")
            if isinstance(v, str):
                info.vae = ModelInfo(name=v)
                break
    return info


def _fill_from_sampler(g: _Graph, inp: dict[str, Any], info: GenerationInfo) -> None:
    """Fill seed, steps, cfg, sampler, scheduler, denoise, prompts, model, LoRAs and size from one sampler
    node's inputs, following links as needed.

    Handles ``SamplerCustom(Advanced)`` graphs too: seed from the noise node, cfg and conditioning from the
    guider, the sampler name through wrapper samplers (up to eight), scheduler and steps from the sigmas
    node (scheduler nodes map to ComfyUI scheduler names).
    """
    seed = g.value(inp.get("seed", inp.get("noise_seed")), _SEED_KEYS)
    steps = g.value(inp.get("steps"), ("steps", "value", "int"))
    cfg = g.value(inp.get("cfg"), ("cfg", "value", "float"))
    sampler_name = g.value(inp.get("sampler_name"), ("sampler_name", "sampler", "value"))
    scheduler = g.value(inp.get("scheduler"), ("scheduler", "value"))
    denoise = g.value(inp.get("denoise"), ("denoise", "value"))
    positive, negative = inp.get("positive"), inp.get("negative")
    # SamplerCustom(Advanced): noise / guider / sampler / sigmas nodes.
    noise = g.node(inp.get("noise"))
    if noise is not None and seed is None:
        seed = g.value(g.inputs(noise).get("noise_seed", g.inputs(noise).get("seed")), _SEED_KEYS)
    guider = g.node(inp.get("guider"))
    if guider is not None:
        gi = g.inputs(guider)
        cfg = cfg if cfg is not None else g.value(gi.get("cfg"), ("cfg", "value"))
        positive = positive or gi.get("positive") or gi.get("conditioning")
        negative = negative or gi.get("negative")
        if "model" not in inp:
            inp = {**inp, "model": gi.get("model")}
    sampler_node = g.node(inp.get("sampler")) if _is_link(inp.get("sampler")) else None
    for _ in range(8):  # wrappers such as DetailDaemonSamplerNode take a sampler input
        if sampler_node is None or sampler_name is not None:
            break
        si = g.inputs(sampler_node)
        if "sampler_name" in si:
            sampler_name = g.value(si.get("sampler_name"), ("sampler_name", "value"))
        elif _is_link(si.get("sampler")):
            sampler_node = g.node(si.get("sampler"))
        else:
            sampler_name = _CLASS_SAMPLERS.get(str(sampler_node.get("class_type")), str(sampler_node.get("class_type")))
    sig = g.node(inp.get("sigmas"))
    if sig is not None:
        si = g.inputs(sig)
        scheduler = scheduler or g.value(si.get("scheduler"), ("scheduler", "value")) or _CLASS_SCHEDULERS.get(
            str(sig.get("class_type")), str(sig.get("class_type")))
        steps = steps if steps is not None else g.value(si.get("steps"), ("steps", "value"))
        denoise = denoise if denoise is not None else g.value(si.get("denoise"), ("denoise", "value"))
        if "model" not in inp and _is_link(si.get("model")):
            inp = {**inp, "model": si.get("model")}
    if isinstance(seed, int | float) and not isinstance(seed, bool) and math.isfinite(seed):
        info.seed = int(seed)
    if isinstance(steps, int | float) and not isinstance(steps, bool) and math.isfinite(steps):
        info.steps = int(steps)
    info.cfg = _f(cfg)
    info.denoise = _f(denoise)
    if isinstance(sampler_name, str):
        info.sampler_raw = sampler_name
        s, sch = map_sampler(sampler_name)
        info.sampler = s
        if sch and not scheduler:
            info.scheduler = sch
    if isinstance(scheduler, str):
        info.scheduler_raw = scheduler
        info.scheduler = map_scheduler(scheduler)
    if positive is not None:
        info.prompt = g.text(positive, _TEXT_KEYS)
    if negative is not None:
        info.negative_prompt = g.text(negative, _NEG_TEXT_KEYS)
    loader, loras = g.walk_model(inp.get("model"))
    if loader is not None:
        li = g.inputs(loader)
        name = next((li[k] for k in _MODEL_KEYS if isinstance(li.get(k), str)), None)
        info.model = ModelInfo(name=name)
        for k in ("vae_name",):
            if isinstance(li.get(k), str) and li[k] not in ("Baked VAE", "None"):
                info.vae = ModelInfo(name=li[k])
    if loras:
        info.loras = loras
    w, h = g.size_from(inp.get("latent_image") or inp.get("latent"))
    if w:
        info.width, info.height = w, h


def _texts_by_title(g: _Graph) -> tuple[str | None, str | None]:
    """(positive, negative) prompt texts guessed from node titles and class names containing "neg", for
    graphs where no sampler leads to the text.
    """
    pos = neg = None
    for n in g.nodes.values():
        inp = g.inputs(n)
        t = inp.get("text") if isinstance(inp.get("text"), str) else inp.get("text_g")
        if not isinstance(t, str):
            continue
        meta = n.get("_meta")
        title = str(meta.get("title", "") if isinstance(meta, dict) else "").lower() + str(n.get("class_type", "")).lower()
        if "neg" in title:
            neg = neg if neg is not None else t
        elif pos is None:
            pos = t
    return pos, neg


def info_from_comfy(workflow: dict[str, Any] | None, prompt: dict[str, Any] | None, info: GenerationInfo) -> GenerationInfo:
    """Summarise the API prompt if present, else the UI workflow."""
    if prompt:
        summarize_api(prompt, info)
    if workflow and (info.prompt is None or not prompt):
        try:
            summarize_api(ui_to_api(workflow), info)
        except (TypeError, ValueError, AttributeError):
            info.warnings.append("UI workflow could not be summarised")
    return info
