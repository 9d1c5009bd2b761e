"""Build a ComfyUI API graph from WebUI-style generation parameters (``GenerationInfo``).

The graph mirrors what the generator did, node for node where ComfyUI core has the node:
loaders for the model family, the LoRA chain, clip skip, both text encoders, the empty
latent, the sampler, hires fix (latent or model upscale plus a second pass), a refiner
(second model pass), decode and save. What core ComfyUI cannot do (ADetailer, ControlNet
without its control image, variation seeds) becomes a Note in the UI workflow, flagged,
with the node packs it would need. Every value that is not in the evidence is listed in
``inferred`` with the reason and a confidence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from comfyfixer.tools.imagemeta.models import GenerationInfo, LoraRef, ModelInfo
from comfyfixer.tools.model_folders import MODEL_FILE_EXTENSIONS
from comfyfixer.tools.reconstruct.caveats import generator_caveats, optional_parts
from comfyfixer.tools.reconstruct.graph_builder import GraphBuilder, Link, Note
from comfyfixer.tools.reconstruct.models import CustomNodeNeed, Inferred, ModelVerdict
from comfyfixer.tools.reconstruct.prompt_syntax import clean_prompt
from comfyfixer.tools.reconstruct.upscalers import plan_upscaler
from comfyfixer.tools.schema import NodeSchema

log = logging.getLogger(__name__)

SAVE_PREFIX = "reconstructed"

# Default text encoders / VAE files of the official ComfyUI examples for each family.
FLUX_FILES = {"clip_l": "clip_l.safetensors", "t5": "t5xxl_fp16.safetensors", "vae": "ae.safetensors"}
SD3_FILES = {"clip_l": "clip_l.safetensors", "clip_g": "clip_g.safetensors", "t5": "t5xxl_fp16.safetensors"}


@dataclass
class ParametersGraph:
    """An API graph built from parameters, with its provenance.

    ``family`` is the detected model family (``sd``, ``flux``, ``sd3``, ``chroma`` or ``video``),
    ``sampler_node`` the id of the first-pass sampler, ``notes`` the Note nodes for the UI workflow, and
    ``certain``/``inferred``/``models``/``custom_nodes`` feed the ``ReconstructResult`` directly.
    """

    prompt: dict[str, Any]
    family: str
    sampler_node: str
    notes: list[Note] = field(default_factory=list)
    certain: list[str] = field(default_factory=list)
    inferred: list[Inferred] = field(default_factory=list)
    models: list[ModelVerdict] = field(default_factory=list)
    custom_nodes: list[CustomNodeNeed] = field(default_factory=list)


def detect_family(info: GenerationInfo) -> tuple[str, str]:
    """(family, why). Families: flux, sd3, chroma, sd (any single-file checkpoint: SD1.x, SDXL, Pony,
    Illustrious…).
    """
    name = ((info.model.name if info.model else None) or "").lower()
    pipeline = str(info.extra.get("Pipeline") or info.extra.get("pipeline") or "").lower()
    base = str(info.extra.get("base_model") or info.extra.get("baseModel") or "").lower()
    for text, source in ((pipeline, "pipeline"), (base, "base model"), (name, "model name")):
        if not text:
            continue
        if "flux" in text:
            return "flux", f"{source} '{text}' names Flux"
        if "chroma" in text:
            return "chroma", f"{source} '{text}' names Chroma"
        if re.search(r"sd3|sd_3|stablediffusion3|stable-diffusion-3|sd 3", text):
            return "sd3", f"{source} '{text}' names SD3"
        if re.search(r"wan2|wan_2|hunyuan|ltx-?video|mochi|cogvideo", text):
            return "video", f"{source} '{text}' names a video model"
    return "sd", "no Flux/SD3/Chroma hint: a single-file checkpoint (SD 1.x / SDXL family)"


def model_file_name(name: str) -> tuple[str, bool]:
    """(file name, extension_was_inferred). WebUIs write checkpoint names without the extension."""
    n = name.strip().replace("\\", "/")
    n = re.sub(r"\s*\[[0-9a-fA-F]{8,12}\]$", "", n)  # "model [abcdef1234]" in old WebUI lists
    if n.lower().endswith(MODEL_FILE_EXTENSIONS):
        return n, False
    return f"{n}.safetensors", True


def _find_extra(info: GenerationInfo, *keys: str) -> Any:
    low = {str(k).lower(): v for k, v in info.extra.items()}
    for k in keys:
        if k.lower() in low:
            return low[k.lower()]
    return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class _Builder:
    """One reconstruction's state: the graph plus what we are sure of and what we guessed."""

    def __init__(self, info: GenerationInfo, schemas: Mapping[str, NodeSchema] | None) -> None:
        self.info = info
        self.schemas = schemas
        self.g = GraphBuilder()
        self.certain: list[str] = []
        self.inferred: list[Inferred] = []
        self.models: list[ModelVerdict] = []
        self.packs: list[CustomNodeNeed] = []

    def guess(self, what: str, why: str, confidence: float) -> None:
        """Record an inferred part: ``what`` it is, ``why`` it was chosen, and a 0..1 ``confidence`` (rounded
        to two places).
        """
        self.inferred.append(Inferred(what=what, why=why, confidence=round(confidence, 2)))

    # --- sampler names ---------------------------------------------------------------------
    def _combo_ok(self, class_type: str, input_name: str, value: str) -> bool:
        schema = self.schemas.get(class_type) if self.schemas else None
        spec = schema.input(input_name) if schema else None
        return spec is None or not spec.options or value in spec.options

    def sampler_pair(self, raw_sampler: str | None, raw_sched: str | None,
                     mapped_sampler: str | None, mapped_sched: str | None, label: str) -> tuple[str, str]:
        """ComfyUI (sampler_name, scheduler), using the metadata reader's own name tables.

        A sampler name that carries its schedule (``DPM++ 2M Karras``) sets both. Names are checked against
        the schemas' combo lists when schemas are given. An unknown or missing sampler becomes ``euler``
        (SD.Next without a sampler: its diffusers default, confidence 0.6; otherwise 0.3); ``Automatic`` or a
        missing schedule becomes the sampler's own or ``normal``. Every substitution is recorded as inferred.
        """
        from comfyfixer.tools.imagemeta.samplers import map_sampler, map_scheduler

        sampler, sched = mapped_sampler, mapped_sched
        sched_from_sampler = False
        if raw_sampler and (sampler is None or sched is None):
            s2, sc2 = map_sampler(raw_sampler)
            sampler = sampler or s2
            if sched is None and sc2:
                sched, sched_from_sampler = sc2, True
        if sched is None and raw_sched:
            sched = map_scheduler(raw_sched)
        elif sched is not None and mapped_sched is not None and not raw_sched and raw_sampler:
            sched_from_sampler = map_sampler(raw_sampler)[1] == sched
        if sampler and self._combo_ok("KSampler", "sampler_name", sampler):
            shown = f"'{raw_sampler}' → {sampler}" if raw_sampler and raw_sampler != sampler else sampler
            self.certain.append(f"{label} sampler: {shown}")
        elif not (raw_sampler or sampler) and (self.info.generator or "").lower() == "sd.next":
            sampler = "euler"
            self.guess(f"{label} sampler_name", "SD.Next writes no sampler when the pipeline's default ran; "
                       "diffusers' default for SD/SDXL pipelines is Euler", 0.6)
        else:
            why = (f"sampler {raw_sampler or sampler!r} has no ComfyUI equivalent; euler assumed"
                   if raw_sampler or sampler else "no sampler in the metadata; euler assumed")
            sampler = "euler"
            self.guess(f"{label} sampler_name", why, 0.3)
        automatic = (raw_sched or "").strip().lower() in ("", "automatic")
        if sched and self._combo_ok("KSampler", "scheduler", sched) and (not automatic or sched_from_sampler):
            said = raw_sched or raw_sampler
            self.certain.append(f"{label} scheduler: '{said}' → {sched}" if said and said != sched
                                else f"{label} scheduler: {sched}")
        elif sched and self._combo_ok("KSampler", "scheduler", sched):
            self.guess(f"{label} scheduler", f"schedule '{raw_sched or 'not given'}' means the sampler's default, "
                       f"taken as ComfyUI's {sched}", 0.7)
        else:
            sched = "normal"
            self.guess(f"{label} scheduler", f"no usable schedule in the metadata ({raw_sched!r}); "
                       "ComfyUI's 'normal' matches the WebUI default for most samplers", 0.6)
        return sampler, sched

    # --- models ------------------------------------------------------------------------------
    def model_entry(self, role: str, folder: str, model: ModelInfo | None, name: str | None,
                    hashes: dict[str, str] | None = None, weight: float | None = None) -> str:
        """Record a model the graph loads and return the file name to put in the loader.

        ``name`` (or ``model.name``) without an extension gets ``.safetensors`` (an inferred part); no name at
        all gives a placeholder ``unknown_<role>.safetensors`` with confidence 0. Hashes of ``model`` and
        ``hashes`` are merged onto the :class:`ModelVerdict`.
        """
        shown = name or (model.name if model else None)
        file, ext_guessed = model_file_name(shown) if shown else (f"unknown_{role}.safetensors", True)
        if not shown:
            self.guess(f"{role} file", "the metadata names no model; a placeholder name is used", 0.0)
        elif ext_guessed:
            self.guess(f"{role} file name {file}", f"'{shown}' is written without extension; .safetensors assumed", 0.8)
        hs = dict(model.hashes if model else {})
        hs.update(hashes or {})
        self.models.append(ModelVerdict(role=role, name=shown, file=file, folder=folder, hashes=hs, weight=weight))
        return file

    # --- graph ---------------------------------------------------------------------------------
    def build(self) -> ParametersGraph:
        """Build the whole graph for the detected family and return it with its provenance.

        Order: loaders (UNET + text encoders for Flux/Chroma, a checkpoint otherwise, TripleCLIPLoader for
        SD3), VAE, the LoRA chain, clip skip, prompts (FluxGuidance for Flux), the latent (empty, or a
        LoadImage source for img2img), the sampler (split with the refiner when there is one), hires pass,
        decode, save; then embeddings, optional parts and generator caveats. Missing values (seed, steps, cfg,
        size…) get the WebUI's defaults as inferred parts.
        """
        info = self.info
        g = self.g
        family, why = detect_family(info)
        if family == "sd":
            self.guess("model family", why, 0.8)
        elif family == "video":
            self.guess("model family", f"{why}: video pipelines are not rebuilt from parameters; the graph below is "
                       "an image template that will not load this model", 0.1)
        else:
            self.certain.append(f"model family {family}: {why}")
        model_name = info.model.name if info.model else None

        # Loaders.
        if family in ("flux", "chroma"):
            unet = self.model_entry("diffusion_model", "diffusion_models", info.model, model_name)
            loader = g.add("UNETLoader", {"unet_name": unet, "weight_dtype": "default"}, "Load Diffusion Model")
            model_out: Link = g.out(loader)
            if family == "flux":
                clip_loader = g.add("DualCLIPLoader", {"clip_name1": FLUX_FILES["clip_l"], "clip_name2": FLUX_FILES["t5"],
                                                       "type": "flux"})
                for f in ("clip_l", "t5"):
                    self.models.append(ModelVerdict(role="text_encoder", name=FLUX_FILES[f], file=FLUX_FILES[f],
                                                    folder="text_encoders"))
            else:
                clip_loader = g.add("CLIPLoader", {"clip_name": FLUX_FILES["t5"], "type": "chroma"})
                self.models.append(ModelVerdict(role="text_encoder", name=FLUX_FILES["t5"], file=FLUX_FILES["t5"],
                                                folder="text_encoders"))
            clip_out: Link = g.out(clip_loader)
            self.guess("text encoders", f"{family} needs separate text encoders; the files of ComfyUI's official "
                       f"{family} example are assumed", 0.6)
            vae_default = FLUX_FILES["vae"]
            vae_out: Link | None = None
        else:
            ckpt = self.model_entry("checkpoint", "checkpoints", info.model, model_name)
            loader = g.add("CheckpointLoaderSimple", {"ckpt_name": ckpt}, "Load Checkpoint")
            model_out, clip_out, vae_out = g.out(loader, 0), g.out(loader, 1), g.out(loader, 2)
            vae_default = None
            if family == "sd3":
                tl = g.add("TripleCLIPLoader", {"clip_name1": SD3_FILES["clip_l"], "clip_name2": SD3_FILES["clip_g"],
                                                "clip_name3": SD3_FILES["t5"]})
                clip_out = g.out(tl)
                for f in ("clip_l", "clip_g", "t5"):
                    self.models.append(ModelVerdict(role="text_encoder", name=SD3_FILES[f], file=SD3_FILES[f],
                                                    folder="text_encoders"))
                self.guess("text encoders", "SD3 checkpoints usually ship without T5; ComfyUI's SD3 example loads "
                           "clip_l + clip_g + t5xxl with TripleCLIPLoader", 0.6)
        if model_name:
            hs = ", ".join(f"{k} {v}" for k, v in (info.model.hashes if info.model else {}).items())
            self.certain.append(f"model: {model_name}" + (f" ({hs})" if hs else ""))

        # VAE.
        vae_name = info.vae.name if info.vae and info.vae.name else None
        if vae_name and vae_name.strip().lower() not in ("automatic", "none", "default (model)", "baked vae"):
            vfile = self.model_entry("vae", "vae", info.vae, vae_name)
            vae_out = g.out(g.add("VAELoader", {"vae_name": vfile}, "Load VAE"))
            self.certain.append(f"VAE: {vae_name}")
        elif vae_out is None:
            assert vae_default is not None
            vae_out = g.out(g.add("VAELoader", {"vae_name": vae_default}, "Load VAE"))
            self.models.append(ModelVerdict(role="vae", name=vae_default, file=vae_default, folder="vae"))
            self.guess("VAE", f"{family} has no VAE inside the model file; {vae_default} assumed", 0.7)

        # LoRA chain.
        for lora in info.loras:
            model_out, clip_out = self.add_lora(lora, model_out, clip_out, family)

        # Clip skip (A1111 counts 1 = no skip).
        if info.clip_skip and info.clip_skip > 1 and family == "sd":
            clip_out = g.out(g.add("CLIPSetLastLayer", {"clip": clip_out, "stop_at_clip_layer": -int(info.clip_skip)}))
            self.certain.append(f"clip skip {info.clip_skip} → CLIPSetLastLayer {-int(info.clip_skip)}")

        pos_node, neg_node = self.text_encoders(clip_out, family)
        positive: Link = g.out(pos_node)
        negative: Link = g.out(neg_node)
        if family == "flux":
            guidance = _float(_find_extra(info, "Distilled CFG Scale", "guidance", "Guidance"))
            if guidance is None and info.cfg is not None and info.cfg > 1.0:
                guidance = float(info.cfg)
                self.guess("FluxGuidance.guidance", f"no distilled guidance written; Flux dev is guidance-distilled, so "
                           f"the written CFG {info.cfg} is most likely its guidance. The sampler keeps cfg {info.cfg} "
                           "as written: set it to 1 if the result looks burnt", 0.5)
            elif guidance is None:
                guidance = 3.5
                self.guess("FluxGuidance.guidance", "no distilled guidance in the metadata; Flux dev's usual 3.5", 0.5)
            else:
                self.certain.append(f"Flux guidance {guidance}")
            positive = g.out(g.add("FluxGuidance", {"conditioning": positive, "guidance": guidance}))

        # Latent.
        width, height = info.width, info.height
        if not width or not height:
            width = width or 1024 if family != "sd" else width or 512
            height = height or width
            self.guess("latent size", f"the metadata gives no size; {width}x{height} assumed", 0.2)
        else:
            self.certain.append(f"size {width}x{height}")
        batch = 1
        if info.batch_size and info.batch_size > 1:
            if info.batch_index is not None:
                self.guess("batch_size", f"the image was #{info.batch_index} of a batch of {info.batch_size}; "
                           "a batch of 1 with its own seed is closer to it than re-running the batch", 0.6)
            else:
                batch = info.batch_size
                self.certain.append(f"batch size {batch}")
        # img2img: a denoise below 1 without hires means the first pass started from an image.
        denoise = 1.0
        hires = info.hires if info.hires and (info.hires.scale or info.hires.upscaler or info.hires.resize_width) else None
        if info.denoise is not None and hires is None and info.denoise < 1.0:
            denoise = float(info.denoise)
            img = g.add("LoadImage", {"image": "source_image.png"}, "Source image (img2img)")
            # The WebUI resizes the source to the generation size before encoding it.
            sized = g.add("ImageScale", {"image": g.out(img), "upscale_method": "lanczos", "width": int(width),
                                         "height": int(height), "crop": "center"})
            latent = g.out(g.add("VAEEncode", {"pixels": g.out(sized), "vae": vae_out}))
            self.certain.append(f"img2img, denoise {denoise}")
            self.guess("img2img source image", "denoising strength < 1 without hires fix means img2img; the source "
                       "image is not in the metadata: load yours as source_image.png", 0.3)
        else:
            latent_class = "EmptySD3LatentImage" if family in ("flux", "sd3", "chroma") else "EmptyLatentImage"
            latent = g.out(g.add(latent_class, {"width": int(width), "height": int(height), "batch_size": batch}))

        seed = info.seed
        if seed is None:
            seed = 0
            self.guess("seed", "no seed in the metadata; the image cannot be reproduced exactly", 0.0)
        else:
            self.certain.append(f"seed {seed}")
        steps = info.steps
        if not steps:
            steps = 20
            self.guess("steps", "no step count in the metadata; 20 assumed", 0.3)
        else:
            self.certain.append(f"steps {steps}")
        cfg = info.cfg
        if cfg is None:
            cfg = 1.0 if family in ("flux", "chroma") else 7.0
            self.guess("cfg", f"no CFG in the metadata; {cfg} assumed", 0.3)
        else:
            self.certain.append(f"cfg {cfg}")
        sampler, sched = self.sampler_pair(info.sampler_raw, info.scheduler_raw, info.sampler, info.scheduler, "first pass")

        refiner = info.refiner if info.refiner and info.refiner.model and info.refiner.model.name else None
        if refiner is not None:
            samples, sampler_node = self.refiner_pass(model_out, positive, negative, latent, seed, steps, cfg, sampler,
                                                      sched, clip_out, family)
        else:
            sampler_node = g.add("KSampler", {
                "model": model_out, "seed": int(seed), "steps": int(steps), "cfg": float(cfg),
                "sampler_name": sampler, "scheduler": sched, "positive": positive, "negative": negative,
                "latent_image": latent, "denoise": denoise}, "KSampler")
            samples = g.out(sampler_node)

        image = g.out(g.add("VAEDecode", {"samples": samples, "vae": vae_out}))
        if hires is not None:
            image = self.hires_pass(image, samples, model_out, positive, negative, vae_out, seed, steps, cfg, sampler,
                                    sched, int(width), int(height))
        g.add("SaveImage", {"images": image, "filename_prefix": SAVE_PREFIX}, "Save Image")

        self.embedding_models()
        optional_parts(self)
        generator_caveats(self)
        return ParametersGraph(prompt=g.prompt(), family=family, sampler_node=sampler_node, notes=g.notes,
                               certain=self.certain, inferred=self.inferred, models=self.models,
                               custom_nodes=self.packs)

    def add_lora(self, lora: LoraRef, model_out: Link, clip_out: Link, family: str) -> tuple[Link, Link]:
        """Add one LoRA loader after ``model_out``/``clip_out`` and return the new (model, clip) outputs.

        Flux and Chroma get ``LoraLoaderModelOnly``. A missing
        weight is taken as 1.0 (inferred); a separate clip weight is kept when the metadata has one.
        """
        file = self.model_entry("lora", "loras", None, lora.name, lora.hashes, lora.weight)
        weight = lora.weight
        if weight is None:
            weight = 1.0
            self.guess(f"LoRA {lora.name} weight", "no weight written; 1.0 assumed", 0.5)
        clip_weight = lora.clip_weight if lora.clip_weight is not None else weight
        if family in ("flux", "chroma"):
            node = self.g.add("LoraLoaderModelOnly", {"model": model_out, "lora_name": file, "strength_model": weight})
            self.certain.append(f"LoRA {lora.name} weight {weight}")
            return self.g.out(node), clip_out
        node = self.g.add("LoraLoader", {"model": model_out, "clip": clip_out, "lora_name": file,
                                         "strength_model": weight, "strength_clip": clip_weight})
        self.certain.append(f"LoRA {lora.name} weight {weight}" + (f" (clip {clip_weight})" if clip_weight != weight else ""))
        return self.g.out(node, 0), self.g.out(node, 1)

    def text_encoders(self, clip_out: Link, family: str) -> tuple[str, str]:
        """Add the positive and negative ``CLIPTextEncode`` nodes and return their ids.

        Prompts go through :func:`clean_prompt`: extra-network tags removed (the LoRAs are loaded by nodes),
        embeddings rewritten, unsupported syntax reported as low-confidence inferred parts. A missing positive
        prompt is an inferred empty prompt with confidence 0.
        """
        info = self.info
        emb = [e.name for e in info.embeddings]
        novelai = (info.generator or "").lower().startswith("novelai")
        texts = []
        for label, raw in (("positive", info.prompt), ("negative", info.negative_prompt)):
            if raw is None:
                if label == "positive":
                    self.guess("positive prompt", "no prompt in the metadata", 0.0)
                raw = ""
            cp = clean_prompt(raw, emb, novelai=novelai)
            if raw:
                self.certain.append(f"{label} prompt")
            if cp.removed_tags:
                self.certain.append(f"{label} prompt: {len(cp.removed_tags)} <lora:…> tag(s) moved into LoRA loaders")
            if cp.embeddings:
                self.guess(f"{label} prompt embeddings", f"{', '.join(cp.embeddings)} written as embedding:NAME, "
                           "which is how ComfyUI loads textual inversions", 0.9)
            for u in cp.unsupported:
                self.guess(f"{label} prompt syntax", f"{u}: ComfyUI has no equivalent; kept as written", 0.3)
            texts.append(cp.text)
        pos = self.g.add("CLIPTextEncode", {"text": texts[0], "clip": clip_out}, "Positive prompt")
        neg = self.g.add("CLIPTextEncode", {"text": texts[1], "clip": clip_out}, "Negative prompt")
        if family in ("flux", "chroma") and texts[1] and (self.info.cfg or 1.0) <= 1.0:
            self.guess("negative prompt", "with CFG 1 the negative prompt has no effect in ComfyUI", 0.8)
        return pos, neg

    def hires_pass(self, image: Link, samples: Link, model_out: Link, positive: Link, negative: Link, vae_out: Link,
                   seed: int, steps: int, cfg: float, sampler: str, sched: str, width: int, height: int) -> Link:
        """Add the WebUI's hires fix after the first pass and return the decoded image of the second pass.

        Target size is the explicit resize, else ``int(size * scale)`` (scale 2 when unwritten). Latent
        upscalers resize the latent; model and image upscalers decode, upscale, resize and re-encode. Steps,
        cfg, denoise, sampler and scheduler fall back to the first pass's (denoise to 0.7), the seed is
        reused.
        """
        g = self.g
        h = self.info.hires
        assert h is not None
        scale = h.scale
        if h.resize_width and h.resize_height:
            tw, th = int(h.resize_width), int(h.resize_height)
            self.certain.append(f"hires: resize to {tw}x{th}")
        else:
            if scale is None:
                scale = 2.0
                self.guess("hires scale", "hires fix without a scale; the WebUI default 2 assumed", 0.4)
            else:
                self.certain.append(f"hires: upscale by {scale}")
            # The WebUI computes the target size as int(size * scale); the latent floors it to /8.
            tw, th = int(width * scale), int(height * scale)
        plan = plan_upscaler(h.upscaler)
        (self.certain.append if plan.exact else lambda s: self.guess("hires upscaler", s, 0.6))(
            f"hires upscaler: {plan.why}")
        if plan.kind == "latent":
            up = g.add("LatentUpscale", {"samples": samples, "upscale_method": plan.method, "width": tw, "height": th,
                                         "crop": "disabled"}, "Hires upscale (latent)")
            latent2 = g.out(up)
        else:
            pixels = image
            if plan.kind == "model":
                assert plan.model_file
                self.models.append(ModelVerdict(role="upscaler", name=h.upscaler, file=plan.model_file,
                                                folder="upscale_models"))
                um = g.add("UpscaleModelLoader", {"model_name": plan.model_file}, "Load Upscale Model")
                pixels = g.out(g.add("ImageUpscaleWithModel", {"upscale_model": g.out(um), "image": image}))
            scaled = g.add("ImageScale", {"image": pixels, "upscale_method": plan.method or "lanczos", "width": tw,
                                          "height": th, "crop": "disabled"}, "Hires resize")
            latent2 = g.out(g.add("VAEEncode", {"pixels": g.out(scaled), "vae": vae_out}))
        steps2 = h.steps or steps
        if h.steps:
            self.certain.append(f"hires steps {h.steps}")
        else:
            self.certain.append(f"hires steps = first pass steps ({steps}), as the WebUI does when 'Hires steps' is 0/absent")
        cfg2 = h.cfg if h.cfg is not None else cfg
        denoise2 = h.denoise if h.denoise is not None else self.info.denoise
        if denoise2 is None:
            denoise2 = 0.7
            self.guess("hires denoise", "no denoising strength written; the WebUI default 0.7 assumed", 0.4)
        else:
            self.certain.append(f"hires denoise {denoise2}")
        if h.sampler_raw or h.scheduler_raw:
            s2, sc2 = self.sampler_pair(h.sampler_raw or self.info.sampler_raw, h.scheduler_raw, None, None, "hires pass")
        else:
            s2, sc2 = sampler, sched
        k2 = g.add("KSampler", {"model": model_out, "seed": int(seed), "steps": int(steps2), "cfg": float(cfg2),
                                "sampler_name": s2, "scheduler": sc2, "positive": positive, "negative": negative,
                                "latent_image": latent2, "denoise": float(denoise2)}, "KSampler (hires pass)")
        self.guess("hires pass seed", "the WebUI reuses the image seed for the hires pass", 0.8)
        return g.out(g.add("VAEDecode", {"samples": g.out(k2), "vae": vae_out}))

    def refiner_pass(self, model_out: Link, positive: Link, negative: Link, latent: Link, seed: int, steps: int,
                     cfg: float, sampler: str, sched: str, clip_out: Link, family: str) -> tuple[Link, str]:
        """Split sampling at the refiner's switch point (0.8 when unwritten) into two ``KSamplerAdvanced``
        passes, the second on the refiner checkpoint with its own text encoders; returns (refined latent, base
        node id). The refiner's short hash is recovered from the raw ``Refiner: name [hash]`` text when
        present.
        """
        g = self.g
        r = self.info.refiner
        assert r is not None and r.model is not None
        switch = r.switch_at if r.switch_at is not None else 0.8
        if r.switch_at is None:
            self.guess("refiner switch", "no switch point written; 0.8 assumed", 0.4)
        else:
            self.certain.append(f"refiner switch at {switch}")
        # The base pass runs at least one step, and never past the last one.
        cut = max(1, min(steps, round(steps * switch)))
        base = g.add("KSamplerAdvanced", {
            "model": model_out, "add_noise": "enable", "noise_seed": int(seed), "steps": int(steps), "cfg": float(cfg),
            "sampler_name": sampler, "scheduler": sched, "positive": positive, "negative": negative,
            "latent_image": latent, "start_at_step": 0, "end_at_step": cut, "return_with_leftover_noise": "enable"},
            "Base pass")
        # The WebUI writes "Refiner: name [hash]"; the reader keeps the name, the hash is still in the text.
        m = re.search(r"\[([0-9a-fA-F]{8,12})\]\s*$", str(_find_extra(self.info, "Refiner") or ""))
        rhash = {"AutoV2" if len(m.group(1)) == 10 else "AutoV1": m.group(1)} if m else None
        rfile = self.model_entry("refiner", "checkpoints", r.model, r.model.name, rhash)
        rl = g.add("CheckpointLoaderSimple", {"ckpt_name": rfile}, "Load Refiner")
        rpos = g.add("CLIPTextEncode", {"text": clean_prompt(self.info.prompt or "").text, "clip": g.out(rl, 1)})
        rneg = g.add("CLIPTextEncode", {"text": clean_prompt(self.info.negative_prompt or "").text, "clip": g.out(rl, 1)})
        ref = g.add("KSamplerAdvanced", {
            "model": g.out(rl, 0), "add_noise": "disable", "noise_seed": int(seed), "steps": int(steps),
            "cfg": float(cfg), "sampler_name": sampler, "scheduler": sched, "positive": g.out(rpos),
            "negative": g.out(rneg), "latent_image": g.out(base), "start_at_step": cut, "end_at_step": 10000,
            "return_with_leftover_noise": "disable"}, "Refiner pass")
        self.certain.append(f"refiner: {r.model.name}")
        self.guess("refiner wiring", "the refiner takes over the remaining steps with its own text encoders, as "
                   "in ComfyUI's SDXL refiner example; LoRAs are not applied to it", 0.6)
        return g.out(ref), base

    def embedding_models(self) -> None:
        """List every embedding the metadata names as a model to install in ``embeddings`` (``.safetensors``
        assumed when the name has no extension).
        """
        for emb in self.info.embeddings:
            file, _ = model_file_name(emb.name)
            self.models.append(ModelVerdict(role="embedding", name=emb.name, file=file, folder="embeddings",
                                            hashes=dict(emb.hashes)))
        if self.info.embeddings:
            self.guess("embedding files", "textual inversions are loaded by name from models/embeddings; the "
                       ".safetensors extension is assumed", 0.8)

def build_from_parameters(info: GenerationInfo, schemas: Mapping[str, NodeSchema] | None = None) -> ParametersGraph:
    """Build the API graph for ``info`` (WebUI/Forge/SD.Next/Fooocus/NovelAI/InvokeAI/… parameters).

    ``schemas`` (optional) lets sampler/scheduler names be checked against the real combo lists; without
    them any mapped name is accepted. Never raises for missing parameters: every gap becomes an inferred
    part. Video families are not rebuilt (an image template is returned with confidence 0.1).
    """
    return _Builder(info, schemas).build()
