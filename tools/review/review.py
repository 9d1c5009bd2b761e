"""The deterministic review of one workflow: its task, model family and roles, key settings against the
family's recommended ranges, what is missing here, and the risks in the graph.

The task is read from the graph walking back from its output nodes: what the outputs make gives the
medium (image, video, audio, 3D, text); what those outputs depend on — media loaders, VAE encoders,
inpainting, outpainting, edit and upscale nodes, ControlNet, IP-Adapter — gives the task and the
techniques. Branches that no active output depends on do not count, so a muted refiner or an unused
loader does not change the answer. No language model is involved: the assistant writes its prose on
top of this result.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.review import graphfacts as gf
from comfyfixer.tools.review.families import (
    BY_ID,
    UTILITY,
    family_of_class,
    family_of_file,
    is_speed_file,
    precision_of,
)
from comfyfixer.tools.review.models import (
    Finding,
    ModelRole,
    OutputNode,
    Readiness,
    Resolution,
    ReviewInput,
    SamplerSetting,
    VramFit,
    WorkflowReview,
)
from comfyfixer.tools.review.ranges import SECTION, family_ranges
from comfyfixer.tools.schema.loader import SchemaSet
from comfyfixer.tools.toolset import capability
from comfyfixer.tools.workflow.graph import Graph, GraphNode, Link
from comfyfixer.tools.workflow.inspect import inspect_loaded
from comfyfixer.tools.workflow.loader import LoadedWorkflow, load_workflow
from comfyfixer.tools.workflow.models import InspectionResult

if TYPE_CHECKING:
    from comfyfixer.tools.fit.models import FitReport

log = logging.getLogger(__name__)

# Node-class markers of what a branch does (searched in the classes an active output depends on).
_MARK = {
    "image_in": re.compile(r"^LoadImage|Load ?Image|ImageLoader|LoadImageFromUrl|^ImageInput", re.I),
    "video_in": re.compile(r"LoadVideo|VHS_LoadVideo|GetVideoComponents|VideoInput", re.I),
    "audio_in": re.compile(r"LoadAudio|RecordAudio|AudioInput", re.I),
    "encode": re.compile(r"^VAEEncode(?!ForInpaint)|^VAEEncodeTiled", re.I),
    "inpaint": re.compile(r"Inpaint|SetLatentNoiseMask|DifferentialDiffusion", re.I),
    "outpaint": re.compile(r"Outpaint", re.I),
    "edit": re.compile(r"Edit|Kontext|Reference\w*Latent|InstructPix|Omnigen|TextEncodeQwenImageEdit", re.I),
    "upscale": re.compile(r"UpscaleWithModel|UpscaleModelLoader|UltimateSDUpscale|SeedVR|Upscaler?(Node)?$|"
                          r"UpscaleImage|ImageUpscale|VideoUpscale", re.I),
    "i2v": re.compile(r"ImageToVideo|Img2Vid|ImgToVideo|I2V|FirstLastFrame|FLF|StartEndFrame|SVD_img2vid", re.I),
    "controlnet": re.compile(r"ControlNet|T2IAdapter", re.I),
    "ipadapter": re.compile(r"IPAdapter", re.I),
    "style": re.compile(r"StyleModelApply|Redux", re.I),
    "face": re.compile(r"FaceDetailer|FaceRestore|ReActor|FaceSwap|InstantID|PuLID|DetailerFor", re.I),
    "sampler": re.compile(r"KSampler|SamplerCustom|^Sampler|Sampler$", re.I),
    "tts": re.compile(r"TTS|TextToSpeech|Speech|VoiceClon", re.I),
    "interp": re.compile(r"RIFE|FILM|FrameInterpolat|Interpolation", re.I),
    "textgen": re.compile(r"TextGenerate|LLM|Chat|Caption|Florence|Qwen.*VL|Prompt(Gen|Enhance)", re.I),
    "lora": re.compile(r"Lora", re.I),
    # Case-sensitive: "SAM" must not match KSampler.
    "bgremove": re.compile(r"RemoveBackground|RMBG|BiRefNet|BackgroundRemov|^SAM|SAM\d|Sam\d|Segment"),
}
_ROLE = {
    "checkpoints": "base model (checkpoint)", "diffusion_models": "diffusion model", "unet": "diffusion model",
    "text_encoders": "text encoder", "clip": "text encoder", "vae": "VAE", "loras": "LoRA",
    "controlnet": "ControlNet", "clip_vision": "vision encoder", "upscale_models": "upscaler",
    "latent_upscale_models": "latent upscaler", "style_models": "style model", "ipadapter": "IP-Adapter",
    "embeddings": "embedding", "model_patches": "model patch", "audio_encoders": "audio encoder",
    "vae_approx": "preview decoder", "gligen": "GLIGEN", "hypernetworks": "hypernetwork",
}
_PRIMARY_FOLDERS = ("checkpoints", "diffusion_models", "unet")
_ARCH_BOUND = ("controlnet", "t2i_adapter", "loras", "embeddings", "ipadapter")
_MEDIUM_ORDER = ("video", "3d", "audio", "image", "vector", "text")


def _role(folder: str | None, filename: str) -> str:
    """What a model is for, from its folder, with the roles its name states (refiner, Wan 2.2's high- and low-noise experts)."""
    role = _ROLE.get(folder or "", folder or "model")
    name = filename.lower()
    if "refiner" in name:
        return "refiner"
    if "high_noise" in name or "high-noise" in name:
        return f"{role} (high-noise expert)"
    if "low_noise" in name or "low-noise" in name:
        return f"{role} (low-noise expert)"
    return role


def _lora_strengths(node: GraphNode | None) -> tuple[float | None, float | None]:
    """``strength_model`` (or ``strength``) and ``strength_clip`` of a LoRA loader node, when they are literal numbers."""
    if node is None:
        return None, None
    lits = gf.literal_inputs(node)
    return gf.number(lits.get("strength_model", lits.get("strength"))), gf.number(lits.get("strength_clip"))


def model_roles(inspection: InspectionResult, graph: Graph) -> list[ModelRole]:
    """Every model the inspector found, with its role, family and precision.

    Muted models are kept (marked inactive) so the review can say what switching them back on would
    load; LoRA strengths are read off the loader node the file is set on.
    """
    roles = []
    for m in inspection.models:
        fam = family_of_file(m.filename)
        node = graph.nodes.get(m.node_id)
        sm, sc = _lora_strengths(node) if m.folder == "loras" else (None, None)
        roles.append(ModelRole(filename=m.filename, folder=m.folder, role=_role(m.folder, m.filename),
                               family=fam.id if fam else None, precision=precision_of(m.filename),
                               node_id=m.node_id, class_type=m.class_type, active=m.active,
                               strength_model=sm, strength_clip=sc))
    return roles


def main_family(models: list[ModelRole], classes: set[str]) -> tuple[str | None, list[str]]:
    """The family of the main models (checkpoints and diffusion models first, then any model, then node
    classes only one family uses) and every family seen."""
    active = [m for m in models if m.active] or models
    seen = [m.family for m in active if m.family]
    primary = [m for m in active if m.folder in _PRIMARY_FOLDERS]
    # Other models (a VAE, a text encoder) name the family only when no main model is loaded: a new
    # family often reuses another's VAE or text encoder, and that says nothing about its own model.
    counts = Counter(m.family for m in (primary or active) if m.family)
    main = Counter({k: v for k, v in counts.items() if k not in UTILITY}) or counts
    if main:
        return main.most_common(1)[0][0], sorted(set(seen))
    # A main model with an unknown name: files that only work with one architecture (its ControlNets,
    # T2I adapters, LoRAs, embeddings, the SD-era VAEs) say which. Other VAEs and text encoders do not —
    # new families reuse them (MOSS-Image loads the FLUX.2 VAE).
    bound = Counter(m.family for m in active if m.family and (
        m.folder in _ARCH_BOUND or (m.folder == "vae" and m.family in ("sd15", "sdxl"))))
    if bound:
        return bound.most_common(1)[0][0], sorted(set(seen))
    by_class = Counter(f.id for c in classes if (f := family_of_class(c)) is not None
                       and not (primary and f.id in UTILITY))  # a helper node says nothing of the main model
    if by_class:
        return by_class.most_common(1)[0][0], sorted(set(seen) | set(by_class))
    return None, sorted(set(seen))



def infer_task(medium: str, marks: dict[str, bool], api: bool) -> str:
    """The main task from the output medium and the markers found upstream of the outputs.

    Per medium, the most specific reading wins: for images an upscale with no generation is
    ``upscale``; with a loaded image, outpainting beats inpainting beats editing beats
    image-to-image; an image that only steers (ControlNet, IP-Adapter, style) leaves the task
    text-to-image. For video a loaded video makes it video-to-video, a loaded image image-to-video,
    audio alone audio-to-video. ``api`` counts a paid API node as the generator. A graph that only
    transforms what it loads, or builds images and masks from nothing (solid masks, empty images), is
    ``image-processing``; one with no output at all is ``none``.
    """
    generates = marks["sampler"] or api
    if medium == "video":
        if marks["interp"] and not generates:
            return "frame-interpolation"
        if marks["upscale"] and not generates:
            return "video-upscale"
        if marks["video_in"]:
            return "video-to-video"
        if marks["audio_in"] and not marks["image_in"]:
            return "audio-to-video"
        if marks["image_in"]:
            return "image-to-video"
        return "text-to-video"
    if medium == "audio":
        if marks["video_in"]:
            return "video-to-audio"
        if marks["audio_in"]:
            return "audio-to-audio"
        return "text-to-speech" if marks["tts"] else "text-to-audio"
    if medium == "3d":
        return "image-to-3d" if marks["image_in"] or marks["video_in"] else "text-to-3d"
    if medium == "text":
        if marks["video_in"]:
            return "video-to-text"
        if marks["audio_in"]:
            return "speech-to-text"
        return "image-to-text" if marks["image_in"] else "text-generation"
    if medium == "none":
        return "none"
    # image and vector
    if marks["upscale"] and not generates:
        return "upscale"
    if not marks["image_in"] and not marks["video_in"]:
        # Nothing loaded and nothing generated: images and masks made and combined by core nodes alone.
        return "text-to-image" if generates else ("text-to-vector" if medium == "vector" else "image-processing")
    if marks["outpaint"]:
        return "outpaint"
    if marks["inpaint"]:
        return "inpaint"
    if marks["edit"] or (api and marks["image_in"]):
        return "image-edit"
    if marks["encode"]:
        return "image-to-image"
    if marks["upscale"]:
        return "upscale"
    if generates:
        # An image that only steers (ControlNet, IP-Adapter, a style model) leaves it text-to-image; one
        # that reaches the model some other way (vision encoder, image conditioning) makes it image-to-image.
        steered = marks["controlnet"] or marks["ipadapter"] or marks["style"]
        return "text-to-image" if steered else "image-to-image"
    return "image-processing"


def _techniques(marks: dict[str, bool], medium: str, task: str) -> list[str]:
    """Readable names of the conditioning and extra passes found upstream of the outputs (an upscale that is the task itself is not repeated)."""
    names = {"controlnet": "ControlNet conditioning", "ipadapter": "IP-Adapter conditioning",
             "style": "style reference", "face": "face detail", "lora": "LoRA", "bgremove": "segmentation / background removal",
             "interp": "frame interpolation"}
    out = [label for key, label in names.items() if marks[key]]
    if marks["upscale"] and task not in ("upscale", "video-upscale"):
        out.append("upscale pass")
    return out


def _speed(models: list[ModelRole]) -> bool:
    """Whether an active model says it is a speed LoRA or a distilled checkpoint: then the family's "fast" ranges apply."""
    return any(m.active and is_speed_file(m.filename) for m in models)


def sampler_settings(graph: Graph, nodes: set[str], drawn: Graph | None = None) -> list[SamplerSetting]:
    """Nodes among ``nodes`` that carry sampling values, with their seed control (read from the
    ``drawn`` UI graph, where the frontend keeps it)."""
    out = []
    for nid in sorted(nodes, key=_id_key):
        node = graph.nodes[nid]
        if not node.active or node.virtual:
            continue
        lits = gf.literal_inputs(node)
        vals = {k: lits[k] for k in gf.SAMPLING_NAMES if k in lits and isinstance(lits[k], str | int | float | bool)}
        if node.class_type == "FluxGuidance" and "guidance" in lits:
            vals["guidance"] = lits["guidance"]
        if vals and (len(vals) >= 2 or gf.SAMPLING_NAMES[0] in vals or "cfg" in vals or "guidance" in vals
                     or "seed" in vals or "noise_seed" in vals or "sampler_name" in vals):
            ui_node = (drawn or graph).nodes.get(nid)
            control = gf.seed_control(ui_node) if ui_node and ("seed" in vals or "noise_seed" in vals) else None
            out.append(SamplerSetting(node_id=nid, class_type=node.class_type, values=vals, seed_control=control))
    return out


def resolutions(graph: Graph, nodes: set[str]) -> list[Resolution]:
    """Widths and heights (with frames and batch) set as literal values on ``nodes``."""
    out = []
    for nid in sorted(nodes, key=_id_key):
        node = graph.nodes[nid]
        if not node.active:
            continue
        lits = gf.literal_inputs(node)
        w, h = gf.number(lits.get("width")), gf.number(lits.get("height"))
        if w is None or h is None or w <= 0 or h <= 0:
            continue
        frames = next((gf.number(lits[k]) for k in ("length", "num_frames", "frames", "video_frames", "frame_count")
                       if gf.number(lits.get(k)) is not None), None)
        batch = gf.number(lits.get("batch_size"))
        out.append(Resolution(node_id=nid, class_type=node.class_type, width=int(w), height=int(h),
                              frames=int(frames) if frames else None, batch=int(batch) if batch else None))
    return out


def _id_key(nid: str) -> tuple[int, ...]:
    """Sort key for node ids: numerically, part by part (``"10"`` after ``"9"``, ``"5:12"`` after ``"5:3"``)."""
    return tuple(int(p) if p.isdigit() else 0 for p in nid.split(":"))


def _range_text(lo: float, hi: float) -> str:
    """``20–30`` for a range, ``1`` when both ends are equal."""
    return f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}"


