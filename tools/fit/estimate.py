"""The VRAM estimate of one workflow, stage by stage, the way ComfyUI's model management runs it.

ComfyUI (``comfy/model_management.py``) loads the models a node needs just before it runs and, when
memory is short, unloads the ones the next node does not need. A text-to-image run therefore has
separate peaks: *conditioning* (text encoders, CLIP vision — loaded, used, then offloadable),
*sampling* (the diffusion model, ControlNets and model patches, plus the working set), *VAE decode*
(the VAE plus the decode buffer at the output size) and, when present, *upscale*. The workflow fits
when its largest stage fits. When the sampling weights do not, ComfyUI loads part of the model and
streams the rest from system RAM each step (``lowvram`` partial loading, automatic since 2024;
``--lowvram`` forces it, ``--novram`` keeps almost nothing resident): it still runs, slower. It does
not fit when even the working set plus ComfyUI's minimum reserve exceeds VRAM.

Figures and their sources are in :mod:`comfyfixer.tools.fit.families`; sizes in
:mod:`comfyfixer.tools.fit.sizes`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comfyfixer.tools.candidates import DownloadCandidate
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.fit.families import (
    BY_KEY,
    COMPUTE_DTYPE_SIZE,
    LATENT_NODE_FAMILY,
    MIN_INFERENCE_BYTES,
    TILE_FRAMES,
    TILE_PX,
    Family,
    GiB,
    bytes_per_param_from_name,
    family_for_name,
    latent_frames,
)
from comfyfixer.tools.fit.headers import read_weights
from comfyfixer.tools.fit.models import FitLine, FitReport, ModelWeight, Role, StageNeed
from comfyfixer.tools.fit.sizes import (
    ROLE_DEFAULT_BYTES,
    name_estimate,
    note_texts,
    parse_size_label,
    sizes_in_text,
)
from comfyfixer.tools.workflow.graph import Graph, Link
from comfyfixer.tools.workflow.models import ModelRef

log = logging.getLogger(__name__)

# Sampling slows by about this much per fraction of the weights streamed from RAM each step:
# fully streamed weights run "several times slower" (knowledge/vram-and-precision.md; community
# reports of 2–5× for --lowvram on PCIe 4.0). A rough figure, shown as such.
STREAMING_PENALTY = 3.0
NOVRAM_RESIDENT_FRACTION = 0.05  # below this share resident, the run is effectively --novram

_ROLE_BY_FOLDER: dict[str, Role] = {
    "diffusion_models": "diffusion", "unet": "diffusion", "checkpoints": "checkpoint", "text_encoders": "text_encoder",
    "clip": "text_encoder", "vae": "vae", "clip_vision": "clip_vision", "loras": "lora", "controlnet": "controlnet",
    "t2i_adapter": "controlnet", "model_patches": "controlnet", "upscale_models": "upscale",
}
_ROLE_BY_CLASS: dict[str, Role] = {
    "UnetLoaderGGUF": "diffusion", "UnetLoaderGGUFAdvanced": "diffusion", "CLIPLoaderGGUF": "text_encoder",
    "DualCLIPLoaderGGUF": "text_encoder", "TripleCLIPLoaderGGUF": "text_encoder",
}
_ROLE_FOLDER = {"diffusion": "diffusion_models", "text_encoder": "text_encoders", "checkpoint": "checkpoints", "vae": "vae"}
_ENCODER_TAG = re.compile(r"(?:incl_clips_?)?t5xxl_?(?:fp8|fp16|e4m3fn|scaled|_)*", re.I)
# Loader values that name no file: VAELoader's "pixel_space" (pixel-space models need no VAE).
_NOT_FILES = frozenset({"pixel_space", "none", "default"})


@dataclass
class FitSources:
    """Where sizes can come from besides the file itself (all optional)."""

    model_dirs: dict[str, list[Path]] = field(default_factory=dict)  # folder key → directories
    catalog_lookup: Any = None  # callable: filename → list[DownloadCandidate]
    knowledge: dict[str, int] = field(default_factory=dict)  # lower-case name → bytes


@dataclass
class Settings:
    """Resolution, frames and batch the workflow samples with, and where they were read."""

    width: int = 0
    height: int = 0
    frames: int = 1
    batch: int = 1
    where: str = ""
    family_hint: str | None = None
    rejected: str = ""  # a latent node whose size or batch is outside what ComfyUI accepts


def role_of(ref: ModelRef) -> Role:
    """What ComfyUI does with a model file, from its loader and folder."""
    if ref.class_type in _ROLE_BY_CLASS:
        return _ROLE_BY_CLASS[ref.class_type]
    if ref.folder in _ROLE_BY_FOLDER:
        return _ROLE_BY_FOLDER[ref.folder]
    if "lora" in ref.class_type.lower():
        return "lora"
    return "other"


def _value(node: Any, key: str, stored: dict[str, Any]) -> Any:
    """A literal input, else the value stored in the widget (a linked widget keeps its last value)."""
    v = node.inputs.get(key)
    if isinstance(v, Link) or v is None:
        v = stored.get(key)
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def read_settings(graph: Graph, schemas: Any) -> Settings:
    """The largest latent (width × height × frames × batch) any active node asks for."""
    from comfyfixer.tools.workflow.widgets import widget_inputs

    best = Settings()
    best_area = 0
    for node in graph.nodes.values():
        if not node.active or node.virtual:
            continue
        if "width" not in node.inputs and "height" not in node.inputs and not isinstance(node.widgets_values, list):
            continue
        stored, _, _ = widget_inputs(node, schemas.get(node.class_type))
        w, h = _value(node, "width", stored), _value(node, "height", stored)
        if w is None or h is None:
            continue
        raw_batch = _value(node, "batch_size", stored)
        if not (16 <= w <= 16384 and 16 <= h <= 16384) or (raw_batch is not None and not 0 < raw_batch <= 256):
            best.rejected = best.rejected or (f"{node.class_type} (node {node.id}) asks for {_shown(w)}×{_shown(h)}"
                                              + (f", batch {_shown(raw_batch)}" if raw_batch is not None else ""))
            if not (16 <= w <= 16384 and 16 <= h <= 16384):
                continue
        frames = next((int(f) for k in ("length", "frames", "num_frames", "video_frames")
                       if (f := _value(node, k, stored)) and 0 < f <= 10000), 1)
        batch = int(raw_batch) if raw_batch is not None and 0 < raw_batch <= 256 else 1
        area = int(w) * int(h) * frames * batch
        if area > best_area:
            best_area = area
            best = Settings(int(w), int(h), frames, batch, f"{node.class_type} (node {node.id})",
                            LATENT_NODE_FAMILY.get(node.class_type), best.rejected)
    return best


def _shown(v: float) -> str:
    """A widget number as the user typed it (a float that is whole prints without ``.0``)."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def _find_local(ref: ModelRef, dirs: dict[str, list[Path]]) -> Path | None:
    """The file in the ComfyUI folder the loader would read (its folder's directories in ComfyUI's
    search order), or None when it is not here."""
    # GGUF loaders of custom packs read the core folders (ComfyUI-GGUF: unet → diffusion_models, clip → text_encoders).
    folder = ref.folder or _ROLE_FOLDER.get(role_of(ref), "")
    for d in dirs.get(folder, []):
        p = d / ref.filename
        if p.is_file():
            return p
    return None


