"""Identify a model file: family (SD 1.5, SDXL, Flux, Wan, …) and role (checkpoint, diffusion model,
LoRA, VAE, text encoder, ControlNet, upscaler) from its header, its name or a catalog.

``identify_model`` (``capability.py``) is the capability; ``rules.py`` holds the decision table with its
sources; ``headers.py`` reads safetensors and GGUF headers without loading weights.
"""

from comfyfixer.tools.identify.models import IdentifyInput, ModelIdentity

__all__ = ["IdentifyInput", "ModelIdentity"]
