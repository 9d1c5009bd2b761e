"""Model families and the figures the VRAM estimate uses, as one data table with its sources.

Every figure below is ComfyUI's own where ComfyUI has one, read from its source (0.3.64, commit
a125cd84, in /work/shared/comfyui-src):

* ``memory_usage_factor``: ``comfy/supported_models.py`` (per model class; Wan and LTXV scale it by
  the transformer width, ``dim / 2222`` and ``cross_attention_dim / 2048``). ComfyUI's sampler sizes
  its working memory with it (``comfy/model_base.py::BaseModel.memory_required``:
  ``area × dtype_size × 0.01 × factor`` MiB, area = batch × the latent's non-channel dimensions);
* latent channels, spatial downscale and temporal compression: ``comfy/latent_formats.py`` and the
  VAE classes in ``comfy/sd.py`` (``downscale_ratio``, ``upscale_ratio``);
* VAE decode memory: ``comfy/sd.py::VAE.__init__`` ``memory_used_decode`` per VAE kind (bytes per
  latent element at dtype size 1, times the upscale area, times frames where the VAE decodes all
  frames at once). ComfyUI itself calls these "need tweaking (should be lower)": they are the
  figure it reserves, so they decide whether it unloads other models or falls back to tiling;
* ``MIN_INFERENCE_BYTES``: ``comfy/model_management.py::minimum_inference_memory`` (0.8 GiB plus
  the 400 MiB ``EXTRA_RESERVED_VRAM`` on Linux; 600 MiB on Windows).

Parameter counts for the family defaults (used only when neither the file, its size, nor a catalog
size is known) come from the model cards the knowledge pack cites (knowledge/model-family-*.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from comfyfixer.tools import precision

GiB = 1024**3
MiB = 1024**2
MIN_INFERENCE_BYTES = int(0.8 * GiB) + 400 * MiB
# Bytes one working-set element takes: ComfyUI computes in the model's compute dtype, bf16/fp16
# on every GPU the estimate is for (fp8 and GGUF weights are cast up for the matmuls).
COMPUTE_DTYPE_SIZE = 2
# The default tile of VAE Decode (Tiled) (comfy_extras/nodes_... VAEDecodeTiled: tile_size 512 px,
# temporal_size 64 frames): the decode working set then depends on the tile, not the output.
TILE_PX = 512
TILE_FRAMES = 64

Temporal = Literal["none", "4n+1", "8n+1"]


@dataclass(frozen=True)
class VaeKind:
    """How a VAE decodes: ComfyUI's ``memory_used_decode`` coefficient and what it multiplies."""

    name: str
    coefficient: float  # bytes per (latent element × upscale area) at dtype size 1
    upscale_area: int  # spatial upscale² (8×8 = 64, 16×16 = 256, 32×32 = 1024)
    per_frame: bool  # True: all latent frames decode together (the coefficient multiplies T)


VAE_KL = VaeKind("AutoencoderKL (SD, SDXL, SD3, FLUX)", 2178, 64, False)
VAE_WAN21 = VaeKind("Wan 2.1 VAE (also Qwen-Image)", 7000, 64, False)
VAE_WAN22 = VaeKind("Wan 2.2 VAE", 8000, 256, False)
VAE_HUNYUAN = VaeKind("HunyuanVideo VAE", 1500, 4 * 64, True)
VAE_LTXV = VaeKind("LTX-Video VAE", 900, 8 * 64, True)
VAE_KL32 = VaeKind("32× VAE (FLUX.2, Hunyuan Image 2.1)", 700, 32 * 32, False)


@dataclass(frozen=True)
class Family:
    """One model family: how to recognise it and the figures its estimate uses."""

    key: str
    label: str
    patterns: tuple[str, ...]  # regexes on the diffusion model's / checkpoint's file name (lower case)
    memory_usage_factor: float
    latent_channels: int
    downscale: int
    vae: VaeKind
    temporal: Temporal = "none"
    default_params_b: float = 2.0  # diffusion model parameters, billions (fallback only)
    default_resolution: tuple[int, int] = (1024, 1024)
    default_frames: int = 1
    sources: tuple[str, ...] = field(default=())


