"""``build_workflow``: a minimal, valid UI + API workflow that uses a given model.

The model is identified first (``identify_model``); its family picks a recipe from :data:`RECIPES`, a
table of the loaders, companion files and reference settings of each family, taken from the knowledge
pack (``knowledge/model-family-*.md``) and the official ComfyUI templates for that family. The graph is
built in API format, validated against the node schemas (the context's ``object_info`` or the bundled
core snapshot) and converted to the editor's UI format; nothing is written when validation finds an
error, and nothing is ever overwritten (a taken name gets `` (n)``).

A LoRA is placed on its family's reference base model with its trigger words (from Civitai when the
model was identified there). Companion files (text encoders, VAE, the base model for a LoRA) are listed
with the download URL the official templates give for them, and the UI workflow carries them in its
``models`` list, so ``comfyfixer fix`` turns them into a verified download plan.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.identify.capability import identify_model
from comfyfixer.tools.identify.models import IdentifyInput, ModelIdentity
from comfyfixer.tools.identify.rules import FAMILIES
from comfyfixer.tools.identify.template_recipes import Task, TemplateRecipe, TemplateRecipes
from comfyfixer.tools.paths import safe_stem
from comfyfixer.tools.toolset import capability
from comfyfixer.tools.workflow.copies import write_new

log = logging.getLogger(__name__)

DEFAULT_PROMPT = "a red fox in a snowy forest at sunrise, detailed, natural light"
DEFAULT_NEGATIVE = "blurry, low quality, deformed"
MAX_TEMPLATE_CANDIDATES = 8  # templates tried for one model and task before giving up
# ComfyUI's core loaders read safetensors only; GGUF files need city96's pack (its recorded schemas are bundled).
GGUF_PACK = "ComfyUI-GGUF"
GGUF_LOADERS = ("UnetLoaderGGUF", "CLIPLoaderGGUF", "DualCLIPLoaderGGUF", "TripleCLIPLoaderGGUF",
                "QuadrupleCLIPLoaderGGUF")


@dataclass(frozen=True)
class Recipe:
    """How one family is wired: loaders, companion files and reference settings (with the note they
    come from)."""

    family: str
    base: tuple[str, str]  # (file, folder) of the reference model, the base for a LoRA
    source: str
    clip: tuple[str, tuple[str, ...], str | None] | None = None  # (loader class, files, type) or from checkpoint
    vae: str | None = None  # VAELoader file, or None: the checkpoint's VAE
    steps: int = 20
    cfg: float = 7.0
    sampler: str = "euler"
    scheduler: str = "normal"
    size: tuple[int, int] = (1024, 1024)
    latent: str = "EmptyLatentImage"
    guidance: float | None = None  # FluxGuidance
    shift: tuple[str, float] | None = None  # (ModelSampling class, shift)
    video: bool = False
    length: int = 0
    fps: float = 24.0
    ltxv_conditioning: bool = False
    caveat: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


RECIPES: dict[str, Recipe] = {r.family: r for r in (
    Recipe("sd15", ("v1-5-pruned-emaonly-fp16.safetensors", "checkpoints"), "model-family-sd15-sdxl.md",
           steps=20, cfg=7.0, size=(512, 512)),
    Recipe("sd2", ("v2-1_768-ema-pruned.safetensors", "checkpoints"), "model-family-sd15-sdxl.md",
           steps=20, cfg=7.0, size=(768, 768)),
    Recipe("sdxl", ("sd_xl_base_1.0.safetensors", "checkpoints"), "model-family-sd15-sdxl.md",
           steps=25, cfg=7.0, sampler="dpmpp_2m", scheduler="karras"),
    Recipe("sd3", ("sd3_medium_incl_clips_t5xxlfp8.safetensors", "checkpoints"), "model-family-sd35.md",
           steps=28, cfg=4.5, sampler="dpmpp_2m", scheduler="sgm_uniform", latent="EmptySD3LatentImage"),
    Recipe("sd35", ("sd3.5_large_fp8_scaled.safetensors", "checkpoints"), "model-family-sd35.md; template "
           "sd3.5_simple_example", steps=30, cfg=4.5, sampler="euler", scheduler="sgm_uniform",
           latent="EmptySD3LatentImage", shift=("ModelSamplingSD3", 3.0),
           extra={"separate_clip": ("TripleCLIPLoader", ("clip_l.safetensors", "clip_g.safetensors",
                                                         "t5xxl_fp8_e4m3fn.safetensors"), None)}),
    Recipe("flux", ("flux1-dev.safetensors", "diffusion_models"), "model-family-flux.md",
           clip=("DualCLIPLoader", ("clip_l.safetensors", "t5xxl_fp16.safetensors"), "flux"), vae="ae.safetensors",
           steps=20, cfg=1.0, sampler="euler", scheduler="simple", latent="EmptySD3LatentImage", guidance=3.5),
    Recipe("chroma", ("chroma-unlocked-v37.safetensors", "diffusion_models"), "model-family-flux.md (Chroma)",
           clip=("CLIPLoader", ("t5xxl_fp8_e4m3fn.safetensors",), "chroma"), vae="ae.safetensors",
           steps=26, cfg=4.0, sampler="euler", scheduler="simple", latent="EmptySD3LatentImage"),
    Recipe("qwen_image", ("qwen_image_fp8_e4m3fn.safetensors", "diffusion_models"), "model-family-hidream-qwen-image.md",
           clip=("CLIPLoader", ("qwen_2.5_vl_7b_fp8_scaled.safetensors",), "qwen_image"),
           vae="qwen_image_vae.safetensors", steps=20, cfg=2.5, sampler="euler", scheduler="simple", size=(1328, 1328),
           latent="EmptySD3LatentImage", shift=("ModelSamplingAuraFlow", 3.1)),
    Recipe("hidream", ("hidream_i1_full_fp8.safetensors", "diffusion_models"), "model-family-hidream-qwen-image.md; "
           "template hidream_i1_full", clip=("QuadrupleCLIPLoader", (
               "clip_l_hidream.safetensors", "clip_g_hidream.safetensors", "t5xxl_fp8_e4m3fn_scaled.safetensors",
               "llama_3.1_8b_instruct_fp8_scaled.safetensors"), None), vae="ae.safetensors",
           steps=50, cfg=5.0, sampler="uni_pc", scheduler="simple", latent="EmptySD3LatentImage",
           shift=("ModelSamplingSD3", 3.0)),
    Recipe("lumina2", ("z_image_turbo_bf16.safetensors", "diffusion_models"), "official template image_z_image_turbo",
           clip=("CLIPLoader", ("qwen_3_4b.safetensors",), "lumina2"), vae="ae.safetensors", steps=8, cfg=1.0,
           sampler="res_multistep", scheduler="simple", latent="EmptySD3LatentImage",
           shift=("ModelSamplingAuraFlow", 3.0), caveat="Z-Image needs a ComfyUI newer than 0.3.64 to run"),
    Recipe("wan", ("wan2.1_t2v_1.3B_fp16.safetensors", "diffusion_models"), "model-family-wan.md; template "
           "text_to_video_wan", clip=("CLIPLoader", ("umt5_xxl_fp8_e4m3fn_scaled.safetensors",), "wan"),
           vae="wan_2.1_vae.safetensors", steps=30, cfg=6.0, sampler="uni_pc", scheduler="simple", size=(832, 480),
           latent="EmptyHunyuanLatentVideo", shift=("ModelSamplingSD3", 8.0), video=True, length=33, fps=16.0),
    Recipe("hunyuan_video", ("hunyuan_video_t2v_720p_bf16.safetensors", "diffusion_models"), "model-family-hunyuan-ltx.md",
           clip=("DualCLIPLoader", ("clip_l.safetensors", "llava_llama3_fp8_scaled.safetensors"), "hunyuan_video"),
           vae="hunyuan_video_vae_bf16.safetensors", steps=20, cfg=1.0, sampler="euler", scheduler="simple",
           size=(848, 480), latent="EmptyHunyuanLatentVideo", guidance=6.0, video=True, length=73, fps=24.0),
    Recipe("ltxv", ("ltx-video-2b-v0.9.5.safetensors", "checkpoints"), "model-family-hunyuan-ltx.md; template "
           "ltxv_text_to_video", clip=("CLIPLoader", ("t5xxl_fp16.safetensors",), "ltxv"), steps=30, cfg=3.0,
           sampler="euler", scheduler="simple", size=(768, 512), latent="EmptyLTXVLatentVideo", video=True, length=97,
           fps=24.0, ltxv_conditioning=True),
)}


class BuildInput(BaseModel):
    """Input of ``build_workflow``."""

    model: str = Field(description="The model, as for identify_model (a local file, a file name, a Civitai URL/id, "
                                   "a Hugging Face URL or a SHA256).")
    task: Task | None = Field(default=None, description="txt2img, img2img, inpaint, upscale, video, audio, 3d, text "
                                                        "or process (segmentation, pose, …); default: video for video "
                                                        "families, upscale for upscalers, else txt2img, or the task "
                                                        "of the official template whose model it is.")
    family: str | None = Field(default=None, description="Use this family when identification cannot tell "
                                                         "(sd15, sdxl, sd35, flux, wan, …).")
    prompt: str = Field(default=DEFAULT_PROMPT, description="The positive prompt.")


class Companion(BaseModel):
    """A file the workflow loads besides the model itself."""

    file: str = Field(description="File name.")
    folder: str = Field(description="ComfyUI model folder.")
    url: str | None = Field(default=None, description="Download URL the official templates give, when known.")


class BuildResult(BaseModel):
    """The workflow built for a model, and whether it validated."""

    status: Literal["BUILT", "INVALID", "UNSUPPORTED", "UNCERTAIN"] = Field(
        description="BUILT: validated with 0 errors; UNCERTAIN: identification could not tell the family or role "
                    "(the notes name the choices; pass family); UNSUPPORTED: nothing built for this model and task.")
    identity: ModelIdentity = Field(description="What the model was identified as.")
    family: str | None = Field(default=None, description="The family whose recipe was used.")
    task: str | None = Field(default=None, description="The task built.")
    api: dict[str, Any] = Field(default_factory=dict, description="The API-format prompt.")
    workflow: dict[str, Any] = Field(default_factory=dict, description="The UI-format workflow.")
    errors: list[str] = Field(default_factory=list, description="Validation errors against the node schemas.")
    schemas: str = Field(default="", description="Which node schemas validated it.")
    companions: list[Companion] = Field(default_factory=list, description="Other files it needs.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Sampler, steps, CFG, size and their source.")
    notes: list[str] = Field(default_factory=list, description="What to know before running it.")
    paid_api_nodes: list[str] = Field(default_factory=list, description="Node classes in it that call a paid remote "
                                                                        "API (a Comfy account with credits).")
    written: list[str] = Field(default_factory=list, description="Files written (CLI --out only).")


class _Graph:
    """Numbered API nodes in insertion order."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}

    def add(self, class_type: str, **inputs: Any) -> str:
        """Add a node and return its id ("1", "2", … in build order)."""
        nid = str(len(self.nodes) + 1)
        self.nodes[nid] = {"class_type": class_type, "inputs": inputs}
        return nid