def range_findings(family: str | None, samplers: list[SamplerSetting], speed: bool) -> list[Finding]:
    """Steps, CFG, guidance, sampler and scheduler compared with the family's ranges in the knowledge pack.

    ``speed`` (a speed LoRA or distilled model is loaded) switches to the table's "fast" columns. Too
    few steps and too high a CFG are warnings (the image comes out unfinished or burnt); everything
    else outside the references — more steps, a low CFG, another sampler or scheduler — is
    information, because it is often deliberate. Advanced samplers that run a slice of the schedule
    (``start_at_step``) are not judged on their step count.
    """
    ranges = family_ranges().get(family or "")
    if ranges is None:
        return []
    label = BY_ID[family].label if family in BY_ID else family
    out: list[Finding] = []
    steps_range = ranges.fast_steps if speed and ranges.fast_steps else ranges.steps
    cfg_range = ranges.fast_cfg if speed and ranges.fast_cfg else ranges.cfg
    why = " with a speed LoRA or distilled model" if speed else ""
    for s in samplers:
        v = s.values
        steps = gf.number(v.get("steps"))
        # A one-step BasicScheduler gives a helper its single sigma (depth, pose, lotus passes): not a generation.
        helper = steps == 1 and "Scheduler" in s.class_type and not s.class_type.startswith("KSampler")
        if steps is not None and steps_range and "start_at_step" not in v and not helper:
            lo, hi = steps_range
            if steps < lo:
                hint = "" if speed else " (without a Lightning/lightx2v/LCM speed LoRA)"
                out.append(Finding(level="warning", code="steps-low", node_id=s.node_id, source=SECTION,
                                   message=f"{steps:g} steps on {label}{hint}: the recommended range{why} is "
                                           f"{_range_text(lo, hi)}; expect an unfinished, noisy image"))
            elif steps > hi * 1.5:
                out.append(Finding(level="info", code="steps-high", node_id=s.node_id, source=SECTION,
                                   message=f"{steps:g} steps on {label}: more than the {_range_text(lo, hi)} recommended"
                                           f"{why}; slower for little gain"))
        cfg = gf.number(v.get("cfg"))
        if cfg is not None and cfg_range:
            lo, hi = cfg_range
            if cfg > hi + 0.01:
                distilled = " (distilled: prompt strength comes from a guidance node, CFG above 1 burns the image)" \
                    if hi <= 1 else ""
                out.append(Finding(level="warning", code="cfg-high", node_id=s.node_id, source=SECTION,
                                   message=f"CFG {cfg:g} on {label}{distilled}: the recommended range{why} is "
                                           f"{_range_text(lo, hi)}"))
            elif cfg < lo - 0.01:
                out.append(Finding(level="info", code="cfg-low", node_id=s.node_id, source=SECTION,
                                   message=f"CFG {cfg:g} on {label}: below the recommended {_range_text(lo, hi)}{why}; "
                                           "the prompt (and negative prompt) will have little effect"))
        guidance = gf.number(v.get("guidance"))
        if guidance is not None and ranges.guidance:
            lo, hi = ranges.guidance
            if not lo <= guidance <= hi:
                out.append(Finding(level="info", code="guidance-range", node_id=s.node_id, source=SECTION,
                                   message=f"guidance {guidance:g} on {label}: the usual value is {_range_text(lo, hi)} "
                                           "(Fill and some tools use much higher values on purpose)"))
        sampler = v.get("sampler_name")
        if isinstance(sampler, str) and ranges.samplers and sampler not in ranges.samplers:
            out.append(Finding(level="info", code="sampler-unusual", node_id=s.node_id, source=SECTION,
                               message=f"sampler {sampler} on {label}: the references use "
                                       f"{', '.join(ranges.samplers)}"))
        scheduler = v.get("scheduler")
        if isinstance(scheduler, str) and ranges.schedulers and scheduler not in ranges.schedulers:
            out.append(Finding(level="info", code="scheduler-unusual", node_id=s.node_id, source=SECTION,
                               message=f"scheduler {scheduler} on {label}: the references use "
                                       f"{', '.join(ranges.schedulers)}"))
    return out


