"""Real tensor layouts of model families, to write safetensors headers with their true names and shapes.

The layouts are those of the published files ComfyUI loads:

* FLUX.1 [dev] transformer (``flux1-dev.safetensors``, Black Forest Labs' naming, as
  ``comfy/ldm/flux/model.py`` builds it: hidden 3072, 19 double and 38 single blocks, MLP ratio 4,
  context 4096, vector 768, guidance embedding). Black Forest Labs' model card gives 12 B
  parameters; the file on Hugging Face is 23,802,932,552 bytes at bf16.
* T5 v1.1 XXL encoder (``t5xxl_fp16.safetensors`` in comfyanonymous/flux_text_encoders: d_model
  4096, d_ff 10240, 24 layers, 64 heads of 64, vocabulary 32128, with both ``shared`` and
  ``encoder.embed_tokens`` stored); the file is 9,787,841,024 bytes at fp16.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path

Tensor = tuple[str, list[int]]
DTYPE_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "F8_E4M3": 1}


def flux_dev() -> Iterator[Tensor]:
    """Every tensor of the FLUX.1 [dev] transformer."""
    h, mlp, heads_dim = 3072, 12288, 128

    def lin(name: str, out: int, inp: int) -> Iterator[Tensor]:
        yield f"{name}.weight", [out, inp]
        yield f"{name}.bias", [out]

    yield from lin("img_in", h, 64)
    for emb, width in (("time_in", 256), ("vector_in", 768), ("guidance_in", 256)):
        yield from lin(f"{emb}.in_layer", h, width)
        yield from lin(f"{emb}.out_layer", h, h)
    yield from lin("txt_in", h, 4096)
    for i in range(19):
        for side in ("img", "txt"):
            p = f"double_blocks.{i}.{side}"
            yield from lin(f"{p}_mod.lin", 6 * h, h)
            yield from lin(f"{p}_attn.qkv", 3 * h, h)
            yield f"{p}_attn.norm.query_norm.scale", [heads_dim]
            yield f"{p}_attn.norm.key_norm.scale", [heads_dim]
            yield from lin(f"{p}_attn.proj", h, h)
            yield from lin(f"{p}_mlp.0", mlp, h)
            yield from lin(f"{p}_mlp.2", h, mlp)
    for i in range(38):
        p = f"single_blocks.{i}"
        yield from lin(f"{p}.linear1", 3 * h + mlp, h)
        yield from lin(f"{p}.linear2", h, h + mlp)
        yield f"{p}.norm.query_norm.scale", [heads_dim]
        yield f"{p}.norm.key_norm.scale", [heads_dim]
        yield from lin(f"{p}.modulation.lin", 3 * h, h)
    yield from lin("final_layer.linear", 64, h)
    yield from lin("final_layer.adaLN_modulation.1", 2 * h, h)


def t5_xxl_encoder() -> Iterator[Tensor]:
    """Every tensor of the T5 v1.1 XXL encoder as ComfyUI's text encoder files store it."""
    d, ff = 4096, 10240
    yield "shared.weight", [32128, d]
    yield "encoder.embed_tokens.weight", [32128, d]
    for i in range(24):
        p = f"encoder.block.{i}.layer"
        for proj in ("q", "k", "v", "o"):
            yield f"{p}.0.SelfAttention.{proj}.weight", [d, d]
        if i == 0:
            yield f"{p}.0.SelfAttention.relative_attention_bias.weight", [32, 64]
        yield f"{p}.0.layer_norm.weight", [d]
        yield f"{p}.1.DenseReluDense.wi_0.weight", [ff, d]
        yield f"{p}.1.DenseReluDense.wi_1.weight", [ff, d]
        yield f"{p}.1.DenseReluDense.wo.weight", [d, ff]
        yield f"{p}.1.layer_norm.weight", [d]
    yield "encoder.final_layer_norm.weight", [d]


def parameters(tensors: Iterator[Tensor] | list[Tensor]) -> int:
    """Total parameters of a layout."""
    return sum(math.prod(shape) for _, shape in tensors)


def write_sparse_safetensors(path: Path, tensors: list[tuple[str, str, list[int]]],
                             metadata: dict[str, str] | None = None) -> int:
    """Write a real safetensors file (header, then the data region its offsets declare) whose data is
    a hole: large on paper, a few KB on disk. Returns the data region's size in bytes."""
    header: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, dtype, shape in tensors:
        size = math.prod(shape) * DTYPE_BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        if offset:
            fh.seek(offset - 1, 1)
            fh.write(b"\0")
    return offset


def clip_l() -> Iterator[Tensor]:
    """Every tensor of the CLIP ViT-L/14 text encoder (``clip_l.safetensors``: 12 layers, width 768,
    MLP 3072, vocabulary 49408, 77 positions; ComfyUI's file has no text projection); the file is
    246,144,152 bytes."""
    d, ff = 768, 3072
    p = "text_model"
    yield f"{p}.embeddings.token_embedding.weight", [49408, d]
    yield f"{p}.embeddings.position_embedding.weight", [77, d]
    for i in range(12):
        q = f"{p}.encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            yield f"{q}.self_attn.{proj}.weight", [d, d]
            yield f"{q}.self_attn.{proj}.bias", [d]
        for norm in ("layer_norm1", "layer_norm2"):
            yield f"{q}.{norm}.weight", [d]
            yield f"{q}.{norm}.bias", [d]
        yield f"{q}.mlp.fc1.weight", [ff, d]
        yield f"{q}.mlp.fc1.bias", [ff]
        yield f"{q}.mlp.fc2.weight", [d, ff]
        yield f"{q}.mlp.fc2.bias", [d]
    yield f"{p}.final_layer_norm.weight", [d]
    yield f"{p}.final_layer_norm.bias", [d]