def weigh(ref: ModelRef, role: Role, family: Family | None, src: FitSources, notes: dict[str, int]) -> ModelWeight:
    """The resident bytes of one model file, from the most trusted source available."""
    base = dict(filename=ref.filename, node_id=ref.node_id, class_type=ref.class_type, role=role)
    local = _find_local(ref, src.model_dirs)
    if local is not None:
        try:
            summary = read_weights(local)
        except InputError as exc:  # a truncated or broken download: ComfyUI cannot load it either
            log.debug("%s", exc)
            elsewhere = _weigh_elsewhere(ref, role, family, src, notes, base)
            return elsewhere.model_copy(update={
                "local_path": str(local),
                "detail": f"the file here is damaged (header unreadable: {exc.message.split(': ', 1)[-1]}); "
                          f"sized as {elsewhere.source}: {elsewhere.detail}"})
        if summary is not None:
            parts = {k: v for k, v in summary.bytes_by_part.items() if v}
            return ModelWeight(**base, bytes=summary.bytes, source="header", local_path=str(local), parts=parts,
                               parameters=summary.parameters,
                               detail=f"{summary.format} header: {summary.parameters / 1e9:.2f} B parameters, "
                                      f"{summary.tensors} tensors, mostly {summary.main_dtype}")
        return ModelWeight(**base, bytes=local.stat().st_size, source="file-size", local_path=str(local),
                           detail=f"file size ({local.suffix} has no parameter header)")
    return _weigh_elsewhere(ref, role, family, src, notes, base)