def _unconnected(drawn: Graph, graph: Graph, nodes: set[str], schemas: SchemaSet) -> list[Finding]:
    """Required socket inputs with nothing plugged in: as the saved graph shows them (a UI slot whose
    link is empty; an API input that is absent), or as ComfyUI will get them (a link the frontend drops
    because a bypassed node has no input of the type asked for, or a muted node fed it)."""
    out = []
    for nid in sorted(nodes, key=_id_key):
        node = drawn.nodes.get(nid)
        schema = schemas.get(node.class_type) if node else None
        if node is None or schema is None or not node.active or node.virtual:
            continue
        sockets = [i.name for i in schema.inputs if i.section == "required" and not i.is_widget]
        if drawn.format == "ui":
            empty = {s.get("name") for s in node.ui_inputs if s.get("link") is None and not s.get("widget")}
            missing = [name for name in sockets if name in empty]
        else:
            missing = [name for name in sockets if not isinstance(node.inputs.get(name), Link)]
        runs = graph.nodes.get(nid)
        dropped = [name for name in sockets if name not in missing and runs is not None
                   and not isinstance(runs.inputs.get(name), Link)] if drawn is not graph else []
        if missing:
            out.append(Finding(level="risk", code="unconnected-input", node_id=nid,
                               message=f"{node.class_type} (node {nid}): required input "
                                       f"{', '.join(missing)} is not connected; ComfyUI will refuse the prompt"))
        if dropped:
            out.append(Finding(level="risk", code="unconnected-input", node_id=nid,
                               message=f"{node.class_type} (node {nid}): required input {', '.join(dropped)} is drawn "
                                       "connected, but what feeds it is muted or bypassed with nothing of that type to "
                                       "pass through, so ComfyUI gets no value and will refuse the prompt"))
    return out


