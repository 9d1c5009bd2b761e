"""Model families from file names and node classes, and the precision a file name says.

The table is data: one row per family with the patterns that name it and the page that documents
its files (most rows cite the Comfy-Org repackaged repositories, whose names the official templates
use). Rows are tried in order, so a more specific family (FLUX.1 schnell, Wan) comes before a
broader one (FLUX.1, SDXL). Node classes only a family uses (``WanImageToVideo``, ``LTXV…``) name it
when no file does — a workflow whose loader takes its file from a primitive still gets a family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from comfyfixer.tools import precision


@dataclass(frozen=True)
class Family:
    """One model family: ``id`` (the key of the knowledge pack's ranges table), a display ``label``,
    the ``medium`` it makes, file-name ``patterns``, node-class ``classes`` patterns, and a ``source``."""

    id: str
    label: str
    medium: str
    patterns: str
    classes: str = ""
    source: str = ""

    def matches_file(self, name: str) -> bool:
        """Whether a (lower-cased) file name is this family's."""
        return bool(re.search(self.patterns, name))

    def matches_class(self, class_type: str) -> bool:
        """Whether a node class is one only this family uses."""
        return bool(self.classes) and bool(re.search(self.classes, class_type))


_HF = "https://huggingface.co/"
_TPL = "https://github.com/Comfy-Org/workflow_templates"
FAMILIES: tuple[Family, ...] = (
    # Models built on another family's files come first, so their own name wins.
    Family("krea2", "Krea 2", "image", r"krea2", "", _TPL),
    Family("fibo", "FIBO", "image", r"fibo", "", _TPL),
    Family("lens", "Lens", "image", r"(^|_)lens[-_]", "", _TPL),
    Family("joyai-image", "JoyAI Image", "image", r"joyai", "", _TPL),
    Family("firered", "FireRed Image Edit", "image", r"firered", "", _TPL),
    Family("marigold", "Marigold", "image", r"marigold", r"Marigold", _TPL),
    Family("ideogram", "Ideogram", "image", r"ideogram\d", "", _TPL),
    Family("bernini", "Bernini-R", "video", r"bernini", "", _TPL),
    Family("scail", "SCAIL", "video", r"scail", "", _TPL),
    Family("pid", "PiD latent upscaler", "image", r"(^|_)pid_", "", _TPL),
    Family("lotus", "Lotus (SD 1.5 based)", "image", r"lotus", "", _TPL),
    Family("causal-forcing", "Causal Forcing (Wan based)", "video", r"causal[-_]forcing", "", _TPL),
    Family("triposplat", "TripoSplat", "3d", r"triposplat", "", _TPL),
    Family("flux1-schnell", "FLUX.1 [schnell]", "image", r"flux1?[-_.]?schnell", "",
           _HF + "black-forest-labs/FLUX.1-schnell"),
    Family("flux2", "FLUX.2", "image", r"flux[-_.]?2|flux[-_.]?3", r"^Flux2|EmptyFlux2",
           _HF + "Comfy-Org/flux2-dev"),
    Family("chroma", "Chroma", "image", r"chroma", "", _HF + "lodestones/Chroma1-HD"),
    Family("flux1", "FLUX.1", "image", r"flux|kontext", r"^FluxGuidance$|FluxKontext|^FluxDisableGuidance$",
           _HF + "black-forest-labs/FLUX.1-dev"),
    Family("sd3", "Stable Diffusion 3.x", "image", r"sd3|sd_3|stable[-_]diffusion[-_]3", r"^TripleCLIPLoader$",
           _HF + "stabilityai/stable-diffusion-3.5-large"),
    Family("qwen-image", "Qwen-Image", "image", r"qwen[-_]?image", r"QwenImage", _HF + "Comfy-Org/Qwen-Image_ComfyUI"),
    Family("hidream", "HiDream", "image", r"hidream", r"HiDream", _HF + "Comfy-Org/HiDream-I1_ComfyUI"),
    Family("z-image", "Z-Image", "image", r"z[-_]?image", r"ZImage", _HF + "Comfy-Org/z_image_turbo"),
    Family("lumina", "Lumina 2", "image", r"lumina|neta[-_]?yume|newbie", r"Lumina", _HF + "Comfy-Org/Lumina_Image_2.0_Repackaged"),
    Family("omnigen", "OmniGen2", "image", r"omnigen", r"OmniGen", _HF + "Comfy-Org/Omnigen2_ComfyUI_repackaged"),
    Family("hunyuan-image", "HunyuanImage", "image", r"hunyuan[-_]?image", r"HunyuanImage", _HF + "tencent/HunyuanImage-2.1"),
    Family("hunyuan3d", "Hunyuan3D", "3d", r"hunyuan[-_]?3d", r"Hunyuan3D", _HF + "tencent/Hunyuan3D-2.1"),
    Family("hunyuan-video", "HunyuanVideo", "video", r"hunyuan[-_]?video", r"HunyuanVideo|EmptyHunyuanLatentVideo",
           _HF + "Comfy-Org/HunyuanVideo_repackaged"),
    Family("wan", "Wan", "video", r"wan[-_.]?2|^wan[-_]|wan21|wan22|humo|chrono_edit", r"^Wan|WanVace|WanImageToVideo",
           _HF + "Comfy-Org/Wan_2.2_ComfyUI_Repackaged"),
    Family("ltx", "LTX-Video", "video", r"ltx", r"^LTXV|^LTXA", _HF + "Lightricks/LTX-Video"),
    Family("cosmos", "Cosmos", "video", r"cosmos", r"Cosmos", _HF + "Comfy-Org/Cosmos_Predict2_repackaged"),
    Family("mochi", "Mochi", "video", r"mochi", r"Mochi", _HF + "Comfy-Org/mochi_preview_repackaged"),
    Family("kandinsky", "Kandinsky 5", "video", r"kandinsky", r"Kandinsky", _HF + "kandinskylab"),
    Family("svd", "Stable Video Diffusion", "video", r"(^|[^a-z])svd", r"^SVD_img2vid", _HF + "stabilityai/stable-video-diffusion-img2vid-xt"),
    Family("ace-step", "ACE-Step", "audio", r"ace[-_]?step", r"AceStep|ACEStep", _HF + "Comfy-Org/ACE-Step_ComfyUI_repackaged"),
    Family("stable-audio", "Stable Audio", "audio", r"stable[-_]audio", r"StableAudio", _HF + "stabilityai/stable-audio-open-1.0"),
    # Newer families, tools and utility models, named as the official templates' files name them.
    Family("minimax-h3", "MiniMax H3", "video", r"minimax_h3|fasth3", "", _TPL),
    Family("minimax-music", "MiniMax Music", "audio", r"minimax_music", "", _TPL),
    Family("mage-flow", "Mage-Flow", "image", r"mage[-_]?flow", "", _TPL),
    Family("boogu", "Boogu Image", "image", r"boogu", "", _TPL),
    Family("pixeldit", "PixelDiT", "image", r"pixeldit", "", _TPL),
    Family("ovis-image", "Ovis-Image", "image", r"ovis[-_]?image", "", _TPL),
    Family("ming-image", "Ming Image", "image", r"ming[-_]image", "", _TPL),
    Family("longcat", "LongCat-Image", "image", r"longcat", "", _TPL),
    Family("ernie-image", "ERNIE-Image", "image", r"ernie[-_]?image", "", _TPL),
    Family("moss-image", "MOSS-Image", "image", r"moss[-_]?image", "", _TPL),
    Family("capybara", "Capybara", "image", r"capybara", "", _TPL),
    Family("anima", "Anima", "image", r"anima[-_](base|preview)", "", _TPL),
    Family("seedvr2", "SeedVR2", "video", r"seedvr", r"SeedVR", _TPL),
    Family("sam", "SAM (Segment Anything)", "image", r"(^|[^a-z])sam[-_ .]?\d|sam3d", r"SAM3|Sam3", _TPL),
    Family("moge", "MoGe", "3d", r"moge", r"MoGe", _TPL),
    Family("depth-anything", "Depth Anything", "image", r"depth[-_]?anything|\bda3", r"DepthAnything", _TPL),
    Family("birefnet", "BiRefNet", "image", r"birefnet", r"BiRefNet", _TPL),
    Family("sdpose", "SDPose", "image", r"sdpose", r"SDPose", _TPL),
    Family("esrgan", "ESRGAN upscaler", "image", r"esrgan|ultrasharp|4x[-_]|2x[-_]|nmkd|siax|remacri", "", _TPL),
    Family("frame-interpolation", "RIFE/FILM interpolation", "video", r"rife|film_net|\bfilm", r"RIFE|FILM", _TPL),
    Family("void", "VOID video inpainting", "video", r"void_pass", "", _TPL),
    Family("yue", "YuE", "audio", r"yue\d?", "", _TPL),
    Family("pixal3d", "Pixal3D", "3d", r"pixal3d", "", _TPL),
    Family("trellis", "TRELLIS", "3d", r"trellis", r"Trellis", _TPL),
    Family("qwen-llm", "Qwen (LLM)", "text", r"qwen3|qwen_3|qwen2\.5[-_]vl|qwen[-_]?vl", "", _TPL),
    Family("gemma", "Gemma (LLM)", "text", r"gemma", "", _TPL),
    Family("stable-cascade", "Stable Cascade", "image", r"stable[-_]?cascade|(^|/)sc_?canny|wuerstchen", r"StableCascade",
           _HF + "stabilityai/stable-cascade"),
    Family("kolors", "Kolors", "image", r"kolors", r"Kolors", _HF + "Kwai-Kolors/Kolors"),
    # SD 1.5 and SDXL community checkpoints rarely say so: popular names, the folders users sort them
    # into (SD1_5/, SDXL/) and the companion files (VAEs, ControlNets, embeddings) only they use.
    Family("sdxl", "SDXL", "image",
           r"sdxl|sd_xl|[-_]xl[-_.]|xl[-_]?v?\d|(^|/)xl/|pony|illustrious|noob|animagine|juggernaut|playground-v2|cosxl|"
           r"realvisxl|dreamshaperxl|zavychroma|copax|proteus|turbovision",
           r"^CLIPTextEncodeSDXL", _HF + "stabilityai/stable-diffusion-xl-base-1.0"),
    Family("sd15", "Stable Diffusion 1.5", "image",
           r"v1-5|sd15|sd_?1[._]5|sd-v1|v1-4|dreamshaper_[1-8]\b|realistic_?vision|deliberate|512-inpainting|anything-?v|"
           r"vae-ft-mse|easynegative|control_v11|control_sd15|icbinp|dalcefo|majicmix|chilloutmix|revanimated|meinamix|"
           r"counterfeit|abyssorange|cyberrealistic|epicrealism|absolutereality|aniverse|toonyou",
           "", _HF + "Comfy-Org/stable-diffusion-v1-5-archive"),
)
BY_ID = {f.id: f for f in FAMILIES}
# Helper models (segmentation, depth, pose, upscalers): the family only when nothing else is loaded.
UTILITY = frozenset({"sam", "moge", "depth-anything", "birefnet", "sdpose", "esrgan", "frame-interpolation",
                     "marigold", "lotus", "qwen-llm", "gemma"})

GGUF_UNNAMED_BITS = 5.0  # bits per weight of a GGUF file whose name says no type (review's rough figure)
# Speed LoRAs and distilled checkpoints: fewer steps and CFG 1 are intended with them.
SPEED_HINT = re.compile(r"lightning|lightx2v|hyper[-_]?sd|\blcm|lcm[-_]|turbo|distill|causvid|schnell|fast|[-_]\d+steps?|\d+step")


def precision_of(filename: str) -> str | None:
    """The precision a model file name says (``fp8``, ``fp16``, ``GGUF`` …), or ``None``.

    Every GGUF file and every GGUF quantisation tag reads ``GGUF``; other tags their label in
    ``tools/precision.py``'s table (``fp8_e4m3fn`` → ``fp8``).
    """
    if precision.base_name(filename).endswith(".gguf"):
        return "GGUF"
    found = precision.find_tag(filename)
    if found is None:
        return None
    return "GGUF" if found.tag.quant else found.tag.label


def weight_bits(filename: str) -> float | None:
    """Bits per weight the name states (``fp16`` 16, ``Q8_0`` 8.5), for a rough size ratio between two
    files; a GGUF file that names no type counts as 5 (the Q4_K–Q5_K files most people pick)."""
    bits = precision.bits_per_param(filename)
    if bits is None and precision.base_name(filename).endswith(".gguf"):
        return GGUF_UNNAMED_BITS
    return bits


def family_of_file(filename: str) -> Family | None:
    """The family a model file name names (its sub-folders count: users sort models by family), or ``None``."""
    name = filename.lower().replace("\\", "/")
    return next((f for f in FAMILIES if f.matches_file(name)), None)


def family_of_class(class_type: str) -> Family | None:
    """The family a node class belongs to, when only one family uses it."""
    return next((f for f in FAMILIES if f.matches_class(class_type)), None)


def is_speed_file(filename: str) -> bool:
    """Whether a file name says it is a speed LoRA or a distilled model (few steps, CFG 1)."""
    return bool(SPEED_HINT.search(filename.lower().rsplit("/", 1)[-1]))
