"""Exact parameter bytes of a model file from its header alone (read by :mod:`comfyfixer.tools.modelfile`).

Tensor-name prefixes split a full checkpoint into the parts ComfyUI loads as separate models
(diffusion model, text encoders, VAE), so a checkpoint's resident weights are counted per stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from comfyfixer.tools.modelfile import ModelHeader, read_gguf_header, read_safetensors_header, tensor_bytes

# Checkpoint prefixes ComfyUI splits into models (comfy/sd.py::load_state_dict_guess_config and
# the supported_models' text_encoder_key_prefix / vae_key_prefix).
PART_PREFIXES: tuple[tuple[str, str], ...] = (
    ("model.diffusion_model.", "diffusion"),
    ("first_stage_model.", "vae"),
    ("vae.", "vae"),
    ("cond_stage_model.", "text_encoder"),
    ("conditioner.", "text_encoder"),
    ("text_encoders.", "text_encoder"),
)


@dataclass
class WeightSummary:
    """What a header says about a file's weights."""

    format: str  # "safetensors" or "gguf"
    tensors: int = 0
    parameters: int = 0
    bytes: int = 0
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)
    bytes_by_part: dict[str, int] = field(default_factory=dict)  # diffusion / text_encoder / vae / other
    data_bytes: int | None = None  # the data region the header declares (safetensors: last data_offsets end)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def main_dtype(self) -> str | None:
        """The dtype holding most of the bytes (``BF16``, ``F8_E4M3``, ``Q4_K`` ...)."""
        return max(self.bytes_by_dtype, key=lambda k: self.bytes_by_dtype[k]) if self.bytes_by_dtype else None

    def add(self, name: str, dtype: str, elements: int, nbytes: int) -> None:
        """Count one tensor."""
        self.tensors += 1
        self.parameters += elements
        self.bytes += nbytes
        self.bytes_by_dtype[dtype] = self.bytes_by_dtype.get(dtype, 0) + nbytes
        part = next((p for prefix, p in PART_PREFIXES if name.startswith(prefix)), "other")
        self.bytes_by_part[part] = self.bytes_by_part.get(part, 0) + nbytes


def summarise(header: ModelHeader) -> WeightSummary:
    """Parameters and bytes per dtype and per checkpoint part; short text metadata (a GGUF's ``general.*``)."""
    out = WeightSummary(header.format, data_bytes=header.data_bytes)
    for name, (dtype, shape) in header.tensors.items():
        elements = math.prod(shape)
        out.add(name, dtype, elements, tensor_bytes(dtype, elements))
    gguf = header.format == "gguf"
    out.metadata = {k: str(v)[:200] for k, v in header.metadata.items()
                    if not gguf or (k.startswith("general.") and isinstance(v, str))}
    return out


def read_weights(path: Path) -> WeightSummary | None:
    """The header summary of a safetensors or GGUF file, or None for other formats (.ckpt, .pt ...).

    Raises :class:`~comfyfixer.tools.errors.InputError` for a damaged or unfinished file."""
    suffix = path.suffix.lower()
    if suffix in (".safetensors", ".sft"):
        return summarise(read_safetensors_header(path))
    if suffix == ".gguf":
        return summarise(read_gguf_header(path))
    return None
