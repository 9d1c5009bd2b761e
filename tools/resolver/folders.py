"""ComfyUI folder kinds: aliases, what a source path or Civitai type implies, and which kinds conflict.

Looser than ComfyUI's own lookups on purpose: sources spell kinds many ways (``lora``, ``unet``,
``t2i_adapter``), and the resolver only needs to know whether a source's filing agrees with the loader's
folder, not where ComfyUI will search. The kinds come from ComfyUI's table (``tools/model_folders.py``).
"""

from __future__ import annotations

from comfyfixer.tools.model_folders import FOLDERS, PT_EXTENSIONS, SECOND_DIRECTORIES

# ComfyUI's second directory names (unet, clip: also its legacy keys; t2i_adapter) plus the singulars
# sources write.
ALIASES = {**SECOND_DIRECTORIES, "lora": "loras", "checkpoint": "checkpoints", "upscale": "upscale_models",
           "embedding": "embeddings"}

# Folder names a source path is filed under: ComfyUI's keys whose loaders list model weights (not configs,
# code, training data, diffusers folders or classifiers), its second directories, and the pack folders
# sources use (``ipadapter``: ComfyUI_IPAdapter_plus's key, which Hugging Face repositories file under).
SOURCE_SPELLINGS = frozenset({"ipadapter"})
KNOWN = (frozenset(k for k, f in FOLDERS.items() if f.extensions == PT_EXTENSIONS)
         | SECOND_DIRECTORIES.keys() | SOURCE_SPELLINGS)

# Civitai ModelType per folder kind (used as the `types` search filter).
CIVITAI_TYPES = {
    "checkpoints": ["Checkpoint"], "loras": ["LORA", "LoCon", "DoRA"], "vae": ["VAE"], "controlnet": ["Controlnet"],
    "upscale_models": ["Upscaler"], "embeddings": ["TextualInversion"], "hypernetworks": ["Hypernetwork"],
}
_CIVITAI_TYPE_FOLDER = {t.lower(): f for f, ts in CIVITAI_TYPES.items() for t in ts}


def norm(folder: str | None) -> str | None:
    """The canonical kind of a folder name or ``kind/sub/dir`` path (first segment, lower-case, aliases
    applied); None for empty input.
    """
    if not folder:
        return None
    f = folder.strip("/").split("/", 1)[0].lower()
    return ALIASES.get(f, f)


def from_path(path: str) -> str | None:
    """The folder kind a repo path files the model under (``split_files/diffusion_models/x`` →
    diffusion_models).

    The deepest known folder name in the path wins; None when the path names none.
    """
    for seg in reversed(path.lower().split("/")[:-1]):
        if seg in KNOWN:
            return ALIASES.get(seg, seg)
    return None


def from_civitai_type(type_: str | None) -> str | None:
    """The folder kind of a Civitai model type (``"LORA"`` → ``loras``), or None for types we do not map."""
    return _CIVITAI_TYPE_FOLDER.get((type_ or "").lower())


# Pairs that cannot stand in for each other: a loader of one kind cannot load a file of the other.
_HARD = {frozenset({"checkpoints", "diffusion_models"}), frozenset({"checkpoints", "loras"}),
         frozenset({"diffusion_models", "loras"}), frozenset({"vae", "checkpoints"}),
         frozenset({"text_encoders", "diffusion_models"}), frozenset({"text_encoders", "checkpoints"})}


def conflict(wanted: str | None, found: str | None) -> bool:
    """True when the source files it under a kind the workflow's loader cannot use.

    Only the pairs listed in ``_HARD`` conflict; unknown or merely different kinds (``controlnet`` vs
    ``model_patches``) do not, since packs load files from many places.
    """
    a, b = norm(wanted), norm(found)
    return bool(a and b and a != b and frozenset({a, b}) in _HARD)
