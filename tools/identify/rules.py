"""The identification rules as data: which tensor names and shapes mark which model family and role.

Each row names its source. The decision table follows ComfyUI 0.3.64's own loaders, read in
``../shared/comfyui-src`` and rewritten here as data rather than code:

* ``comfy/model_detection.py::detect_unet_config`` — one marker tensor per diffusion architecture
  (MMDiT ``joint_blocks``, Flux ``double_blocks…key_norm``, Wan ``head.modulation``, …) and, for the
  SD U-Nets, the cross-attention width (768 SD 1.x, 1024 SD 2.x, 2048 SDXL);
* ``comfy/model_detection.py::unet_prefix_from_state_dict`` and ``comfy/supported_models.py`` — the
  ``model.diffusion_model.`` prefix of single-file checkpoints and their ``first_stage_model.`` /
  ``vae.`` (VAE) and ``cond_stage_model.`` / ``conditioner.`` / ``text_encoders.`` (text encoder) parts;
* ``comfy/sd.py::VAE.__init__`` and ``detect_te_model`` — VAE and text-encoder markers;
* ``comfy/controlnet.py::load_controlnet_state_dict`` — ControlNet markers;
* ``comfy/lora.py`` and ``comfy/weight_adapter/`` — LoRA/LyCORIS key suffixes (``lora_up/down``,
  ``lora_A/B``, ``hada_w1_a``, ``lokr_w1``) and the kohya ``lora_unet_…``/``lora_te…_`` names.

LoRA base-model metadata comes from the trainers that write it: kohya-ss/sd-scripts
(``ss_base_model_version``: ``sd_v1``, ``sd_v2``, ``sdxl_base_v1-0``, ``flux1``, ``sd3``…; musubi-tuner
writes ``hunyuan_video``, ``wan2.1``…) and the Stability AI ``modelspec.architecture`` key
(``stable-diffusion-xl-v1-base/lora``, ``flux-1-dev/lora``…). Civitai's ``baseModel`` labels are
those of its public API (``../shared/data/api/civitai``).

Shapes are PyTorch order (out, in, …). A rule's ``shape`` test is ``(tensor, axis, allowed values)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- families --------------------------------------------------------------------------------------
# id → display label. The ids are the names the knowledge pack and `workflows-for` use.
FAMILIES: dict[str, str] = {
    "sd15": "Stable Diffusion 1.x",
    "sd2": "Stable Diffusion 2.x",
    "sdxl": "Stable Diffusion XL",
    "sd3": "Stable Diffusion 3",
    "sd35": "Stable Diffusion 3.5",
    "flux": "FLUX.1",
    "flux2": "FLUX.2 (not compatible with FLUX.1 files)",
    "chroma": "Chroma (Flux-derived)",
    "wan": "Wan video",
    "hunyuan_video": "HunyuanVideo",
    "hunyuan_video15": "HunyuanVideo 1.5",
    "hunyuan_image": "HunyuanImage",
    "ltxv": "LTX-Video",
    "ltx2": "LTX-2 (not compatible with LTX-Video 0.9 files)",
    "qwen_image": "Qwen-Image",
    "hidream": "HiDream-I1",
    "lumina2": "Lumina 2 / Z-Image",
}

ROLES = ("checkpoint", "diffusion_model", "lora", "lycoris", "text_encoder", "vae", "controlnet", "upscaler",
         "clip_vision", "unknown")

# Where ComfyUI loads each role from (the folder key of folder_paths).
ROLE_FOLDER = {
    "checkpoint": "checkpoints", "diffusion_model": "diffusion_models", "lora": "loras", "lycoris": "loras",
    "text_encoder": "text_encoders", "vae": "vae", "controlnet": "controlnet", "upscaler": "upscale_models",
    "clip_vision": "clip_vision",
}
FOLDER_ROLE = {**{v: k for k, v in ROLE_FOLDER.items() if k != "lycoris"}, "unet": "diffusion_model", "clip": "text_encoder"}


@dataclass(frozen=True)
class Variant:
    """A refinement of a family rule: when ``present`` tensors exist (and ``shape`` holds) the model is
    ``label``, and ``family`` overrides the rule's family when set."""

    label: str
    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    shape: tuple[str, int, tuple[int, ...]] | None = None
    family: str | None = None


