"""Which model folder a loader input reads from.

ComfyUI's loaders fill their combo from ``folder_paths.get_filename_list(<folder>)``; the
folder is a property of the loader, not of the file name. ``CORE_LOADER_FOLDERS`` is that
fact for core loaders (from ComfyUI's ``nodes.py`` and ``comfy_extras``); for custom nodes we
fall back to a workflow's own ``properties.models[].directory``, then to the input's name.
The table is hand-kept: a new core loader needs a row here, or its models are found only by the
name heuristics.
"""

from __future__ import annotations

import re

from comfyfixer.tools.model_folders import MODEL_FILE_EXTENSIONS

_CLIP_N = {f"clip_name{i}": "text_encoders" for i in range(1, 5)}

CORE_LOADER_FOLDERS: dict[str, dict[str, str]] = {
    "CheckpointLoaderSimple": {"ckpt_name": "checkpoints"},
    "CheckpointLoader": {"ckpt_name": "checkpoints", "config_name": "configs"},
    "unCLIPCheckpointLoader": {"ckpt_name": "checkpoints"},
    "ImageOnlyCheckpointLoader": {"ckpt_name": "checkpoints"},
    "CreateHookModelAsLora": {"ckpt_name": "checkpoints"},
    "CreateHookModelAsLoraModelOnly": {"ckpt_name": "checkpoints"},
    "LoraLoader": {"lora_name": "loras"},
    "LoraLoaderModelOnly": {"lora_name": "loras"},
    "CreateHookLora": {"lora_name": "loras"},
    "CreateHookLoraModelOnly": {"lora_name": "loras"},
    "VAELoader": {"vae_name": "vae"},
    "UNETLoader": {"unet_name": "diffusion_models"},
    "CLIPLoader": {"clip_name": "text_encoders"},
    "DualCLIPLoader": {"clip_name1": "text_encoders", "clip_name2": "text_encoders"},
    "TripleCLIPLoader": {k: v for k, v in _CLIP_N.items() if k != "clip_name4"},
    "QuadrupleCLIPLoader": dict(_CLIP_N),
    "CLIPVisionLoader": {"clip_name": "clip_vision"},
    "ControlNetLoader": {"control_net_name": "controlnet"},
    "DiffControlNetLoader": {"control_net_name": "controlnet"},
    "StyleModelLoader": {"style_model_name": "style_models"},
    "GLIGENLoader": {"gligen_name": "gligen"},
    "HypernetworkLoader": {"hypernetwork_name": "hypernetworks"},
    "UpscaleModelLoader": {"model_name": "upscale_models"},
    "PhotoMakerLoader": {"photomaker_model_name": "photomaker"},
    "DiffusersLoader": {"model_path": "diffusers"},
    "ModelPatchLoader": {"name": "model_patches"},
    "AudioEncoderLoader": {"audio_encoder_name": "audio_encoders"},
    "LatentUpscaleModelLoader": {"model_name": "latent_upscale_models"},
    # Folder keys newer than 0.3.64 (folder_paths.py of ComfyUI 0.33.0 registers them; comfy_extras' loaders).
    "LoadBackgroundRemovalModel": {"bg_removal_name": "background_removal"},
    "FrameInterpolationModelLoader": {"model_name": "frame_interpolation"},
    "LoadMoGeModel": {"model_name": "geometry_estimation"},
    "LoadDA3Model": {"model_name": "geometry_estimation"},
    "OpticalFlowLoader": {"model_name": "optical_flow"},
    "LoadMediaPipeFaceLandmarker": {"model_name": "detection"},
    "SAM3DBody_Loader": {"model_file": "detection"},  # nodes_sam3d_body.py, newer than 0.33.0
}

# Input names that custom loaders commonly use, checked when nothing better is known.
_NAME_HINTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(ckpt|ckpt_name|checkpoint|checkpoint_name|base_ckpt_name|refiner_ckpt_name)$"), "checkpoints"),
    (re.compile(r"^(lora|lora_name|lora_\d+|lora_name_\d+|lora\d+_name)$"), "loras"),
    (re.compile(r"^(vae|vae_name)$"), "vae"),
    (re.compile(r"^(unet|unet_name|diffusion_model|model_name_unet)$"), "diffusion_models"),
    (re.compile(r"^(clip_vision|clip_vision_name)$"), "clip_vision"),
    (re.compile(r"^(clip|clip_name\d*|t5_name|text_encoder|text_encoder_name)$"), "text_encoders"),
    (re.compile(r"^(control_net|control_net_name|controlnet|controlnet_name|cnet)$"), "controlnet"),
    (re.compile(r"^(ipadapter|ipadapter_file|ipadapter_name)$"), "ipadapter"),
    (re.compile(r"^(upscale_model|upscale_model_name|upscaler)$"), "upscale_models"),
    (re.compile(r"^(style_model|style_model_name)$"), "style_models"),
]


def core_model_folder(class_type: str, input_name: str) -> str | None:
    """The folder a core loader input reads, or ``None`` if it is not a core model input."""
    return CORE_LOADER_FOLDERS.get(class_type, {}).get(input_name)


def pack_model_folder(class_type: str, input_name: str) -> str | None:
    """The folder a recorded custom-node pack's combo lists (``tools/schema/packs.py``), or ``None``."""
    from comfyfixer.tools.schema.packs import folder_listings

    return folder_listings().get(class_type, {}).get(input_name)


def guess_folder_from_input(class_type: str, input_name: str | None) -> str | None:
    """A best guess from the input's name (documented heuristic for custom loaders).

    Checked against ``_NAME_HINTS`` (``ckpt_name`` → checkpoints, ``lora_name`` → loras, …), with two
    class-name special cases (CLIP-vision loaders, upscale loaders' ``model_name``). None when nothing
    matches; the caller then reports the folder as unknown rather than guessing further.
    """
    if not input_name:
        return None
    name = input_name.lower()
    if "clipvision" in class_type.lower().replace("_", "") and name.startswith("clip"):
        return "clip_vision"
    if name == "model_name" and "upscale" in class_type.lower():
        return "upscale_models"
    for pattern, folder in _NAME_HINTS:
        if pattern.match(name):
            return folder
    return None


def looks_like_model_file(value: object) -> bool:
    """A string whose extension is a model format ComfyUI or a pack's loaders read (``MODEL_FILE_EXTENSIONS``;
    5 to 1023 characters, so a long prompt ending in ``.pt`` is not taken for a file name).
    """
    return isinstance(value, str) and 4 < len(value) < 1024 and value.lower().endswith(MODEL_FILE_EXTENSIONS)
