"""Exact parameter bytes of a model file from its header alone: safetensors and GGUF.

Neither reader touches the tensor data. A safetensors file starts with an 8-byte little-endian
header length and that many bytes of JSON (``{"name": {"dtype", "shape", "data_offsets"}, ...,
"__metadata__": {...}}``; the format caps the header at 100 MB). A GGUF file starts with its magic,
version, tensor and metadata counts, the metadata key/values and then one info per tensor (name,
dims, ggml type, offset); the bytes of a tensor follow from its type's block size. Both readers are
bounded (header size, counts, string lengths), so a hostile or truncated file raises
:class:`~comfyfixer.tools.errors.InputError` with a hint instead of reading gigabytes.

Tensor-name prefixes split a full checkpoint into the parts ComfyUI loads as separate models
(diffusion model, text encoders, VAE), so a checkpoint's resident weights are counted per stage.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from comfyfixer.tools.errors import InputError

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit
MAX_GGUF_HEADER = 256 * 1024 * 1024  # LLM GGUFs carry tokenizer arrays; diffusion ones a few KB
MAX_GGUF_COUNT = 10_000_000
MAX_GGUF_STRING = 16 * 1024 * 1024

# Bytes per element of each safetensors dtype (F4/F6 pack below a byte).
SAFETENSORS_DTYPES: dict[str, float] = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1, "F6_E2M3": 0.75, "F6_E3M2": 0.75,
    "F4": 0.5,
}
# ggml type id → (block size in weights, bytes per block), from ggml's type_traits (ggml/src/ggml.c).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
}

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


def _bad(path: Path, why: str) -> InputError:
    """The error for an unusable header: the file is named, the hint says what to do."""
    return InputError(f"{path}: {why}", hint="the file is truncated or not a model file; download it again")


def read_safetensors_header(path: Path) -> WeightSummary:
    """Parameter bytes of a ``.safetensors`` file from its header (at most 100 MB read)."""
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise _bad(path, "shorter than a safetensors header")
        (size,) = struct.unpack("<Q", head)
        if size > MAX_SAFETENSORS_HEADER:
            raise _bad(path, f"declares a {size:,}-byte safetensors header (the format allows 100 MB)")
        raw = fh.read(size)
    if len(raw) < size:
        raise _bad(path, "safetensors header cut short")
    try:
        header = json.loads(raw)
    except ValueError:
        raise _bad(path, "safetensors header is not JSON") from None
    if not isinstance(header, dict):
        raise _bad(path, "safetensors header is not an object")
    out = WeightSummary("safetensors")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            if isinstance(info, dict):
                out.metadata = {str(k): str(v)[:200] for k, v in info.items()}
            continue
        if not isinstance(info, dict):
            raise _bad(path, f"tensor {name!r} has no dtype/shape entry")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in SAFETENSORS_DTYPES or not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise _bad(path, f"tensor {name!r} has an unknown dtype {dtype!r} or a bad shape")
        elements = math.prod(shape)
        nbytes = math.ceil(elements * SAFETENSORS_DTYPES[dtype])
        # As the safetensors library checks: the offsets hold exactly the bytes the shape declares.
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                and offsets[0] >= 0 and offsets[1] - offsets[0] == nbytes):
            raise _bad(path, f"tensor {name!r}: its data offsets do not hold the {nbytes:,} bytes its shape declares")
        out.add(name, dtype, elements, nbytes)
        end = max(end, offsets[1])
    if 8 + size + end > path.stat().st_size:
        raise _bad(path, f"the file is {path.stat().st_size:,} bytes, shorter than the {8 + size + end:,} its header "
                         "declares (an unfinished download)")
    out.data_bytes = end
    return out


class _Reader:
    """Little-endian reads from a file with a hard bound on the bytes consumed."""

    def __init__(self, fh: BinaryIO, path: Path, limit: int) -> None:
        self.fh, self.path, self.limit, self.used = fh, path, limit, 0

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes; refuses to pass the header bound or the end of the file."""
        self.used += n
        if self.used > self.limit:
            raise _bad(self.path, f"GGUF header larger than {self.limit:,} bytes")
        data = self.fh.read(n)
        if len(data) < n:
            raise _bad(self.path, "GGUF header cut short")
        return data

    def u32(self) -> int:
        """A little-endian unsigned 32-bit integer."""
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        """A little-endian unsigned 64-bit integer."""
        return int(struct.unpack("<Q", self.take(8))[0])

    def count(self, what: str) -> int:
        """A 64-bit count, refused above :data:`MAX_GGUF_COUNT` (a hostile file could claim 2**64)."""
        n = self.u64()
        if n > MAX_GGUF_COUNT:
            raise _bad(self.path, f"GGUF {what} count {n:,} is implausible")
        return n

    def string(self) -> str:
        """A GGUF string: 64-bit length, then UTF-8 bytes (at most :data:`MAX_GGUF_STRING`)."""
        n = self.u64()
        if n > MAX_GGUF_STRING:
            raise _bad(self.path, f"GGUF string of {n:,} bytes")
        return self.take(n).decode("utf-8", errors="replace")