def _default_task(recipe: Recipe | None, ident: ModelIdentity) -> Task:
    """upscale for an upscaler, video for a video family, else txt2img."""
    if ident.role == "upscaler":
        return "upscale"
    return "video" if recipe is not None and recipe.video else "txt2img"


def _graph(recipe: Recipe, ident: ModelIdentity, task: Task, prompt: str) -> tuple[_Graph, list[tuple[str, str]], list[str]]:
    """The API graph for ``recipe`` and ``task``; returns it with the companion files and notes."""
    g, files, notes = _Graph(), list[tuple[str, str]](), list[str]()
    name = ident.name
    is_lora = ident.role in ("lora", "lycoris")
    main, main_folder = (LORA_BASES.get(ident.variant or "", recipe.base) if is_lora
                         else recipe.base if ident.role not in ("checkpoint", "diffusion_model", "unknown")
                         else (name, recipe.base[1]) if ident.role == "unknown"
                         else (name, "checkpoints" if ident.role == "checkpoint" else "diffusion_models"))
    if ident.role == "unknown":
        notes.append(f"what {name} is was not read (only its name); it is loaded as {_label(recipe.family)}'s main "
                     f"model is, from {main_folder}")
    if ident.role in ("text_encoder", "vae"):
        notes.append(f"{name} is a {ident.role.replace('_', ' ')}; the workflow loads it around {recipe.base[0]}, "
                     f"the reference model of {_label(recipe.family)}")
    if main != name:
        files.append((main, main_folder))
    single_file = main_folder == "checkpoints"
    clip_spec = recipe.clip
    if recipe.family == "sd35" and not any(s in main for s in ("fp8_scaled", "incl_clips")):
        clip_spec = recipe.extra["separate_clip"]
        notes.append("this SD3.5 checkpoint may not contain the text encoders, so they are loaded separately")
    if single_file:
        ckpt = g.add("CheckpointLoaderSimple", ckpt_name=main)
        model, clip, vae = [ckpt, 0], [ckpt, 1], [ckpt, 2]
    elif main.lower().endswith(".gguf"):  # core UNETLoader reads safetensors only
        model, clip, vae = [g.add("UnetLoaderGGUF", unet_name=main), 0], None, None
    else:
        unet = g.add("UNETLoader", unet_name=main, weight_dtype="default")
        model, clip, vae = [unet, 0], None, None
    if clip_spec is not None:
        cls, clip_files, clip_type = clip_spec
        if ident.role == "text_encoder":
            clip_files = _with_text_encoder(clip_files, name)
        if any(f.lower().endswith(".gguf") for f in clip_files):
            cls += "GGUF"  # CLIPLoaderGGUF, DualCLIPLoaderGGUF, …: the same inputs as the core loaders
        keys = ["clip_name"] if cls == "CLIPLoader" else [f"clip_name{i}" for i in range(1, len(clip_files) + 1)]
        inputs: dict[str, Any] = dict(zip(keys, clip_files, strict=True))
        if clip_type:
            inputs["type"] = clip_type
        clip = [g.add(cls, **inputs), 0]
        files += [(f, "text_encoders") for f in clip_files if f != name]
    vae_file = name if ident.role == "vae" else recipe.vae
    if vae_file is not None:
        vae = [g.add("VAELoader", vae_name=vae_file), 0]
        if vae_file != name:
            files.append((vae_file, "vae"))
    if clip is None or vae is None:
        # A diffusion-model-only file of a checkpoint family: text encoders and VAE from the reference checkpoint.
        ckpt = g.add("CheckpointLoaderSimple", ckpt_name=recipe.base[0])
        clip, vae = clip or [ckpt, 1], vae or [ckpt, 2]
        files.append(recipe.base)
        notes.append(f"text encoders and VAE come from {recipe.base[0]} (this file holds the diffusion model only)")
    if is_lora:
        if single_file:
            lora = g.add("LoraLoader", model=model, clip=clip, lora_name=name, strength_model=1.0, strength_clip=1.0)
            model, clip = [lora, 0], [lora, 1]
        else:
            model = [g.add("LoraLoaderModelOnly", model=model, lora_name=name, strength_model=1.0), 0]
        notes.append(f"the LoRA is placed on {main}, {_label(recipe.family)}'s reference model; a LoRA trained "
                     "on another size of the family needs that model instead")
        words = [w for w in ident.trained_words if w.lower() not in prompt.lower()]
        if words:
            prompt = ", ".join([*words, prompt])
            notes.append(f"trigger words added to the prompt: {', '.join(words)}")
        if ident.base_model and not GENERIC_BASE.match(ident.base_model.strip()):
            notes.append(f"it was trained on {ident.base_model!r} (its {'metadata' if ident.source.endswith('header') else 'Civitai page'}); "
                         f"if that is a fine-tune (Pony, Illustrious, …), a checkpoint of it suits the LoRA better than "
                         f"{main}")
    if recipe.shift is not None:
        model = [g.add(recipe.shift[0], model=model, shift=recipe.shift[1]), 0]
    positive = [g.add("CLIPTextEncode", text=prompt, clip=clip), 0]
    negative = [g.add("CLIPTextEncode", text=DEFAULT_NEGATIVE if recipe.cfg > 1 else "", clip=clip), 0]
    if recipe.guidance is not None:
        positive = [g.add("FluxGuidance", conditioning=positive, guidance=recipe.guidance), 0]
    if recipe.ltxv_conditioning:
        cond = g.add("LTXVConditioning", positive=positive, negative=negative, frame_rate=recipe.fps)
        positive, negative = [cond, 0], [cond, 1]
    if ident.role == "controlnet" and recipe.family in CONTROLNET_FAMILIES:
        hint = g.add("LoadImage", image="control.png")
        net = g.add("ControlNetLoader", control_net_name=name)
        applied = g.add("ControlNetApplyAdvanced", positive=positive, negative=negative, control_net=[net, 0],
                        image=[hint, 0], strength=1.0, start_percent=0.0, end_percent=1.0, vae=vae)
        positive, negative = [applied, 0], [applied, 1]
        notes.append("put the control image (the edge map, depth map or pose this ControlNet reads) in ComfyUI's input "
                     "folder as control.png (or pick it in its LoadImage)")
    width, height = recipe.size
    denoise = 1.0
    if task in ("img2img", "inpaint"):
        image = g.add("LoadImage", image="example.png")
        if task == "img2img":
            latent = [g.add("VAEEncode", pixels=[image, 0], vae=vae), 0]
            denoise = 0.75
        else:
            latent = [g.add("VAEEncodeForInpaint", pixels=[image, 0], vae=vae, mask=[image, 1], grow_mask_by=6), 0]
        notes.append("put your picture in ComfyUI's input folder as example.png (or pick it in LoadImage)")
    elif recipe.video:
        latent = [g.add(recipe.latent, width=width, height=height, length=recipe.length, batch_size=1), 0]
    else:
        latent = [g.add(recipe.latent, width=width, height=height, batch_size=1), 0]
    samples = g.add("KSampler", model=model, seed=0, steps=recipe.steps, cfg=recipe.cfg, sampler_name=recipe.sampler,
                    scheduler=recipe.scheduler, positive=positive, negative=negative, latent_image=latent,
                    denoise=denoise)
    decoded = g.add("VAEDecode", samples=[samples, 0], vae=vae)
    prefix = f"comfyfixer/{safe_stem(Path(name).stem, default='model')}"
    if recipe.video:
        video = g.add("CreateVideo", images=[decoded, 0], fps=recipe.fps)
        g.add("SaveVideo", video=[video, 0], filename_prefix=prefix, format="auto", codec="auto")
    else:
        g.add("SaveImage", images=[decoded, 0], filename_prefix=prefix)
    if recipe.caveat:
        notes.append(recipe.caveat)
    return g, files, notes