@dataclass(frozen=True)
class FamilyRule:
    """A diffusion architecture, recognised by ``marker`` (relative to the model's key prefix) plus
    ``also`` and the absence of ``unless``."""

    family: str
    marker: str
    source: str
    also: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = field(default_factory=tuple)


# Prefixes a diffusion model's keys carry: single-file checkpoints, some repacks, bare files.
DIFFUSION_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "model.", "")

_MD = "comfy/model_detection.py::detect_unet_config"
DIT_RULES: tuple[FamilyRule, ...] = (
    FamilyRule("sd35", "joint_blocks.0.context_block.attn.qkv.weight", f"{_MD} (MMDiT)", variants=(
        Variant("SD3.5 Large (38 blocks)", shape=("x_embedder.proj.weight", 0, (2432,))),
        Variant("SD3.5 Medium (MMDiT-X, 24 blocks)", present=("joint_blocks.0.x_block.attn2.qkv.weight",)),
        Variant("SD3 Medium (24 blocks)", shape=("x_embedder.proj.weight", 0, (1536,)), family="sd3"),
    )),
    FamilyRule("hunyuan_video", "txt_in.individual_token_refiner.blocks.0.norm1.weight", f"{_MD} (Hunyuan Video)",
               variants=(
        Variant("HunyuanImage (2-D patches)", shape=("img_in.proj.weight", 1, (64, 32)), family="hunyuan_image"),
        Variant("HunyuanVideo image-to-video (32 input channels)", shape=("img_in.proj.weight", 1, (32, 33))),
        Variant("HunyuanVideo text-to-video", shape=("img_in.proj.weight", 1, (16,))),
    )),
    FamilyRule("flux", "double_blocks.0.img_attn.norm.key_norm.scale", f"{_MD} (Flux, Chroma)",
               also=("img_in.weight",), variants=(
        Variant("Chroma", present=("distilled_guidance_layer.0.norms.0.scale",), family="chroma"),
        Variant("Chroma", present=("distilled_guidance_layer.norms.0.scale",), family="chroma"),
        Variant("FLUX.1 Fill/Redux-style inpainting model (384 input channels)", shape=("img_in.weight", 1, (384,))),
        Variant("FLUX.1 Depth/Canny control model (128 input channels)", shape=("img_in.weight", 1, (128,))),
        Variant("FLUX.1 dev / Kontext (guidance-distilled)", present=("guidance_in.in_layer.weight",)),
        Variant("FLUX.1 schnell (no guidance embedding)", absent=("guidance_in.in_layer.weight",)),
    )),
    FamilyRule("ltxv", "adaln_single.emb.timestep_embedder.linear_1.bias", f"{_MD} (Lightricks LTXV)",
               unless=("pos_embed.proj.bias",)),
    FamilyRule("wan", "head.modulation", f"{_MD} (Wan 2.1)", variants=(
        Variant("Wan VACE", present=("vace_patch_embedding.weight",)),
        Variant("Wan 2.2 TI2V 5B (48-channel latents)", shape=("patch_embedding.weight", 1, (48,))),
        Variant("Wan image-to-video 14B", shape=("patch_embedding.weight", 1, (36,))),
        Variant("Wan text-to-video 14B", shape=("head.modulation", 2, (5120,))),
        Variant("Wan text-to-video 1.3B", shape=("head.modulation", 2, (1536,))),
    )),
    FamilyRule("hidream", "caption_projection.0.linear.weight", f"{_MD} (HiDream)"),
    FamilyRule("qwen_image", "txt_norm.weight", f"{_MD} (Qwen Image)", also=("img_in.weight",)),
    FamilyRule("lumina2", "cap_embedder.1.weight", f"{_MD} (Lumina 2)"),
)