# GGUF metadata value types → struct size (0..12; 8 = string, 9 = array)
_GGUF_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _gguf_value(r: _Reader, vtype: int, depth: int = 0) -> str | None:
    """Read (and mostly skip) one metadata value; short strings are returned for ``general.*`` keys."""
    if vtype in _GGUF_SCALARS:
        r.take(_GGUF_SCALARS[vtype])
        return None
    if vtype == 8:
        return r.string()[:200]
    if vtype == 9 and depth < 2:
        item, n = r.u32(), r.count("array")
        if item in _GGUF_SCALARS:
            r.take(_GGUF_SCALARS[item] * n)  # skipped in one bounded read
        else:
            for _ in range(n):
                _gguf_value(r, item, depth + 1)
        return None
    raise _bad(r.path, f"unknown GGUF metadata type {vtype}")


def read_gguf_header(path: Path) -> WeightSummary:
    """Parameter bytes of a ``.gguf`` file from its tensor infos (header read is bounded)."""
    with path.open("rb") as fh:
        r = _Reader(fh, path, MAX_GGUF_HEADER)
        if r.take(4) != b"GGUF":
            raise _bad(path, "no GGUF magic")
        version = r.u32()
        if version == 1:  # v1 used 32-bit counts; no ComfyUI-GGUF file is v1
            raise _bad(path, "GGUF version 1 is not supported")
        n_tensors, n_kv = r.count("tensor"), r.count("metadata")
        out = WeightSummary("gguf")
        for _ in range(n_kv):
            key = r.string()
            value = _gguf_value(r, r.u32())
            if value is not None and key.startswith("general."):
                out.metadata[key] = value
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.u32()
            if n_dims > 8:
                raise _bad(path, f"tensor {name!r} has {n_dims} dimensions")
            dims = [r.u64() for _ in range(n_dims)]
            ggml_type = r.u32()
            r.u64()  # offset in the data section
            if ggml_type not in GGML_TYPES:
                raise _bad(path, f"tensor {name!r} has unknown ggml type {ggml_type}")
            tname, block, block_bytes = GGML_TYPES[ggml_type]
            elements = math.prod(dims)
            out.add(name, tname, elements, -(-elements // block) * block_bytes)
    if out.bytes > path.stat().st_size:
        raise _bad(path, f"the file is {path.stat().st_size:,} bytes, less than the {out.bytes:,} its tensors declare "
                         "(an unfinished download)")
    return out


def read_weights(path: Path) -> WeightSummary | None:
    """The header summary of a safetensors or GGUF file, or None for other formats (.ckpt, .pt ...)."""
    suffix = path.suffix.lower()
    if suffix in (".safetensors", ".sft"):
        return read_safetensors_header(path)
    if suffix == ".gguf":
        return read_gguf_header(path)
    return None