# Files of a family that its recipe (text-to-image or text-to-video on the reference model) does not fit:
# image-to-video and TI2V 5B (48-channel latents, the Wan 2.2 VAE), VACE and other conditioned Wan models,
# FLUX Fill/Canny/Depth (extra input channels), HunyuanVideo image-to-video, Qwen-Image-Edit. Their own
# template's chain is used instead. Read from the name and the variant the header gave.
_RECIPE_MISFITS = {
    "wan": re.compile(r"i2v|ti2v|vace|(^|[-_])fun[-_]|flf2v|s2v|animate|camera|phantom|humo|talk|(^|[-_])5b|"
                      r"image-to-video|48-channel", re.I),
    "flux": re.compile(r"fill|canny|depth", re.I),
    "hunyuan_video": re.compile(r"i2v|image[-_ ]to[-_ ]video", re.I),
    "qwen_image": re.compile(r"edit", re.I),
}


# Base-model labels (Civitai's, kohya's) that name the family's own base, not a fine-tune of it.
GENERIC_BASE = re.compile(r"(sdxl[ _]?(1\.0|base\S*)|sd[ _]?1\.[45]|sd_v[12]\S*|sd[ _]?2\.[01]\S*|flux(\.?1)?([ _.-]?[ds])?|"
                          r"sd[ _]?3(\.5)?\b.*|wan\b.*|hunyuan\b.*|qwen\b.*|hidream\b.*|ltxv?\b.*)$", re.I)