# SD U-Nets: the marker, then the cross-attention width decides SD 1.x / 2.x / SDXL.
UNET_MARKER = "input_blocks.0.0.weight"
UNET_CROSS_ATTN = re.compile(r"(?:input_blocks|middle_block|output_blocks)\.\d+\.\d+\.transformer_blocks\.0\.attn2\.to_k\.weight$")
CONTEXT_WIDTH_FAMILY = {768: "sd15", 1024: "sd2", 2048: "sdxl", 1280: "sdxl"}
UNET_SOURCE = f"{_MD} (U-Net: context_dim from attn2.to_k; label_emb for SDXL)"

# Parts of a single-file checkpoint besides the diffusion model (comfy/supported_models.py).
CHECKPOINT_VAE_PREFIXES = ("first_stage_model.", "vae.")
CHECKPOINT_TE_PREFIXES = ("cond_stage_model.", "conditioner.", "text_encoders.", "text_encoder.")


@dataclass(frozen=True)
class PartRule:
    """A standalone file that is not a diffusion model: ``role`` when ``marker`` is present (and
    ``shape`` holds); ``families`` are the families that use such a file."""

    role: str
    marker: str
    label: str
    source: str
    families: tuple[str, ...] = ()
    shape: tuple[str, int, tuple[int, ...]] | None = None
    also: tuple[str, ...] = ()


