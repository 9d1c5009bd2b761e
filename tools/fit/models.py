"""Typed input and result of the ``estimate_fit`` capability."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from comfyfixer.tools.errors import InputError

Role = Literal["diffusion", "checkpoint", "text_encoder", "vae", "clip_vision", "lora", "controlnet", "upscale", "other"]
SizeSource = Literal["header", "file-size", "workflow-note", "catalog", "knowledge", "name", "default"]
Stage = Literal["conditioning", "sampling", "vae_decode", "upscale", "other"]
Verdict = Literal["FITS", "FITS_OFFLOAD", "DOES_NOT_FIT", "NO_GPU", "NO_MODELS"]
VRAM_RANGE_GB = (0.5, 1024.0)  # the VRAM sizes fit and tune accept: no GPU ComfyUI runs on is outside them


class FitInput(BaseModel):
    """Arguments of ``estimate_fit``."""

    path: str = Field(description="A ComfyUI workflow (UI or API JSON, or an image that embeds one).")
    vram_gb: float | None = Field(
        default=None, ge=VRAM_RANGE_GB[0], le=VRAM_RANGE_GB[1],
        description="VRAM to size against, in GB (GiB, as GPU makers print it: 8 for an 8 GB card). "
        "Default: this machine's GPU (or the running ComfyUI's device).")


class ModelWeight(BaseModel):
    """One model file the workflow loads and the weights it keeps resident."""

    filename: str = Field(description="As the workflow names it.")
    node_id: str = Field(description="The loader node.")
    class_type: str = Field(description="The loader class.")
    role: Role = Field(description="What ComfyUI does with it (decides the stage and whether it can be offloaded).")
    bytes: int = Field(description="Resident weight bytes.")
    source: SizeSource = Field(description="Where the size comes from, most trusted first: header … default.")
    detail: str = Field(description="How the size was worked out (parameters, dtype, the note that printed it).")
    parameters: int | None = Field(default=None, description="Parameter count, when the header gives it.")
    parts: dict[str, int] = Field(default_factory=dict, description="A checkpoint's bytes per part (diffusion, text_encoder, vae).")
    local_path: str | None = Field(default=None, description="Where the file was found, when it is here.")


class FitLine(BaseModel):
    """One line of a stage's explanation."""

    what: str = Field(description="Weights of a file, the working set, the VAE decode, ComfyUI's reserve ...")
    bytes: int = Field(description="Bytes this line adds.")
    how: str = Field(description="How it was computed.")


class StageNeed(BaseModel):
    """VRAM one stage of the run needs; ComfyUI can offload models between stages."""

    stage: Stage = Field(description="conditioning (text encoders, CLIP vision), sampling, vae_decode, upscale, other (models that run on their own).")
    bytes: int = Field(description="Total for the stage.")
    weights_bytes: int = Field(description="The part that is model weights (what offloading can move to RAM).")
    adaptive: bool = Field(default=False, description="ComfyUI adapts this stage to the memory it finds (VAE decode: smaller batches, tiles), so it never blocks.")
    lines: list[FitLine] = Field(default_factory=list, description="The explanation, line by line.")


class FitReport(BaseModel):
    """Whether a workflow fits a GPU, explained."""

    path: str = Field(description="The workflow.")
    status: Literal["OK", "UNCERTAIN"] = Field(description="UNCERTAIN when a size or the VRAM is a guess.")
    family: str | None = Field(default=None, description="Model family key (flux, wan_14b, sdxl ...).")
    family_label: str | None = Field(default=None, description="Model family as people name it.")
    width: int = Field(default=0, description="Output width in pixels.")
    height: int = Field(default=0, description="Output height in pixels.")
    frames: int = Field(default=1, description="Output frames (1 for images).")
    batch: int = Field(default=1, description="Batch size.")
    tiled_decode: bool = Field(default=False, description="The workflow decodes with VAE Decode (Tiled).")
    models: list[ModelWeight] = Field(default_factory=list, description="Every model file and its weights.")
    stages: list[StageNeed] = Field(default_factory=list, description="Need per stage.")
    peak_bytes: int = Field(default=0, description="The largest non-adaptive stage: what must fit when ComfyUI offloads between stages.")
    peak_stage: str | None = Field(default=None, description="Which stage that is.")
    all_resident_bytes: int = Field(default=0, description="Every model resident at once plus the largest working set (no swapping between stages).")
    vram_bytes: int | None = Field(default=None, description="VRAM sized against.")
    vram_source: str = Field(default="", description="Where that figure comes from (--vram, nvidia-smi, /system_stats ...).")
    verdict: Verdict = Field(default="NO_MODELS", description="FITS, FITS_OFFLOAD (ComfyUI streams weights), DOES_NOT_FIT, NO_GPU (no VRAM known), NO_MODELS.")
    offloaded_bytes: int = Field(default=0, description="Weights ComfyUI keeps in system RAM during sampling.")
    slowdown: float = Field(default=1.0, description="Estimated sampling time factor from weight streaming.")
    flag: str | None = Field(default=None, description="The ComfyUI flag that matches (--lowvram, --novram), if any.")
    summary: str = Field(default="", description="The answer in one sentence, with the numbers.")
    notes: list[str] = Field(default_factory=list, description="Assumptions and what could not be known.")


_VRAM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(g|gb|gib|m|mb|mib)?\s*$", re.I)


def parse_vram(text: str | None) -> float | None:
    """GB from "8", "8GB", "8 GiB", "12g" or "8192MB" (GPU makers' GB are GiB: an "8 GB" card has 8 GiB)."""
    if text is None:
        return None
    m = _VRAM.match(text)
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"--vram {text!r} is not a memory size", hint="write it like 8GB, 12, 24GiB or 6144MB")
    value = float(m.group(1))
    gb = value / 1024 if (m.group(2) or "g").lower().startswith("m") else value
    if not VRAM_RANGE_GB[0] <= gb <= VRAM_RANGE_GB[1]:  # "8MB" for "8GB": no GPU ComfyUI runs on has that
        raise InputError(f"--vram {text!r} is {gb:g} GB, outside what a GPU has",
                         hint=f"give {VRAM_RANGE_GB[0]:g} to {VRAM_RANGE_GB[1]:g} GB, like 8GB or 6144MB")
    return gb