# Families whose ControlNets ComfyUI's core ControlNetLoader + ControlNetApplyAdvanced wire (SD U-Net ControlNets).
CONTROLNET_FAMILIES = ("sd15", "sd2", "sdxl")
# The base a LoRA goes on when its shapes say which model size it was trained for (identify's variant).
LORA_BASES = {"Wan 14B": ("wan2.1_t2v_14B_fp8_scaled.safetensors", "diffusion_models"),
              "Wan 1.3B": ("wan2.1_t2v_1.3B_fp16.safetensors", "diffusion_models"),
              "SD3.5 Medium": ("sd3.5_medium.safetensors", "checkpoints")}


def _recipe_fits(recipe: Recipe, ident: ModelIdentity) -> bool:
    """Whether the family recipe can run this main model (a LoRA always goes on the recipe's base)."""
    misfit = _RECIPE_MISFITS.get(recipe.family)
    if misfit is None or ident.role not in ("checkpoint", "diffusion_model", "unknown"):
        return True
    return not misfit.search(f"{ident.name} {ident.variant or ''}")


def _label(family: str | None) -> str:
    """A family's display name."""
    return FAMILIES.get(family or "", family or "unknown family")


# Kinds of text encoder a file name says (the slot of a Dual/Triple/Quadruple loader it takes).
_TEXT_ENCODER_KINDS = ("umt5", "t5", "clip_l", "clip_g", "llama", "llava", "qwen", "gemma", "mistral")