_SD = "comfy/sd.py"
# Order matters: the first row that matches wins (more specific rows first).
PART_RULES: tuple[PartRule, ...] = (
    # ControlNets carry U-Net-like blocks, so they are checked before the diffusion rules.
    PartRule("controlnet", "input_hint_block.0.weight", "ControlNet (SD U-Net style)",
             "comfy/controlnet.py (ldm format)", ("sd15", "sdxl")),
    PartRule("controlnet", "control_model.input_hint_block.0.weight", "ControlNet (SD U-Net style)",
             "comfy/controlnet.py (ldm format, prefixed)", ("sd15", "sdxl")),
    PartRule("controlnet", "controlnet_cond_embedding.conv_in.weight", "ControlNet (diffusers format)",
             "comfy/controlnet.py (diffusers format)", ("sd15", "sdxl")),
    PartRule("controlnet", "controlnet_x_embedder.weight", "ControlNet for a DiT (Flux/SD3 diffusers format)",
             "comfy/controlnet.py (controlnet_x_embedder)", ("flux", "sd35")),
    PartRule("controlnet", "controlnet_blocks.0.weight", "ControlNet for a DiT", "comfy/controlnet.py",
             ("flux", "sd35")),
    # VAEs (comfy/sd.py::VAE.__init__)
    PartRule("vae", "decoder.upsamples.0.upsamples.0.residual.2.weight", "Wan 2.2 VAE (48 channels)",
             f"{_SD}::VAE (Wan 2.2 VAE)", ("wan",)),
    PartRule("vae", "decoder.middle.0.residual.0.gamma", "Wan 2.1 VAE (16 channels; also Qwen-Image's VAE)",
             f"{_SD}::VAE (Wan 2.1 VAE)", ("wan", "qwen_image")),
    PartRule("vae", "decoder.up_blocks.0.res_blocks.0.conv1.conv.weight", "LTX-Video VAE",
             f"{_SD}::VAE (lightricks ltxv)", ("ltxv",)),
    PartRule("vae", "decoder.conv_in.conv.weight", "HunyuanVideo VAE (causal 3-D)", f"{_SD}::VAE (hunyuan video)",
             ("hunyuan_video",)),
    PartRule("vae", "decoder.conv_in.weight", "SD 1.x / SDXL VAE (4 latent channels)", f"{_SD}::VAE (z_channels 4)",
             ("sd15", "sdxl"), shape=("decoder.conv_in.weight", 1, (4,))),
    PartRule("vae", "decoder.conv_in.weight", "16-channel VAE (FLUX.1 / SD3 / HiDream)", f"{_SD}::VAE (z_channels 16)",
             ("flux", "sd35", "hidream"), shape=("decoder.conv_in.weight", 1, (16,))),
    PartRule("vae", "decoder.conv_in.weight", "HunyuanImage VAE", f"{_SD}::VAE (z_channels 32/64)",
             ("hunyuan_image",), shape=("decoder.conv_in.weight", 1, (32, 64))),
    PartRule("vae", "decoder.up_blocks.0.resnets.0.norm1.weight", "VAE (diffusers format)", f"{_SD}::VAE (diffusers)"),
    PartRule("vae", "taesd_decoder.1.weight", "TAESD preview VAE", f"{_SD}::VAE (taesd)"),
    # Text encoders (comfy/sd.py::detect_te_model)
    PartRule("text_encoder", "text_model.encoder.layers.30.mlp.fc1.weight", "CLIP-G (OpenCLIP bigG)",
             f"{_SD}::detect_te_model (CLIP_G)", ("sdxl", "sd35", "hidream")),
    PartRule("text_encoder", "text_model.encoder.layers.22.mlp.fc1.weight", "CLIP-H", f"{_SD}::detect_te_model (CLIP_H)",
             ("sd2",)),
    PartRule("text_encoder", "text_model.encoder.layers.0.mlp.fc1.weight", "CLIP-L", f"{_SD}::detect_te_model (CLIP_L)",
             ("sd15", "flux", "sd35", "hidream", "hunyuan_video")),
    PartRule("text_encoder", "shared.weight", "UMT5-XXL (Wan's text encoder)",
             f"{_SD}::detect_te_model (T5 layout) + the 256,384-token UMT5 vocabulary", ("wan",),
             shape=("shared.weight", 0, (256384,))),
    PartRule("text_encoder", "encoder.block.23.layer.1.DenseReluDense.wi_1.weight", "T5-XXL",
             f"{_SD}::detect_te_model (T5_XXL)", ("flux", "sd35", "hidream", "ltxv"),
             shape=("encoder.block.23.layer.1.DenseReluDense.wi_1.weight", 1, (4096,))),
    PartRule("text_encoder", "encoder.block.0.layer.0.SelfAttention.k.weight", "T5 encoder",
             f"{_SD}::detect_te_model (T5)"),
    PartRule("text_encoder", "model.layers.0.self_attn.q_norm.weight", "Gemma 3", f"{_SD}::detect_te_model (GEMMA_3)",
             ("lumina2", "ltxv"), also=("model.layers.0.post_feedforward_layernorm.weight",)),
    PartRule("text_encoder", "model.layers.0.post_feedforward_layernorm.weight", "Gemma 2 2B",
             f"{_SD}::detect_te_model (GEMMA_2_2B)", ("lumina2",)),
    PartRule("text_encoder", "model.layers.0.self_attn.k_proj.bias", "Qwen2.5-VL 7B (Qwen-Image's text encoder)",
             f"{_SD}::detect_te_model (QWEN25_7B)", ("qwen_image",),
             shape=("model.layers.0.self_attn.k_proj.bias", 0, (512,))),
    PartRule("text_encoder", "model.layers.0.self_attn.k_proj.bias", "Qwen2.5 3B", f"{_SD}::detect_te_model (QWEN25_3B)",
             ("lumina2",), shape=("model.layers.0.self_attn.k_proj.bias", 0, (256,))),
    PartRule("text_encoder", "model.layers.0.post_attention_layernorm.weight", "Llama 3 8B (HiDream / HunyuanVideo)",
             f"{_SD}::detect_te_model (LLAMA3_8)", ("hidream", "hunyuan_video")),
    PartRule("clip_vision", "vision_model.encoder.layers.0.mlp.fc1.weight", "CLIP vision encoder",
             "comfy/clip_vision.py", ("wan", "sd15", "sdxl")),
    # Upscalers (the ESRGAN/SwinIR layouts spandrel loads for ComfyUI's UpscaleModelLoader)
    PartRule("upscaler", "conv_first.weight", "ESRGAN/Real-ESRGAN (RRDB)", "spandrel ESRGAN (new keys)",
             also=("body.0.rdb1.conv1.weight",)),
    PartRule("upscaler", "model.1.sub.0.RDB1.conv1.0.weight", "ESRGAN (RRDB, old keys)", "spandrel ESRGAN (old keys)",
             also=("model.0.weight",)),
    PartRule("upscaler", "conv_first.weight", "SwinIR/HAT", "spandrel SwinIR",
             also=("layers.0.residual_group.blocks.0.norm1.weight",)),
    PartRule("upscaler", "body.0.weight", "Real-ESRGAN compact (SRVGGNet)", "spandrel SRVGGNetCompact",
             also=("body.1.weight", "body.2.weight")),
)

