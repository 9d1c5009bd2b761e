"""ComfyUI's model folder table (folder_paths.py of ComfyUI 0.3.64), its legacy aliases and extensions.

A *folder key* (``checkpoints``, ``loras``, ``diffusion_models`` ...) names a list of directories that a
loader searches in order; the relative file name (sub-folders with ``/``) is what workflows store.
The table is a copy, not read from the install, because a static check must work without importing
ComfyUI; when a live server is available its own listings are used instead. Update it when ComfyUI
adds a folder key (newer keys under ``models/`` are still found, see ``models.scan_models``).
"""

from __future__ import annotations

import os
from pathlib import Path

# folder_paths.supported_pt_extensions
PT_EXTENSIONS: frozenset[str] = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"})

# Legacy names every lookup is mapped through (folder_paths.map_legacy).
FOLDER_ALIASES: dict[str, str] = {"unet": "diffusion_models", "clip": "text_encoders"}

# key -> (default dirs relative to the ComfyUI base dir, in search order; extensions).
# An empty extension set means "every file" (ComfyUI's own convention for custom_nodes).
_PT = PT_EXTENSIONS
DEFAULT_FOLDERS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "checkpoints": (("models/checkpoints",), _PT),
    "configs": (("models/configs",), frozenset({".yaml"})),
    "loras": (("models/loras",), _PT),
    "vae": (("models/vae",), _PT),
    "text_encoders": (("models/text_encoders", "models/clip"), _PT),
    "diffusion_models": (("models/unet", "models/diffusion_models"), _PT),
    "clip_vision": (("models/clip_vision",), _PT),
    "style_models": (("models/style_models",), _PT),
    "embeddings": (("models/embeddings",), _PT),
    "diffusers": (("models/diffusers",), frozenset({"folder"})),
    "vae_approx": (("models/vae_approx",), _PT),
    "controlnet": (("models/controlnet", "models/t2i_adapter"), _PT),
    "gligen": (("models/gligen",), _PT),
    "upscale_models": (("models/upscale_models",), _PT),
    "custom_nodes": (("custom_nodes",), frozenset()),
    "hypernetworks": (("models/hypernetworks",), _PT),
    "photomaker": (("models/photomaker",), _PT),
    "classifiers": (("models/classifiers",), frozenset({""})),
    "model_patches": (("models/model_patches",), _PT),
    "audio_encoders": (("models/audio_encoders",), _PT),
}

# Keys that hold code or configs, not model weights: never offered as a place a model was "found".
NON_MODEL_KEYS: frozenset[str] = frozenset({"custom_nodes", "configs"})


def canonical_folder(key: str | None) -> str | None:
    """Map a folder key through ComfyUI's legacy aliases (``unet`` → ``diffusion_models``)."""
    if key is None:
        return None
    k = key.strip().strip("/")
    return FOLDER_ALIASES.get(k, k)


def extensions_for(key: str) -> frozenset[str]:
    """Extensions ComfyUI lists for ``key`` (lower-case, with the dot); unknown keys (added by packs or the
    yaml) list every file, as does an empty set.
    """
    entry = DEFAULT_FOLDERS.get(canonical_folder(key) or key)
    return entry[1] if entry else frozenset()


def accepts(key: str, filename: str) -> bool:
    """Whether ComfyUI would list ``filename`` under ``key`` (same rule as ``filter_files_extensions``)."""
    exts = extensions_for(key)
    if not exts:
        return True
    return os.path.splitext(filename)[1].lower() in exts


def default_folder_paths(base_dir: Path) -> dict[str, list[Path]]:
    """The default ``folder_names_and_paths`` of a ComfyUI installed at ``base_dir``."""
    return {key: [base_dir / rel for rel in dirs] for key, (dirs, _exts) in DEFAULT_FOLDERS.items()}


def normalize_model_name(name: str) -> str:
    """A workflow's model name as ComfyUI compares it: forward slashes, no leading ``./`` or ``/``."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)