def _weigh_elsewhere(ref: ModelRef, role: Role, family: Family | None, src: FitSources, notes: dict[str, int],
                     base: dict[str, Any]) -> ModelWeight:
    """The bytes of a file that is not here (or not readable here): the workflow's notes, the
    catalog, the knowledge pack, the name, else the family's or role's default."""
    name = ref.filename.rsplit("/", 1)[-1]
    if name.lower() in notes:
        return ModelWeight(**base, bytes=notes[name.lower()], source="workflow-note",
                           detail="size printed in the workflow's notes (GiB, as the templates print it)")
    if src.catalog_lookup is not None:
        for cand in src.catalog_lookup(ref.filename) or []:
            if isinstance(cand, DownloadCandidate) and (cand.size or parse_size_label(cand.size_label)):
                size = cand.size or parse_size_label(cand.size_label) or 0
                label = f"{cand.size:,} bytes" if cand.size else cand.size_label
                return ModelWeight(**base, bytes=size, source="catalog", detail=f"catalog size {label} ({cand.source})")
    if name.lower() in src.knowledge:
        return ModelWeight(**base, bytes=src.knowledge[name.lower()], source="knowledge",
                           detail="size stated in the knowledge pack")
    guess = name_estimate(name)
    if guess is not None:
        return ModelWeight(**base, bytes=guess[0], source="name", detail=f"from the name: {guess[1]}")
    if role in ("diffusion", "checkpoint") and family is not None:
        per = bytes_per_param_from_name(name)
        precision = f"{per:g} bytes each (the name says so)" if per else "16-bit"
        return ModelWeight(**base, bytes=int(family.default_params_b * 1e9 * (per or 2.0)), source="default",
                           parts={"diffusion": int(family.default_params_b * 1e9 * (per or 2.0))},
                           detail=f"{family.label} default: {family.default_params_b:g} B parameters at {precision}")
    return ModelWeight(**base, bytes=ROLE_DEFAULT_BYTES.get(role, ROLE_DEFAULT_BYTES["other"]), source="default",
                       detail=f"typical {role.replace('_', ' ')} file size")


def cast_at_load(w: ModelWeight, graph: Graph) -> ModelWeight:
    """Apply Load Diffusion Model's ``weight_dtype``: ``fp8_*`` casts 16/32-bit weights to one byte
    per parameter as they load (``nodes.py::UNETLoader``), halving a bf16 model's VRAM."""
    node = graph.nodes.get(w.node_id)
    dtype = node.inputs.get("weight_dtype") if node is not None else None
    if w.role != "diffusion" or not isinstance(dtype, str) or not dtype.startswith("fp8"):
        return w
    params = w.parameters
    if params is None:
        per = bytes_per_param_from_name(w.filename) or 2.0
        params = int(w.bytes / per)
    if params >= w.bytes:  # already one byte (or less) per parameter
        return w
    return w.model_copy(update={"bytes": params, "parameters": params, "detail": f"{w.detail}; weight_dtype {dtype} casts it to 1 byte "
                                                          f"per parameter at load ({params / 1e9:.2f} B parameters)"})


def detect_family(refs: list[ModelRef], settings: Settings) -> Family | None:
    """The family: from the diffusion model's or checkpoint's name, else the latent node, else any file name."""
    main = [r for r in refs if role_of(r) in ("diffusion", "checkpoint")]
    for ref in main:
        fam = family_for_name(ref.filename)
        if fam is not None:
            return fam
    small = 0 < max(settings.width, settings.height) <= 768  # SD 1.5 renders at 512–768 px, SDXL at ~1024
    if settings.family_hint:
        return BY_KEY["sd15" if settings.family_hint == "sdxl" and small else settings.family_hint]
    for ref in refs:
        if role_of(ref) in ("text_encoder", "vae", "lora"):
            fam = family_for_name(ref.filename)
            if fam is not None and fam.key not in ("sdxl", "sd15"):  # "xl" in t5xxl says nothing
                return fam
    return BY_KEY["sd15" if small else "sdxl"] if main else None