def risk_findings(drawn: Graph, graph: Graph, outputs: list[OutputNode], needed: set[str], schemas: SchemaSet,
                  samplers: list[SamplerSetting], fmt: str) -> list[Finding]:
    """Muted or bypassed branches, unconnected required inputs, seeds, and outputs never saved."""
    out: list[Finding] = []
    off = [n for n in drawn.nodes.values() if not n.active and not n.virtual and not n.class_type.startswith("workflow>")]
    if off:
        names = ", ".join(f"{n.class_type} ({n.id})" for n in off[:6]) + (" …" if len(off) > 6 else "")
        out.append(Finding(level="risk", code="muted-branch",
                           message=f"{len(off)} node(s) muted or bypassed: {names}; the result differs from what "
                                   "the graph shows when they are switched back on"))
    active_out = [o for o in outputs if o.active]
    if not active_out:
        out.append(Finding(level="risk", code="no-output",
                           message="no active output node: ComfyUI refuses a prompt with nothing to save or preview"))
    elif not any(o.saves for o in active_out):
        out.append(Finding(level="warning", code="never-saved",
                           message="outputs are only previewed, never saved: results are lost when the queue clears"))
    out.extend(_unconnected(drawn, graph, needed, schemas))
    for s in samplers:
        if "seed" not in s.values and "noise_seed" not in s.values:
            continue
        seed = s.values.get("seed", s.values.get("noise_seed"))
        if s.seed_control == "fixed":
            out.append(Finding(level="info", code="seed-fixed", node_id=s.node_id,
                               message=f"seed {seed} is fixed on {s.class_type} ({s.node_id}): every run repeats the "
                                       "same result (set 'randomize' for variations)"))
        elif s.seed_control in ("randomize", "increment", "decrement"):
            out.append(Finding(level="info", code="seed-random", node_id=s.node_id,
                               message=f"seed on {s.class_type} ({s.node_id}) is '{s.seed_control}': the saved "
                                       f"value {seed} is not what the next run uses (the output's metadata records it)"))
        elif fmt == "api":
            out.append(Finding(level="info", code="seed-fixed", node_id=s.node_id,
                               message=f"seed {seed} on {s.class_type} ({s.node_id}) is fixed in this API prompt"))
    return out