def _with_text_encoder(files: tuple[str, ...], name: str) -> tuple[str, ...]:
    """The recipe's text encoder files with ``name`` in the slot of its kind (the only slot of a single
    loader); unchanged when no slot is of its kind."""
    if name in files:
        return files
    if len(files) == 1:
        return (name,)
    low = name.lower().replace("-", "_")
    kind = next((k for k in _TEXT_ENCODER_KINDS if k in low), None)
    slot = next((i for i, f in enumerate(files) if kind and kind in f.lower().replace("-", "_")), None)
    return files if slot is None else (*files[:slot], name, *files[slot + 1:])


def _gguf_loaders(api: dict[str, dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    """``api`` with each core loader that reads ``name`` swapped for its GGUF twin when ``name`` is a GGUF file
    (a template's chain loads the safetensors its template names)."""
    if not name.lower().endswith(".gguf"):
        return api
    for node in api.values():
        twin = f"{'UnetLoader' if node['class_type'] == 'UNETLoader' else node['class_type']}GGUF"
        if name in node["inputs"].values() and twin in GGUF_LOADERS:
            node["class_type"] = twin
            node["inputs"].pop("weight_dtype", None)  # UnetLoaderGGUF takes the file only
    return api


def _refusal(ident: ModelIdentity, family: str | None) -> tuple[Literal["UNCERTAIN", "UNSUPPORTED"], str] | None:
    """Why nothing is built before trying, as (status, note), or None: identification left competing
    families, or a part used by several, or a role the name does not say (UNCERTAIN), or nothing at all
    (UNSUPPORTED), and no family was given."""
    if family is None:
        options = list(dict.fromkeys(c.family for c in ident.candidates if c.family))
        if len(options) < 2 and ident.family is None and len(ident.families_using) > 1:
            options = ident.families_using
        if len(options) > 1:
            named = f" (the file name suggests {_label(ident.family)})" if ident.family in options else ""
            labels = [_label(f) for f in options]
            return "UNCERTAIN", (f"{ident.name} may be for {', '.join(labels[:-1])} or {labels[-1]}: what was read "
                                 f"does not tell which{named}; choose with " + " or ".join(f"--family {f}" for f in options))
        if ident.status == "UNKNOWN":
            from comfyfixer.tools.identify.detect import GIVE_MORE

            return "UNSUPPORTED", (f"nothing says what {ident.name} is: {GIVE_MORE}; or pass --family (sd15, sdxl, "
                                   "flux, wan, …)")
    if ident.role == "unknown" and family is None and ident.family:
        return "UNCERTAIN", (f"{ident.name}: the name says {_label(ident.family)} but not whether it is a checkpoint, "
                             "a diffusion model or a LoRA; give the file itself (its header is read), its Civitai URL or "
                             f"its SHA256, or pass --family {ident.family} to load it as that family's main model")
    return None


def _not_loaded(ident: ModelIdentity, family: str | None) -> str:
    """Why a graph built for ``family`` that does not load the model is not offered."""
    if ident.role in ("controlnet", "clip_vision"):
        return (f"a {ident.role.replace('_', ' ')} steers a generator, and this builder does not wire one: "
                f"`comfyfixer workflows-for {ident.name}` lists workflows that use it")
    if ident.role == "text_encoder":
        return (f"{ident.name} fits no text-encoder slot of the {_label(family)} workflow; if it belongs to another "
                "family, choose it with --family")
    return f"the {_label(family)} workflow would not load {ident.name}"


def _upscale_graph(ident: ModelIdentity) -> _Graph:
    """LoadImage → UpscaleModelLoader → ImageUpscaleWithModel → SaveImage."""
    g = _Graph()
    image = g.add("LoadImage", image="example.png")
    model = g.add("UpscaleModelLoader", model_name=ident.name)
    up = g.add("ImageUpscaleWithModel", upscale_model=[model, 0], image=[image, 0])
    g.add("SaveImage", images=[up, 0], filename_prefix=f"comfyfixer/{safe_stem(Path(ident.name).stem, default='up')}")
    return g


def _free(path: Path) -> Path:
    """``path`` or ``name (n).ext``: never a file that exists."""
    n, candidate = 1, path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


def template_recipes(ctx: ToolContext) -> TemplateRecipes:
    """The official templates' recipes, read once per context (converted with the newest core schemas)."""
    from comfyfixer.tools.catalogs.model_index import find_template_dirs
    from comfyfixer.tools.schema.loader import bundled_newest_core_schemas

    return ctx.memo("identify:template-recipes", lambda: TemplateRecipes(find_template_dirs(),
                                                                         bundled_newest_core_schemas()))


def _from_template(ident: ModelIdentity, family: str | None, task: Task | None, ctx: ToolContext
                   ) -> TemplateRecipe | None:
    """The recipe an official template gives for this model (of ``family``) and task (any when ``None``):
    the first candidate that validates with 0 errors, else the first candidate."""
    from comfyfixer.tools.identify.detect import family_from_name
    from comfyfixer.tools.reconstruct.validate import validate_api
    from comfyfixer.tools.schema.loader import newer_core_schema_sets

    first = None
    found = template_recipes(ctx).candidates(ident.name, ident.role, family, task,
                                               lambda file: family_from_name(file)[0])
    for recipe in itertools.islice(found, MAX_TEMPLATE_CANDIDATES):
        first = first or recipe
        api = recipe.for_model(ident.name)
        if any(not validate_api(api, s).errors for s in (ctx.schemas(), *newer_core_schema_sets())):
            return recipe
    return first


def _hand_graph(recipe: Recipe | None, ident: ModelIdentity, task: Task, family: str | None, prompt: str
                ) -> tuple[_Graph | None, list[tuple[str, str]], list[str], str]:
    """The graph from :data:`RECIPES` (or the upscaler chain), or ``None`` with why not."""
    if task == "upscale":
        if ident.role != "upscaler":
            return None, [], [], ("upscale builds a workflow around an upscale model (ESRGAN, SwinIR, …); this is "
                                  "not one: choose --task txt2img, img2img, inpaint or video")
        return _upscale_graph(ident), [], [], ""
    if ident.role == "upscaler":
        return None, [], [], "an upscale model enlarges images: build it with --task upscale"
    if ident.role in ("lora", "lycoris") and ident.variant == "Wan 2.2 TI2V 5B":
        return None, [], [], ("a Wan 2.2 TI2V 5B LoRA loads on wan2.2_ti2v_5B_fp16.safetensors: build that model "
                              "(`comfyfixer build wan2.2_ti2v_5B_fp16.safetensors --task video`) and add a "
                              "LoraLoaderModelOnly after its UNETLoader")
    if recipe is None:
        return None, [], [], (f"no recipe for family {family!r}" if family else
                              "the family is unknown: pass --family (sd15, sdxl, sd35, flux, wan, …)")
    if task not in ("txt2img", "img2img", "inpaint", "video"):
        return None, [], [], f"the {family} recipe makes images or video, not {task}"
    if task == "video" and not recipe.video:
        return None, [], [], f"{_label(family)} makes images: choose --task txt2img, img2img or inpaint"
    if task != "video" and recipe.video:
        return None, [], [], f"{_label(family)} is a video family: this builder makes text-to-video (--task video) for it"
    g, files, notes = _graph(recipe, ident, task, prompt)
    return g, files, notes, ""


@capability(command="build")
def build_workflow(inp: BuildInput, ctx: ToolContext, *, out_dir: Path | None = None) -> BuildResult:
    """Build a minimal workflow that uses a model (txt2img, img2img, inpaint, upscale, video, audio, 3d,
    text or process): the right loaders for its family (checkpoint, or diffusion model + text encoders +
    VAE), the family's reference sampler, scheduler, steps, CFG and resolution, a LoRA placed on its
    family's base model with its trigger words; for a family or task the built-in recipes do not cover,
    the shortest chain of the official template made for that model (or its family) and task. Validated
    against the node schemas (or the bundled schemas of a newer ComfyUI's core nodes) before anything is
    written; BUILT means 0 errors. UNCERTAIN means identification left a choice (competing families, or
    a name that does not say checkpoint vs LoRA): the notes name the family values to pass.

    Returns the API and UI workflows and the companion files it needs (with download URLs when the
    official templates give them); run `comfyfixer fix` on the UI workflow to download them verified.
    """
    from comfyfixer.tools.catalogs.model_index import build_model_index, find_template_dirs
    from comfyfixer.tools.reconstruct.api_to_ui import api_to_ui
    from comfyfixer.tools.reconstruct.validate import validate_api
    from comfyfixer.tools.schema.loader import newer_core_schema_sets

    if inp.family and inp.family not in FAMILIES:
        raise InputError(f"unknown family {inp.family!r}", hint="choose one of " + ", ".join(sorted(FAMILIES)))
    ident = identify_model(IdentifyInput(model=inp.model), ctx)
    family = inp.family or ident.family
    refusal = _refusal(ident, inp.family)
    if refusal is not None:
        return BuildResult(status=refusal[0], identity=ident, family=family, task=inp.task, notes=[refusal[1]])
    recipe = RECIPES.get(family or "")
    if recipe is not None and not _recipe_fits(recipe, ident):
        recipe = None  # its official template's chain (or a kin's) knows how it is wired
    template: TemplateRecipe | None = None
    if inp.task is None and recipe is None and ident.role != "upscaler":
        template = _from_template(ident, family, None, ctx)
    task: Task = inp.task or (template.task if template else _default_task(recipe, ident))
    result = BuildResult(status="UNSUPPORTED", identity=ident, family=family, task=task)
    g, files, notes, why = _hand_graph(recipe, ident, task, family, inp.prompt) if template is None else (
        None, [], [], "")
    if g is not None and not any(ident.name in n["inputs"].values() for n in g.nodes.values()):
        result.notes.append(_not_loaded(ident, family))
        return result
    if g is not None and recipe is not None and task != "upscale":
        result.settings = {"steps": recipe.steps, "cfg": recipe.cfg, "sampler": recipe.sampler,
                           "scheduler": recipe.scheduler, "size": list(recipe.size), "source": recipe.source}
    if g is None:
        template = template or _from_template(ident, family, task, ctx)
        if template is None:
            result.notes.append(why or f"no recipe for {ident.name} and task {task}")
            return result
        g = _Graph()
        g.nodes = _gguf_loaders(template.for_model(ident.name), ident.name)
        notes = [f"the chain of the official template {template.template} for {task}, loading {ident.name}"
                 + ("" if template.primary == ident.name else f" where it loads {template.primary}"),
                 "prompts, sizes and seeds are the template's; change them in the editor"]
        result.settings = {"source": f"official template {template.template}"}
    schemas = user_schemas = ctx.schemas()
    newer_sets = newer_core_schema_sets()
    if any(n["class_type"] in GGUF_LOADERS for n in g.nodes.values()) and not all(c in schemas for c in GGUF_LOADERS):
        from comfyfixer.tools.schema.packs import pack_schemas

        gguf = pack_schemas(GGUF_PACK)
        schemas, newer_sets = schemas.merged(gguf), tuple(s.merged(gguf) for s in newer_sets)
        notes.append(f"GGUF files load with the GGUF loaders of {GGUF_PACK} (github.com/city96/ComfyUI-GGUF): "
                     "install that node pack (`comfyfixer fix` on the workflow plans it)")
    report = own = validate_api(g.nodes, schemas)
    for newer in newer_sets if report.errors else ():
        newer_report = validate_api(g.nodes, newer)
        if len(newer_report.errors) < len(report.errors):
            schemas, report = newer, newer_report
        if not newer_report.errors:
            lacks = sorted({e.class_type for e in own.errors if e.kind == "unknown_class"})
            what = (f"it lacks {', '.join(lacks[:6])}{' …' if len(lacks) > 6 else ''}" if lacks
                    else "some of its nodes take other values there")
            notes.append(f"needs a ComfyUI with the core nodes of {newer.comfyui_version} or newer: against "
                         f"{user_schemas.source} {what} (update ComfyUI)")
            break
    result.schemas = getattr(schemas, "source", "")
    result.paid_api_nodes = sorted({n["class_type"] for n in g.nodes.values()
                                    if (s := schemas.get(n["class_type"])) is not None and s.api_node})
    if result.paid_api_nodes:
        notes.append(f"calls a paid API through {', '.join(result.paid_api_nodes)}: it runs only when signed in to a "
                     "Comfy account with credits, and each run spends them")
    if template is not None and report.errors and all(e.kind in ("unknown_class", "not_in_list") for e in report.errors):
        # An official template's own chain that no node list here knows: it is newer than them, not wrong.
        notes.append(f"the template {template.template} uses nodes or options newer than every node list known here "
                     f"(ComfyUI {', '.join(s.comfyui_version or '?' for s in (user_schemas, *newer_sets))}); "
                     "a ComfyUI recent enough to ship it can check it: save its node list from "
                     "http://127.0.0.1:8188/object_info and pass it with --object-info FILE, or set "
                     "COMFYFIXER_COMFYUI_URL")
    result.errors = [f"node {e.node_id} {e.class_type}.{e.input}: {e.message}" for e in report.errors]
    result.errors += [f"unknown node class {c}" for c in report.unknown_classes if not any(c in e for e in result.errors)]
    result.api, result.notes = g.nodes, notes
    if template is not None:
        files = [(n.file, n.folder) for n in report.needs_models if n.folder != "input" and n.file != ident.name]
    index = ctx.memo("identify:model-index", lambda: build_model_index(ctx.catalog(), find_template_dirs()))
    for file, folder in dict.fromkeys(files):
        urls = [c.url for c in index.lookup(file) if c.url.startswith("https://")]
        result.companions.append(Companion(file=file, folder=folder, url=urls[0] if urls else None))
    conv = api_to_ui(g.nodes, schemas)
    workflow = conv.workflow
    workflow["models"] = [{"name": c.file, "url": c.url, "directory": c.folder} for c in result.companions if c.url]
    result.workflow = workflow
    if result.errors:
        result.status = "INVALID"
        return result
    result.status = "BUILT"
    if out_dir is not None:
        stem = safe_stem(f"{Path(ident.name).stem}_{task}", default="workflow")
        for path, doc in ((out_dir / f"{stem}.json", workflow), (out_dir / f"{stem}_api.json", g.nodes)):
            target = _free(path)
            write_new(target, doc)
            result.written.append(str(target))
    return result