# --- LoRA / LyCORIS ---------------------------------------------------------------------------------
LORA_SUFFIXES = (".lora_down.weight", ".lora_up.weight", ".lora_A.weight", ".lora_B.weight", ".lora.down.weight",
                 ".lora.up.weight", ".lora_mid.weight")
LYCORIS_SUFFIXES = (".hada_w1_a", ".hada_w1_b", ".hada_w2_a", ".lokr_w1", ".lokr_w2", ".lokr_w1_a", ".lokr_w2_a",
                    ".oft_blocks", ".oft_diag")
LORA_SOURCE = "comfy/lora.py, comfy/weight_adapter/ (lora, loha, lokr, oft)"

# (pattern in the lower-cased metadata value, family), first match wins.
KOHYA_BASE_VERSION: tuple[tuple[str, str], ...] = (
    ("sdxl", "sdxl"), ("sd_v1", "sd15"), ("sd_v2", "sd2"), ("sd3.5", "sd35"), ("sd35", "sd35"), ("sd3", "sd3"),
    ("flux", "flux"), ("chroma", "chroma"), ("hunyuan_video", "hunyuan_video"), ("hunyuan-video", "hunyuan_video"),
    ("wan", "wan"), ("qwen_image", "qwen_image"), ("qwen-image", "qwen_image"), ("hidream", "hidream"),
    ("ltx", "ltxv"), ("lumina", "lumina2"),
)
MODELSPEC_ARCH: tuple[tuple[str, str], ...] = (
    ("stable-diffusion-xl", "sdxl"), ("stable-diffusion-v1", "sd15"), ("stable-diffusion-v2", "sd2"),
    ("stable-diffusion-3.5", "sd35"), ("stable-diffusion-3", "sd3"), ("flux", "flux"), ("chroma", "chroma"),
    ("hunyuan-video", "hunyuan_video"), ("wan", "wan"), ("qwen-image", "qwen_image"), ("hidream", "hidream"),
    ("ltx", "ltxv"), ("lumina", "lumina2"),
)
LORA_METADATA_KEYS = ("ss_base_model_version", "modelspec.architecture")

# Module-name signatures in LoRA keys, after lower-casing and turning dots into underscores. Each
# names modules only one family has (Flux and HunyuanVideo share `double_blocks_N_img_attn_qkv`, so
# neither uses it; their MLP and modulation names differ).
LORA_SIGNATURES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("flux", re.compile(r"double_blocks_\d+_img_mlp_[02](_|$)|img_mod_lin(_|$)|single_transformer_blocks_\d+"),
     "Flux double/single blocks (img_mlp.0, img_mod.lin; diffusers single_transformer_blocks)"),
    ("hunyuan_video", re.compile(r"double_blocks_\d+_img_mlp_fc[12]|img_mod_linear|individual_token_refiner"),
     "HunyuanVideo double blocks (img_mlp.fc1, img_mod.linear)"),
    ("wan", re.compile(r"(^|_)blocks_\d+_(cross_attn|self_attn)_[qkvo](_|$)"), "Wan blocks (self_attn/cross_attn q,k,v,o)"),
    ("qwen_image", re.compile(r"transformer_blocks_\d+_(img_mlp|txt_mlp|img_mod|txt_mod)"),
     "Qwen-Image transformer blocks (img_mlp/txt_mlp)"),
    ("hidream", re.compile(r"(double|single)_stream_blocks_\d+"), "HiDream double/single stream blocks"),
    ("sd35", re.compile(r"joint_blocks_\d+_(x_block|context_block)"), "MMDiT joint blocks"),
    ("ltxv", re.compile(r"(^|diffusion_model_|transformer_|lora_unet_)transformer_blocks_\d+_attn[12]_to_[qkv]"),
     "LTX transformer blocks (attn1/attn2)"),
    ("sd_unet", re.compile(r"(down|up)_blocks_\d+_attentions_\d+|(input|output)_blocks_\d+_1_transformer_blocks|"
                           r"^lora_te[12]?_text_model|middle_block_1_transformer_blocks|mid_block_attentions"),
     "SD U-Net attention blocks / CLIP text-model layers"),
)
# The cross-attention key projection of an SD U-Net LoRA: its input width is the text context width.
LORA_CROSS_ATTN = re.compile(r"attn2[._]to_k[._](lora_down|lora_a|lora[._]down)[._]weight$", re.I)
# A family's hidden width, read off a LoRA's attention adapters ([rank, width]) → the model size the LoRA was
# trained for; a LoRA only loads on that size. Wan: Wan-Video/Wan2.1 and Wan2.2 configs (dim); SD3.5: ComfyUI's
# MMDiT (hidden size 64 × depth: Large 38 → 2432, Medium 24 → 1536).
LORA_SIZES: dict[str, tuple[re.Pattern[str], dict[int, str]]] = {
    "wan": (re.compile(r"blocks[._]\d+[._](self|cross)_attn[._][qkvo][._](lora_a|lora_down|lora[._]down)[._]weight$",
                       re.I), {1536: "Wan 1.3B", 5120: "Wan 14B", 3072: "Wan 2.2 TI2V 5B"}),
    "sd35": (re.compile(r"joint_blocks[._]\d+[._]x_block[._]attn[._]qkv[._](lora_a|lora_down|lora[._]down)[._]weight$",
                        re.I), {2432: "SD3.5 Large", 1536: "SD3.5 Medium"}),
}
CROSS_ATTN_MODULE = re.compile(r"attn2[._]to_k$", re.I)  # the module a LyCORIS factor (`….hada_w1_b`) belongs to