def readiness_for(path: Path, ctx: ToolContext) -> Readiness:
    """Missing nodes and models on the configured ComfyUI, or why that was not checked."""
    if ctx.comfyui_dir is None and ctx.comfyui_url is None:
        return Readiness(checked=False, note="no ComfyUI configured (--comfyui or COMFYFIXER_COMFYUI_DIR): "
                                              "what is missing was not checked")
    from comfyfixer.tools.readiness import CheckInput, check_workflows

    result = check_workflows(CheckInput(paths=[str(path)]), ctx)
    if not result.workflows:
        return Readiness(checked=False, note="the readiness check found no workflow at this path")
    w = result.workflows[0]
    return Readiness(checked=True, status=w.status, missing_nodes=[n.class_type for n in w.missing_node_types],
                     missing_models=[m.filename for m in w.missing_models],
                     note=w.error or ("runnable here" if w.status == "runnable" else ""))


def review_loaded(loaded: LoadedWorkflow, schemas: SchemaSet, inspection: InspectionResult | None = None) -> WorkflowReview:
    """Review an already loaded workflow (library form; ``review_workflow`` adds readiness and VRAM).

    Two views of the graph are used: the prompt ComfyUI would run (reroutes, primitives, subgraphs and
    bypasses resolved; what outputs depend on, the settings, the task) and the graph as saved (muted
    and bypassed nodes, unconnected inputs, seed controls — what the user sees in the editor). The
    review, the evals and the regression reports all call this with their own schemas.
    """
    inspection = inspection or inspect_loaded(loaded, schemas=schemas)
    drawn = loaded.graph  # as saved: muted and bypassed nodes included
    graph = gf.prompt_graph(loaded, schemas)  # as ComfyUI runs it
    outputs = [OutputNode(node_id=n.id, class_type=n.class_type, kind=gf.output_kind(n), saves=gf.is_saving(n),
                          active=n.active)
               for n in drawn.nodes.values() if not n.virtual and gf.is_output(n, schemas)]
    active_out = [o for o in outputs if o.active]
    # Outputs that only show text next to a media output (PreviewAny of a prompt) do not set the medium.
    kinds = {o.kind for o in active_out if o.saves} or {o.kind for o in active_out}
    medium = next((k for k in _MEDIUM_ORDER if k in kinds), "none")
    needed = gf.upstream(graph, [o.node_id for o in active_out])
    if not needed:  # no output: judge the whole graph rather than nothing
        needed = set(graph.nodes)
    classes = {graph.nodes[nid].class_type for nid in needed}
    api_nodes = sorted({graph.nodes[nid].class_type for nid in needed if gf.is_api_node(graph.nodes[nid], schemas)})
    marks = {key: any(p.search(c) for c in classes) for key, p in _MARK.items()}
    models = model_roles(inspection, drawn)
    # API nodes name their provider, not a local model family.
    local = classes - set(api_nodes)
    family, families = main_family([m for m in models if m.node_id in needed or not m.active] or models, local)
    if family is None and models:
        family, families = main_family(models, local)
    marks["lora"] = marks["lora"] or any(m.folder == "loras" and m.active for m in models)
    task = infer_task(medium, marks, bool(api_nodes))
    samplers = sampler_settings(graph, needed, drawn)
    findings = range_findings(family, samplers, _speed(models))
    findings += risk_findings(drawn, graph, outputs, needed, schemas, samplers, loaded.format)
    if api_nodes:
        findings.append(Finding(level="info", code="api-nodes",
                                message=f"runs {', '.join(api_nodes[:4])}{' …' if len(api_nodes) > 4 else ''} "
                                        "remotely: needs a Comfy account with credits, and sends the inputs away"))
    media = [k for k, key in (("image", "image_in"), ("video", "video_in"), ("audio", "audio_in")) if marks[key]]
    fam = BY_ID.get(family or "")
    review = WorkflowReview(
        path=loaded.path, format=loaded.format, task=task, medium=medium, techniques=_techniques(marks, medium, task),
        family=family, family_label=fam.label if fam else None, families=families, api_nodes=api_nodes,
        models=models, outputs=outputs, media_inputs=media, samplers=samplers,
        resolutions=resolutions(graph, needed), findings=findings)
    review.summary = summary_line(review)
    return review