def working_set(family: Family, s: Settings) -> tuple[int, int, str]:
    """ComfyUI's sampling working set: ``model_base.memory_required`` with batch ×1 (the minimum it
    accepts, cond and uncond run one after the other) and ×2 (both batched, what it asks for first)."""
    lat_h, lat_w = max(s.height // family.downscale, 1), max(s.width // family.downscale, 1)
    t = latent_frames(family, s.frames)
    area = s.batch * t * lat_h * lat_w
    one = int(area * COMPUTE_DTYPE_SIZE * 0.01 * family.memory_usage_factor * 1024 * 1024)
    how = (f"latent {family.latent_channels}×{t}×{lat_h}×{lat_w} (÷{family.downscale}"
           f"{', frames 4n+1' if family.temporal == '4n+1' else ', frames 8n+1' if family.temporal == '8n+1' else ''})"
           f" × batch {s.batch} × {COMPUTE_DTYPE_SIZE} B × 0.01 × memory factor {family.memory_usage_factor:.2f} MiB")
    return one, 2 * one, how


def decode_bytes(family: Family, s: Settings, tiled: bool) -> tuple[int, str]:
    """ComfyUI's VAE decode reservation (``VAE.memory_used_decode``) at the output size or one tile."""
    vae = family.vae
    w, h, frames = s.width, s.height, s.frames
    if tiled:
        w, h, frames = min(w, TILE_PX), min(h, TILE_PX), min(frames, TILE_FRAMES)
    lat = max(h // family.downscale, 1) * max(w // family.downscale, 1)
    t = latent_frames(family, frames) if vae.per_frame else 1
    size = int(vae.coefficient * t * lat * vae.upscale_area * COMPUTE_DTYPE_SIZE) * (1 if tiled else s.batch)
    how = (f"{vae.name}: {vae.coefficient:g} × {f'{t} latent frames × ' if vae.per_frame else ''}"
           f"{lat} latent px × {vae.upscale_area} × {COMPUTE_DTYPE_SIZE} B"
           + (f" for one {TILE_PX}px tile" if tiled else f" at {s.width}×{s.height}"))
    return size, how


def _gb(n: int | float) -> str:
    """Bytes as GB the way GPU makers print them (GiB, one decimal)."""
    return f"{n / GiB:.1f} GB"


@dataclass
class _Buckets:
    """The model files of a workflow sorted by the stage ComfyUI loads them in."""

    diffusion: list[tuple[ModelWeight, int]] = field(default_factory=list)  # (file, its diffusion bytes)
    cond: list[FitLine] = field(default_factory=list)  # text encoders, CLIP vision
    vae: list[FitLine] = field(default_factory=list)
    sampling_extra: list[FitLine] = field(default_factory=list)  # ControlNets, model patches
    upscale: list[FitLine] = field(default_factory=list)
    other: list[FitLine] = field(default_factory=list)  # models that run on their own (depth, matting ...)
    loras: list[ModelWeight] = field(default_factory=list)


def sort_weights(weights: list[ModelWeight], family: Family) -> _Buckets:
    """Put each file's weights in its stage; a checkpoint is split into its diffusion model, text
    encoders and VAE (by header prefixes, else by the family's diffusion size)."""
    b = _Buckets()
    separate_encoders = any(w.role == "text_encoder" for w in weights)
    diffusion, cond, vae_lines, sampling_extra = b.diffusion, b.cond, b.vae, b.sampling_extra
    upscale, other, loras = b.upscale, b.other, b.loras
    for w in weights:
        label = f"{w.filename} ({w.class_type}, node {w.node_id})"
        if w.role == "checkpoint":
            parts = w.parts or {}
            if parts.get("diffusion"):
                diffusion.append((w, parts["diffusion"]))
                if parts.get("text_encoder"):
                    cond.append(FitLine(what=f"text encoders inside {label}", bytes=parts["text_encoder"], how=w.detail))
                if parts.get("vae"):
                    vae_lines.append(FitLine(what=f"VAE inside {label}", bytes=parts["vae"], how=w.detail))
            else:  # no header: the family's diffusion size, the rest split between encoders and VAE
                # A precision tag on a bundled encoder ("..._incl_clips_t5xxlfp8scaled") says nothing of the model's.
                per = bytes_per_param_from_name(_ENCODER_TAG.sub("", w.filename)) or 2.0
                unet = min(w.bytes, int(family.default_params_b * 1e9 * per))
                if separate_encoders:  # the workflow loads its text encoders itself: the checkpoint has none
                    unet = max(w.bytes - int(0.167e9), unet)
                vae_part = min(int(0.167e9), max(w.bytes - unet, 0))
                diffusion.append((w, unet))
                rest = max(w.bytes - unet - vae_part, 0)
                if rest:
                    cond.append(FitLine(what=f"text encoders inside {label}", bytes=rest,
                                        how=f"{w.detail}; checkpoint minus {family.label} diffusion model and VAE"))
                if vae_part:
                    vae_lines.append(FitLine(what=f"VAE inside {label}", bytes=vae_part, how="typical SD VAE size"))
        elif w.role == "diffusion":
            diffusion.append((w, w.bytes))
        elif w.role == "other":
            other.append(FitLine(what=f"weights: {label} (runs on its own)", bytes=w.bytes, how=f"{w.source}: {w.detail}"))
        elif w.role in ("text_encoder", "clip_vision"):
            cond.append(FitLine(what=f"weights: {label}", bytes=w.bytes, how=f"{w.source}: {w.detail}"))
        elif w.role == "vae":
            vae_lines.append(FitLine(what=f"weights: {label}", bytes=w.bytes, how=f"{w.source}: {w.detail}"))
        elif w.role == "controlnet":
            sampling_extra.append(FitLine(what=f"weights: {label} (resident with the diffusion model)",
                                          bytes=w.bytes, how=f"{w.source}: {w.detail}"))
        elif w.role == "upscale":
            upscale.append(FitLine(what=f"weights: {label}", bytes=w.bytes, how=f"{w.source}: {w.detail}"))
        else:
            loras.append(w)

    return b


def build_stages(b: _Buckets, family: Family, s: Settings, tiled: bool, notes: list[str]) -> tuple[list[StageNeed], int]:
    """The stages in run order with their lines, and the sampling working set (bytes, batch ×1)."""
    diffusion, cond, vae_lines, sampling_extra = b.diffusion, b.cond, b.vae, b.sampling_extra
    upscale, other, loras = b.upscale, b.other, b.loras
    stages: list[StageNeed] = []
    reserve = FitLine(what="ComfyUI's minimum inference reserve", bytes=MIN_INFERENCE_BYTES,
                      how="model_management.minimum_inference_memory(): 0.8 GiB + 400 MiB reserved")
    if cond:
        wb = sum(line.bytes for line in cond)
        stages.append(StageNeed(stage="conditioning", bytes=wb + MIN_INFERENCE_BYTES, weights_bytes=wb,
                                lines=[*cond, reserve]))
    one, two, how = working_set(family, s)
    main_w, main_bytes = max(diffusion, key=lambda d: d[1]) if diffusion else (None, 0)
    if main_w is not None:
        lines = [FitLine(what=f"weights: {main_w.filename} ({main_w.class_type}, node {main_w.node_id})",
                         bytes=main_bytes, how=f"{main_w.source}: {main_w.detail}")]
        if len(diffusion) > 1:
            notes.append(f"{len(diffusion)} diffusion models: ComfyUI samples with one at a time "
                         "(the largest is counted; the others wait in RAM)")
        lines += sampling_extra
        lines.append(FitLine(what="sampling working set", bytes=one, how=how + f"; {_gb(two)} if cond and uncond batch together"))
        lines.append(reserve)
        wb = main_bytes + sum(x.bytes for x in sampling_extra)
        stages.append(StageNeed(stage="sampling", bytes=wb + one + MIN_INFERENCE_BYTES, weights_bytes=wb, lines=lines))
        if loras:
            notes.append(f"{len(loras)} LoRA file(s) ({_gb(sum(x.bytes for x in loras))}) are merged into the model's "
                         "weights when it loads: no extra VRAM when fully loaded (they stream with it when offloaded)")
    if vae_lines:
        dec, dhow = decode_bytes(family, s, tiled)
        wb = sum(x.bytes for x in vae_lines)
        stages.append(StageNeed(stage="vae_decode", bytes=wb + dec + MIN_INFERENCE_BYTES, weights_bytes=wb, adaptive=True,
                                lines=[*vae_lines, FitLine(what="VAE decode buffer" + (" (tiled)" if tiled else ""),
                                                           bytes=dec, how=dhow), reserve]))
    if other:
        wb = sum(x.bytes for x in other)
        stages.append(StageNeed(stage="other", bytes=wb + MIN_INFERENCE_BYTES, weights_bytes=wb, lines=[*other, reserve]))
    if upscale:
        wb = sum(x.bytes for x in upscale)
        stages.append(StageNeed(stage="upscale", bytes=wb + MIN_INFERENCE_BYTES, weights_bytes=wb, lines=[*upscale, reserve]))
    return stages, one


def estimate(path: str, graph: Graph, refs: list[ModelRef], schemas: Any, src: FitSources,
             vram: int | None, vram_source: str, extra_notes: list[str] | None = None) -> FitReport:
    """Stage needs, peak and verdict for one loaded workflow (``refs`` from the inspector)."""
    notes = list(extra_notes or [])
    active = [r for r in refs if r.active and r.source != "embedding"]
    # One entry per (node, file): properties and widgets may both name a file.
    seen: set[tuple[str, str]] = set()
    refs = [r for r in active if (r.node_id, r.filename) not in seen and not seen.add((r.node_id, r.filename))]  # type: ignore[func-returns-value]
    s = read_settings(graph, schemas)
    refs = [r for r in refs if r.filename.lower() not in _NOT_FILES]
    family = detect_family(refs, s)
    report = FitReport(path=path, status="OK", vram_bytes=vram, vram_source=vram_source)
    if not refs:
        report.summary = "the workflow loads no model files: nothing to size"
        report.notes = notes
        return report
    known_family = family is not None
    if family is None:  # upscalers, depth/geometry models, LLM text generation: no diffusion model
        family = BY_KEY["sdxl"]
        report.status = "UNCERTAIN"
    rejected = s.rejected
    if not s.width and not known_family:
        s = Settings(1024, 1024, 1, 1, "")
    elif not s.width:
        s = Settings(family.default_resolution[0], family.default_resolution[1], family.default_frames, 1, "")
        notes.append(("no latent size in the workflow (image input?)" if not rejected else
                      f"{rejected}, outside what fit sizes (16–16384 px, batch 1–256)")
                     + f": assumed {s.width}×{s.height}"
                     f"{f', {s.frames} frames' if s.frames > 1 else ''}, the {family.label} default")
        report.status = "UNCERTAIN"
    elif rejected:
        notes.append(f"{rejected}, outside what fit sizes (16–16384 px, batch 1–256): not used")
    if family.temporal == "none" and s.frames > 1:
        s.frames = 1
    tiled = any(n.active and "VAEDecodeTiled" in n.class_type for n in graph.nodes.values())
    note_sizes: dict[str, int] = {}
    for text in note_texts(graph.nodes.values()):
        for k, v in sizes_in_text(text, binary=True).items():
            note_sizes.setdefault(k, v)
    weights = [cast_at_load(weigh(r, role_of(r), family, src, note_sizes), graph) for r in refs]
    if any(w.source == "default" for w in weights):
        report.status = "UNCERTAIN"
    for w in weights:
        if w.detail.startswith("the file here is damaged"):
            notes.append(f"{w.local_path} is damaged (its header cannot be read), and ComfyUI cannot load it "
                         "either: delete it and download it again")

    stages, one = build_stages(sort_weights(weights, family), family, s, tiled, notes)
    if not stages:  # only LoRAs: nothing is loaded on its own
        report.summary = "the workflow loads only LoRA files: nothing to size without their model"
        report.notes = notes
        return report

    # VAE decode adapts: ComfyUI splits the batch to the memory it finds and retries tiled on
    # out-of-memory, so its reservation (an over-estimate by ComfyUI's own comment) never blocks a run.
    peak = max((st for st in stages if not st.adaptive), key=lambda st: st.bytes, default=stages[0])
    all_weights = sum(st.weights_bytes for st in stages)
    named = any(family_for_name(r.filename) is not None for r in refs if role_of(r) in ("diffusion", "checkpoint"))
    if known_family and not named:
        report.family, report.family_label = family.key, f"{family.label} (assumed: no family matches the model's name)"
        report.status = "UNCERTAIN"
        notes.append(f"the model's family is not in the table: {family.label}'s latent format and memory factor "
                     "were used for the working set (the weights are the file's own)")
    elif known_family:
        report.family, report.family_label = family.key, family.label
    else:
        report.family_label = "no diffusion model"
    report.width, report.height, report.frames, report.batch, report.tiled_decode = s.width, s.height, s.frames, s.batch, tiled
    report.models, report.stages = weights, stages
    report.peak_bytes, report.peak_stage = peak.bytes, peak.stage
    report.all_resident_bytes = all_weights + one + MIN_INFERENCE_BYTES
    if s.where:
        notes.append(f"size {s.width}×{s.height}{f', {s.frames} frames' if s.frames > 1 else ''}, batch {s.batch} "
                     f"from {s.where}")
    _verdict(report, stages, vram, notes)
    report.notes = notes
    return report


def _verdict(report: FitReport, stages: list[StageNeed], vram: int | None, notes: list[str]) -> None:
    """Fits / fits with offloading (and at what slowdown) / does not fit, for ``vram`` bytes."""
    peak = report.peak_bytes
    if vram is None:
        report.verdict = "NO_GPU"
        report.status = "UNCERTAIN"
        report.summary = (f"needs {_gb(peak)} at its peak ({report.peak_stage}); no GPU VRAM known here "
                          "(CPU-only: everything runs from system RAM) — pass --vram to size for a GPU")
        return
    if peak <= vram:
        report.verdict = "FITS"
        swap = "" if report.all_resident_bytes <= vram else ", with ComfyUI swapping models between stages"
        report.summary = f"fits: peak {_gb(peak)} ({report.peak_stage}) of {_gb(vram)}{swap}"
        return
    # Which stages overflow, and can offloading save them? Only weights move to RAM.
    worst_slow, worst_off, flag, blocked = 1.0, 0, None, []
    for st in stages:
        if st.adaptive:
            if st.bytes > vram:
                notes.append(f"VAE decode: ComfyUI reserves {_gb(st.bytes - st.weights_bytes - MIN_INFERENCE_BYTES)} for "
                             f"{'one tile' if report.tiled_decode else 'a full decode'}; on {_gb(vram)} it decodes in "
                             f"{'smaller tiles (lower tile_size/temporal_size)' if report.tiled_decode else 'tiles (automatic retry on out-of-memory, or use VAE Decode (Tiled))'}, slower")
            continue
        if st.bytes <= vram:
            continue
        fixed = st.bytes - st.weights_bytes
        if fixed > vram:
            blocked.append(st)
            continue
        resident = vram - fixed
        off = st.weights_bytes - resident
        if st.stage == "sampling":
            frac = off / st.weights_bytes if st.weights_bytes else 0.0
            worst_slow = max(worst_slow, 1 + STREAMING_PENALTY * frac)
            worst_off = max(worst_off, off)
            flag = "--novram" if resident < NOVRAM_RESIDENT_FRACTION * st.weights_bytes else "--lowvram"
        elif st.stage == "conditioning":
            notes.append("the text encoders exceed VRAM: ComfyUI loads them partially, or runs them on the CPU "
                         "with --lowvram (slower prompt encoding)")
    if blocked:
        st = blocked[0]
        report.verdict = "DOES_NOT_FIT"
        report.summary = (f"does not fit: the {st.stage} stage needs {_gb(st.bytes - st.weights_bytes)} besides its "
                          f"weights, more than {_gb(vram)} even with every weight offloaded — lower the resolution"
                          f"{', frame count' if report.frames > 1 else ''} or batch"
                          )
        return
    report.verdict = "FITS_OFFLOAD"
    report.offloaded_bytes, report.slowdown, report.flag = worst_off, round(worst_slow, 1), flag
    if worst_off:
        report.summary = (f"fits with ComfyUI's offloading: peak {_gb(peak)} ({report.peak_stage}) on {_gb(vram)}; "
                          f"{_gb(worst_off)} of weights stream from system RAM each step (automatic partial loading; "
                          f"{flag} forces it), about ×{report.slowdown:.1f} slower sampling")
    else:
        report.summary = (f"fits with ComfyUI's offloading: peak {_gb(peak)} ({report.peak_stage}) on {_gb(vram)}; "
                          "sampling fits, other stages load their models partially")