# --- GGUF -------------------------------------------------------------------------------------------
# general.architecture values of city96/ComfyUI-GGUF conversions (its IMG_ARCH_LIST / TXT_ARCH_LIST).
GGUF_ARCH: dict[str, tuple[str, str | None]] = {
    "flux": ("diffusion_model", "flux"), "sd1": ("diffusion_model", "sd15"), "sdxl": ("diffusion_model", "sdxl"),
    "sd3": ("diffusion_model", "sd35"), "hidream": ("diffusion_model", "hidream"), "ltxv": ("diffusion_model", "ltxv"),
    "hyvid": ("diffusion_model", "hunyuan_video"), "wan": ("diffusion_model", "wan"),
    "qwen_image": ("diffusion_model", "qwen_image"), "lumina2": ("diffusion_model", "lumina2"),
    "t5": ("text_encoder", None), "t5encoder": ("text_encoder", None), "llama": ("text_encoder", None),
    "qwen2vl": ("text_encoder", "qwen_image"), "gemma2": ("text_encoder", "lumina2"), "gemma3": ("text_encoder", None),
}
GGUF_SOURCE = "city96/ComfyUI-GGUF loader.py (IMG_ARCH_LIST, TXT_ARCH_LIST)"

# --- names ------------------------------------------------------------------------------------------
# Family from a file name, repository id or Civitai name/base model; first match wins (so the more
# specific names come first: "qwen_image" before anything, "sd3.5" before "sd3").
NAME_FAMILY: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.I), f) for p, f in (
    (r"hi-?dream", "hidream"),
    (r"qwen[-_ ]?image", "qwen_image"),
    (r"qwen[-_ ]?2[._]?5[-_ ]?vl", "qwen_image"),
    (r"hunyuan[-_ ]?image", "hunyuan_image"),
    (r"hunyuan[-_ ]?video[-_ ]?1[._]5", "hunyuan_video15"),
    (r"hunyuan[-_ ]?video|hunyuanvideo|hyvid|llava[-_]llama", "hunyuan_video"),
    (r"ltx[-_ ]?2", "ltx2"),
    (r"ltx", "ltxv"),
    (r"(^|[^a-z])wan([-_ ]?2|[-_ ]video|[-_]?\d|[-_ ]vae|[-_])|umt5", "wan"),
    (r"chroma", "chroma"),
    (r"flux[-_. ]?2", "flux2"),
    (r"flux", "flux"),
    (r"sd[-_ ]?3[._]5|sd35|stable[-_ ]diffusion[-_ ]3[._]5", "sd35"),
    (r"sd[-_ ]?3(\b|_|[^.\d])|stable[-_ ]diffusion[-_ ]3", "sd3"),
    (r"sdxl|sd[-_]xl|xl[-_]base|pony|illustrious|noob", "sdxl"),
    (r"sd[-_ ]?1[._]?[45]|v1-[45]|sd15|stable[-_ ]diffusion[-_ ]v?1", "sd15"),
    (r"sd[-_ ]?2[._]?[01]|v2-1|sd21", "sd2"),
    (r"lumina|z[-_ ]?image", "lumina2"),
))
NAME_ROLE: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.I), r) for p, r in (
    (r"lora|lycoris|locon|loha|lokr|lightning|lightx2v|(^|[-_])rank\d+([-_.]|$)", "lora"),
    (r"control[-_ ]?net|t2i[-_]adapter|controlnet", "controlnet"),
    (r"clip[-_ ]?vision|dino[-_]?v\d|siglip", "clip_vision"),
    (r"(^|[-_.])vae([-_.]|$)|vae[-_]|[-_]vae|ae\.safetensors$", "vae"),
    (r"esrgan|upscal|swinir|realesr|(^|[-_])[248]x[-_]|[-_]x[248]([-_.]|$)", "upscaler"),
    (r"t5xxl|t5[-_]?v1|umt5|(^|[-_])clip[-_]?[lgh]([-_.]|$)|qwen[-_ ]?2[._]?5[-_ ]?vl|llava|llama|gemma|"
     r"text[-_ ]?encoder|byt5|(^|[-_])t5([-_.]|$)|"
     r"qwen[-_]?(\d+([._]\d+)?([-_]?vl)?[-_])?\d+([._]\d+)?b([-_.]|$)|mistral|ministral|gpt[-_]oss|jina[-_]clip|"
     r"ovis[-_]?\d|prompt[-_]?(enhancer|upsampler)|ling[-_]mini", "text_encoder"),
))