def summary_line(r: WorkflowReview) -> str:
    """One sentence: task, family, steps/CFG and size."""
    parts = [r.task.replace("-", " ")]
    if r.family_label:
        parts.append(f"with {r.family_label}")
    elif r.api_nodes:
        parts.append(f"through API node {r.api_nodes[0]}")
    if r.techniques:
        parts.append("+ " + ", ".join(r.techniques))
    steps = [s.values["steps"] for s in r.samplers if "steps" in s.values]
    cfg = [s.values["cfg"] for s in r.samplers if "cfg" in s.values]
    if steps:
        parts.append(f"{'/'.join(str(x) for x in steps[:3])} steps")
    if cfg:
        parts.append(f"CFG {'/'.join(str(x) for x in cfg[:3])}")
    if r.resolutions:
        res = r.resolutions[0]
        parts.append(f"{res.width}×{res.height}" + (f"×{res.frames} frames" if res.frames else ""))
    warnings = sum(1 for f in r.findings if f.level != "info")
    parts.append(f"{warnings} warning(s)/risk(s)")
    return ", ".join(parts)


@capability(command="review")
def review_workflow(inp: ReviewInput, ctx: ToolContext) -> WorkflowReview:
    """Review a ComfyUI workflow (UI or API JSON, or an image that embeds one) without a language model.

    Says what the graph does — the task (text-to-image, image-to-image, inpaint, outpaint, upscale,
    image edit, text/image-to-video, audio, 3D, ...) read from its output nodes back to its inputs, and
    the techniques (ControlNet, IP-Adapter, LoRA, face detail) —, the model family and each model's role
    and precision, the sampling settings (sampler, scheduler, steps, CFG, denoise, seeds, resolution,
    frames, LoRA strengths) compared with the family's recommended ranges in the knowledge pack (e.g.
    CFG above 1 on a distilled FLUX model, 4 steps without a speed LoRA), the risks (muted or bypassed
    nodes, unconnected required inputs, fixed or random seeds, outputs never saved, paid API nodes), the
    VRAM fit (this GPU, or vram_gb) and, when a ComfyUI is configured, which nodes and models are
    missing here. Reads only; changes nothing.
    """
    path = Path(inp.path).expanduser()
    schemas = ctx.schemas(inp.object_info)
    loaded = load_workflow(path)
    # Packs are not part of a review (readiness names them), so the catalogs are not loaded.
    review = review_loaded(loaded, schemas)
    if inp.readiness:
        review.readiness = readiness_for(path, ctx)
        if review.readiness.checked and (review.readiness.missing_nodes or review.readiness.missing_models):
            review.findings.append(Finding(
                level="warning", code="missing-here",
                message=f"missing on this ComfyUI: {len(review.readiness.missing_nodes)} node type(s), "
                        f"{len(review.readiness.missing_models)} model file(s) (run `comfyfixer fix` for a plan)"))
    review.vram = vram_fit(path, ctx, inp.vram_gb)
    if review.vram is not None and review.vram.verdict in ("DOES_NOT_FIT", "FITS_OFFLOAD"):
        review.findings.append(Finding(level="warning" if review.vram.verdict == "DOES_NOT_FIT" else "info",
                                       code="vram", message=review.vram.summary))
    log.debug("reviewed %s: %s", path, review.summary)
    return review


def fit_report(path: Path, ctx: ToolContext, vram_gb: float | None = None) -> FitReport | None:
    """The fit estimate of ``tools/fit`` for one workflow file, or ``None`` when it cannot be made."""
    from comfyfixer.tools.fit.capability import fit_loaded
    from comfyfixer.tools.fit.models import FitInput

    try:
        return fit_loaded(path, FitInput(path=str(path), vram_gb=vram_gb), ctx)
    except Exception as exc:  # an estimate is extra information: never the reason a review fails
        log.info("no VRAM estimate for %s: %s", path, exc)
        return None


def vram_fit(path: Path, ctx: ToolContext, vram_gb: float | None = None, report: FitReport | None = None) -> VramFit | None:
    """The fit estimate in short (``report`` when already made), or ``None`` when there is none."""
    report = report or fit_report(path, ctx, vram_gb)
    if report is None:
        return None
    gib = 1024**3
    return VramFit(verdict=report.verdict, peak_gb=round(report.peak_bytes / gib, 2),
                   vram_gb=round(report.vram_bytes / gib, 2) if report.vram_bytes else None, summary=report.summary)