_SUPPORTED = "comfy/supported_models.py"
FAMILIES: tuple[Family, ...] = (
    Family("wan22_5b", "Wan 2.2 5B (TI2V, Fun 5B)", (r"wan2\.2_ti2v_5b", r"wan.*ti2v.*5b", r"wan2\.2_fun_\w*_5b"), 3072 / 2222, 48, 16, VAE_WAN22,
           "4n+1", 5.0, (1280, 704), 121, (_SUPPORTED + " WAN21_T2V dim/2222 (dim 3072)", "knowledge/model-family-wan.md",
                                    "Fun 5B (Control, InP) are 5B models on the Wan 2.2 VAE: the templates load wan2.2_vae")),
    Family("wan_1_3b", "Wan 2.1 1.3B", (r"wan.*1[._]3b",), 1536 / 2222, 16, 8, VAE_WAN21, "4n+1", 1.42, (832, 480), 81,
           (_SUPPORTED + " WAN21_T2V dim/2222 (dim 1536)", "knowledge/model-family-wan.md")),
    Family("wan_14b", "Wan 2.1/2.2 14B", (r"wan2?\.?[12].*14b", r"wan.*14b", r"wan2\.[12]", r"^wan"), 5120 / 2222, 16, 8,
           VAE_WAN21, "4n+1", 14.3, (832, 480), 81,
           (_SUPPORTED + " WAN21_T2V dim/2222 (dim 5120)", "knowledge/model-family-wan.md")),
    Family("hunyuan_video", "HunyuanVideo", (r"hunyuan_?video", r"hunyuanvideo"), 1.8, 16, 8, VAE_HUNYUAN, "4n+1", 12.8,
           (848, 480), 73, (_SUPPORTED + " HunyuanVideo", "knowledge/model-family-hunyuan-ltx.md")),
    Family("ltxv", "LTX-Video", (r"ltx",), 5.5, 128, 32, VAE_LTXV, "8n+1", 2.0, (768, 512), 97,
           (_SUPPORTED + " LTXV", "knowledge/model-family-hunyuan-ltx.md")),
    Family("qwen_image", "Qwen-Image", (r"qwen[_-]?image",), 1.8, 16, 8, VAE_WAN21, "none", 20.4, (1328, 1328), 1,
           (_SUPPORTED + " QwenImage", "knowledge/model-family-hidream-qwen-image.md")),
    Family("hidream", "HiDream-I1", (r"hidream",), 2.0, 16, 8, VAE_KL, "none", 17.0, (1024, 1024), 1,
           (_SUPPORTED + " HiDream (BASE default 2.0)", "knowledge/model-family-hidream-qwen-image.md")),
    Family("flux2", "FLUX.2", (r"flux[._-]?2",), 3.1, 128, 16, VAE_KL32, "none", 32.0, (1024, 1024), 1,
           (_SUPPORTED + " Flux2 (as Flux)", "knowledge/model-family-flux.md")),
    Family("chroma", "Chroma", (r"chroma",), 3.2, 16, 8, VAE_KL, "none", 8.9, (1024, 1024), 1,
           (_SUPPORTED + " Chroma",)),
    Family("flux", "FLUX.1", (r"flux", r"kontext"), 3.1, 16, 8, VAE_KL, "none", 11.9, (1024, 1024), 1,
           (_SUPPORTED + " Flux", "knowledge/model-family-flux.md")),
    Family("sd35_large", "SD 3.5 Large", (r"sd3\.?5.*large", r"sd3_5_large"), 1.2, 16, 8, VAE_KL, "none", 8.1,
           (1024, 1024), 1, (_SUPPORTED + " SD3", "knowledge/model-family-sd35.md")),
    Family("sd3", "SD 3 / 3.5 Medium", (r"sd3",), 1.2, 16, 8, VAE_KL, "none", 2.5, (1024, 1024), 1,
           (_SUPPORTED + " SD3", "knowledge/model-family-sd35.md")),
    Family("lumina2", "Lumina Image 2.0 / NetaYume", (r"lumina", r"neta"), 1.2, 16, 8, VAE_KL, "none", 2.6,
           (1024, 1024), 1, (_SUPPORTED + " Lumina2",)),
    Family("omnigen2", "OmniGen2", (r"omnigen",), 1.65, 16, 8, VAE_KL, "none", 4.0, (1024, 1024), 1,
           (_SUPPORTED + " Omnigen2",)),
    Family("hunyuan_image", "Hunyuan Image 2.1", (r"hunyuan_?image",), 7.7, 64, 32, VAE_KL32, "none", 17.0,
           (2048, 2048), 1, (_SUPPORTED + " HunyuanImage21",)),
    Family("cosmos", "Cosmos Predict2", (r"cosmos",), 0.9, 16, 8, VAE_WAN21, "none", 2.0, (1024, 1024), 1,
           (_SUPPORTED + " CosmosT2IPredict2",)),
    Family("ace_step", "ACE-Step (audio)", (r"ace_?step",), 0.5, 8, 8, VAE_KL, "none", 3.5, (1024, 1024), 1,
           (_SUPPORTED + " ACEStep (audio latent approximated as an image latent)",)),
    Family("sdxl", "SDXL / Pony / Illustrious", (r"sd_?xl", r"xl(?![a-z])", r"pony", r"illustrious", r"juggernaut", r"noob"),
           0.8, 4, 8, VAE_KL, "none", 2.57, (1024, 1024), 1, (_SUPPORTED + " SDXL", "knowledge/model-family-sd15-sdxl.md")),
    Family("sd15", "SD 1.5 / 2.x", (r"v1-5", r"sd15", r"sd_1", r"1\.5", r"v2-1", r"512"), 1.0, 4, 8, VAE_KL, "none",
           0.86, (512, 512), 1, (_SUPPORTED + " SD15", "knowledge/model-family-sd15-sdxl.md")),
)
BY_KEY = {f.key: f for f in FAMILIES}
_COMPILED = [(f, [re.compile(p) for p in f.patterns]) for f in FAMILIES]