# Helper models a workflow loads beside its generator: segmentation (Segment Anything 1/2/3: SAM 3.1 ships
# as a checkpoint that `CheckpointLoaderSimple` loads), object detectors and depth estimators (Lotus is
# loaded as a diffusion model to draw the depth map a depth LoRA or ControlNet reads). They are a workflow's main
# model only when it loads no other (`tools/identify/workflows.py::main_model`): in Wan SCAIL 2's
# character replacement template SAM 3.1 draws the mask and Wan 2.1 SCAIL 2 makes the video.
HELPER_MODEL_NAME = re.compile(r"(^|[^a-z])sam[-_]?[123]?(\.\d+)?([-_.]|$)|segment[-_]?anything|rt[-_]?detr|yolo|"
                               r"grounding[-_]?dino|(^|[^a-z])lotus[-_]|depth[-_]?anything|(^|[^a-z])midas", re.I)

# Civitai `type` → role.
CIVITAI_TYPE_ROLE = {
    "checkpoint": "checkpoint", "lora": "lora", "locon": "lycoris", "dora": "lora", "lycoris": "lycoris",
    "vae": "vae", "controlnet": "controlnet", "upscaler": "upscaler",
}
# Civitai `baseModel` → family, by prefix of the lower-cased label; first match wins.
CIVITAI_BASE: tuple[tuple[str, str], ...] = (
    ("sd 1", "sd15"), ("sd 2", "sd2"), ("sdxl", "sdxl"), ("pony", "sdxl"), ("illustrious", "sdxl"), ("noobai", "sdxl"),
    ("sd 3.5", "sd35"), ("sd 3", "sd3"), ("flux.2", "flux2"), ("flux", "flux"), ("chroma", "chroma"), ("wan video", "wan"),
    ("hunyuan video", "hunyuan_video"), ("ltxv", "ltxv"), ("qwen", "qwen_image"), ("hidream", "hidream"),
    ("lumina", "lumina2"), ("zimage", "lumina2"), ("z-image", "lumina2"),
)
