"""ComfyUI folder kinds: aliases, what a source path or Civitai type implies, and which kinds conflict."""

from __future__ import annotations

ALIASES = {"unet": "diffusion_models", "clip": "text_encoders", "t2i_adapter": "controlnet", "lora": "loras",
           "checkpoint": "checkpoints", "upscale": "upscale_models", "embedding": "embeddings"}

KNOWN = frozenset({
    "checkpoints", "loras", "vae", "diffusion_models", "text_encoders", "clip_vision", "controlnet", "upscale_models",
    "embeddings", "model_patches", "audio_encoders", "style_models", "gligen", "hypernetworks", "photomaker",
    "latent_upscale_models", "vae_approx", "ipadapter", "unet", "clip", "t2i_adapter",
})

# Civitai ModelType per folder kind (used as the `types` search filter).
CIVITAI_TYPES = {
    "checkpoints": ["Checkpoint"], "loras": ["LORA", "LoCon", "DoRA"], "vae": ["VAE"], "controlnet": ["Controlnet"],
    "upscale_models": ["Upscaler"], "embeddings": ["TextualInversion"], "hypernetworks": ["Hypernetwork"],
}
_CIVITAI_TYPE_FOLDER = {t.lower(): f for f, ts in CIVITAI_TYPES.items() for t in ts}


def norm(folder: str | None) -> str | None:
    if not folder:
        return None
    f = folder.strip("/").split("/", 1)[0].lower()
    return ALIASES.get(f, f)


def from_path(path: str) -> str | None:
    """The folder kind a repo path files the model under (``split_files/diffusion_models/x`` → diffusion_models)."""
    for seg in reversed(path.lower().split("/")[:-1]):
        if seg in KNOWN:
            return ALIASES.get(seg, seg)
    return None


def from_civitai_type(type_: str | None) -> str | None:
    return _CIVITAI_TYPE_FOLDER.get((type_ or "").lower())


# Pairs that cannot stand in for each other: a loader of one kind cannot load a file of the other.
_HARD = {frozenset({"checkpoints", "diffusion_models"}), frozenset({"checkpoints", "loras"}),
         frozenset({"diffusion_models", "loras"}), frozenset({"vae", "checkpoints"}),
         frozenset({"text_encoders", "diffusion_models"}), frozenset({"text_encoders", "checkpoints"})}


def conflict(wanted: str | None, found: str | None) -> bool:
    """True when the source files it under a kind the workflow's loader cannot use."""
    a, b = norm(wanted), norm(found)
    return bool(a and b and a != b and frozenset({a, b}) in _HARD)