# Empty-latent nodes that say which family a workflow samples with, when no file name does.
LATENT_NODE_FAMILY = {
    "EmptyHunyuanLatentVideo": "wan_14b",
    "EmptyMochiLatentVideo": "wan_14b",
    "EmptyLTXVLatentVideo": "ltxv",
    "Wan22ImageToVideoLatent": "wan22_5b",
    "EmptySD3LatentImage": "sd3",
    "EmptyLatentImage": "sdxl",
    "EmptyHunyuanImageLatent": "hunyuan_image",
    "EmptyFlux2LatentImage": "flux2",
    "EmptyQwenImageLayeredLatentImage": "qwen_image",
}


@lru_cache(maxsize=4096)  # a workflow names few files, each many times (50,000 loaders of 7 files)
def family_for_name(filename: str) -> Family | None:
    """The family a model file name points to (first match in table order: specific before broad)."""
    name = filename.lower().rsplit("/", 1)[-1]
    for fam, patterns in _COMPILED:
        if any(p.search(name) for p in patterns):
            return fam
    return None


def latent_frames(family: Family, frames: int) -> int:
    """Latent frames for ``frames`` output frames: ComfyUI's ``((frames - 1) // 4) + 1`` for Wan and
    HunyuanVideo (``EmptyHunyuanLatentVideo``), ``// 8`` for LTX-Video; 1 for image families."""
    if family.temporal == "4n+1":
        return (max(frames, 1) - 1) // 4 + 1
    if family.temporal == "8n+1":
        return (max(frames, 1) - 1) // 8 + 1
    return 1


_PARAMS_IN_NAME = re.compile(r"(?<![a-z0-9.])(\d+(?:[._]\d+)?)b(?![a-z])")


def bytes_per_param_from_name(filename: str) -> float | None:
    """Bytes per parameter a precision tag in the file name states (``fp8``, ``Q4_K_M``, ``bf16``), or None
    (the table and its reading rules: ``tools/precision.py``)."""
    return precision.bytes_per_param(filename)


def params_from_name(filename: str) -> float | None:
    """Billions of parameters a name states (``wan2.1_t2v_14B``, ``1.3B``, ``qwen_2.5_vl_7b``), or None."""
    found = _PARAMS_IN_NAME.findall(filename.lower().rsplit("/", 1)[-1])
    return float(found[-1].replace("_", ".")) if found else None
