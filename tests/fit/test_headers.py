"""Header readers: exact parameter bytes from real layouts written as sparse files (huge on paper,
a few KB on disk), GGUF tensor infos, and refusal of broken or hostile headers."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.fit.headers import read_weights, summarise
from comfyfixer.tools.modelfile import GGML_TYPES, read_gguf_header, read_safetensors_header

from .archs import flux_dev, parameters, t5_xxl_encoder, write_sparse_safetensors

FLUX_DEV_FILE_BYTES = 23_802_932_552  # flux1-dev.safetensors on Hugging Face (Comfy-Org/flux1-dev)
T5XXL_FP16_FILE_BYTES = 9_787_841_024  # t5xxl_fp16.safetensors (comfyanonymous/flux_text_encoders)


@pytest.fixture(scope="session")
def sparse_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int]]:
    """Sparse FLUX.1 [dev] (bf16) and T5-XXL (fp16) files with their real headers: path, data bytes."""
    d = tmp_path_factory.mktemp("sparse")
    flux = d / "flux1-dev.safetensors"
    t5 = d / "t5xxl_fp16.safetensors"
    return {
        "flux": (flux, write_sparse_safetensors(flux, [(n, "BF16", s) for n, s in flux_dev()], {"format": "pt"})),
        "t5": (t5, write_sparse_safetensors(t5, [(n, "F16", s) for n, s in t5_xxl_encoder()])),
    }


def test_flux_dev_header_gives_the_real_parameter_bytes(sparse_models: dict[str, tuple[Path, int]]) -> None:
    path, data = sparse_models["flux"]
    summary = summarise(read_safetensors_header(path))
    assert summary.parameters == parameters(flux_dev()) == 11_901_408_320  # the "12B" of the model card
    assert summary.bytes == data == summary.data_bytes == 2 * 11_901_408_320
    # The published file is these bytes plus its header (a JSON of ~0.1 MB): the layout is the real one.
    assert 0 < FLUX_DEV_FILE_BYTES - summary.bytes < 200_000
    assert summary.main_dtype == "BF16" and summary.tensors == 780 and summary.metadata == {"format": "pt"}
    assert path.stat().st_blocks * 512 < 10_000_000  # read from the header alone; the data is a hole


def test_t5xxl_header(sparse_models: dict[str, tuple[Path, int]]) -> None:
    path, data = sparse_models["t5"]
    summary = read_weights(path)
    assert summary is not None and summary.bytes == data
    assert 0 < T5XXL_FP16_FILE_BYTES - summary.bytes < 50_000


def test_checkpoint_parts_split_by_prefix(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.safetensors"
    write_sparse_safetensors(path, [
        ("model.diffusion_model.input_blocks.0.0.weight", "F16", [320, 4, 3, 3]),
        ("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", "F16", [49408, 768]),
        ("first_stage_model.decoder.conv_in.weight", "F32", [512, 4, 3, 3]),
    ])
    parts = summarise(read_safetensors_header(path)).bytes_by_part
    assert parts == {"diffusion": 320 * 4 * 9 * 2, "text_encoder": 49408 * 768 * 2, "vae": 512 * 4 * 9 * 4}


def _gguf_string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<Q", len(raw)) + raw


def write_gguf(path: Path, tensors: list[tuple[str, list[int], int]], *, data: bool = True) -> None:
    """A GGUF v3 file as ComfyUI-GGUF's converter writes it: metadata, tensor infos, aligned data (sparse)."""
    kv = [("general.architecture", 8, _gguf_string("flux")), ("general.quantization_version", 4, struct.pack("<I", 2)),
          ("tokenizer.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0.1, 0.2, 0.3))]
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, vtype, value in kv:
        out += _gguf_string(key) + struct.pack("<I", vtype) + value
    for name, dims, ggml_type in tensors:
        out += _gguf_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", ggml_type, 0)
    path.write_bytes(out)
    if data:
        with path.open("r+b") as fh:  # the data section as a hole: the size on paper, nothing on disk
            fh.truncate(len(out) + 32 + sum(-(-math.prod(d) // GGML_TYPES[t][1]) * GGML_TYPES[t][2]
                                            for _, d, t in tensors))


def test_a_gguf_shorter_than_its_tensors_is_an_unfinished_download(tmp_path: Path) -> None:
    path = tmp_path / "flux1-dev-Q4_K_S.gguf"
    write_gguf(path, [("double_blocks.0.img_attn.qkv.weight", [3072, 9216], 12)], data=False)
    with pytest.raises(InputError, match="unfinished download"):
        read_gguf_header(path)


def test_gguf_tensor_infos_give_quantised_bytes(tmp_path: Path) -> None:
    path = tmp_path / "flux1-dev-Q4_K_S.gguf"
    # ggml dims are innermost first; Q4_K: 144 bytes per 256 weights, Q8_0: 34 per 32, F32: 4.
    write_gguf(path, [("double_blocks.0.img_attn.qkv.weight", [3072, 9216], 12),
                      ("double_blocks.0.img_attn.qkv.bias", [9216], 0),
                      ("img_in.weight", [64, 3072], 8)])
    header = read_gguf_header(path)
    assert header.shape("img_in.weight") == (3072, 64)  # PyTorch order: ggml's dims reversed
    assert header.metadata["tokenizer.scores"] == pytest.approx([0.1, 0.2, 0.3])  # first items of an array kept
    s = summarise(header)
    assert s.parameters == 3072 * 9216 + 9216 + 64 * 3072
    assert s.bytes == 3072 * 9216 // 256 * 144 + 9216 * 4 + 64 * 3072 // 32 * 34
    assert s.bytes_by_dtype["Q4_K"] == 3072 * 9216 // 256 * 144 and s.metadata["general.architecture"] == "flux"


def _header(header: dict) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


@pytest.mark.parametrize("content", [
    b"\x01",  # too short
    struct.pack("<Q", 200 * 1024 * 1024) + b"{}",  # header over the format's 100 MB limit
    struct.pack("<Q", 50) + b"{}",  # cut short
    struct.pack("<Q", 2) + b"[]",  # not an object
    struct.pack("<Q", 40) + json.dumps({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 1]}}).encode()[:40],
    # a shape whose bytes the offsets do not hold (10^36 parameters declared in 10 bytes)
    _header({"a": {"dtype": "F32", "shape": [10**18, 10**18], "data_offsets": [0, 10]}}) + b"\0" * 10,
    _header({"a": {"dtype": "F16", "shape": [True], "data_offsets": [0, 2]}}) + b"\0" * 2,  # a bool is no size
    _header({"a": {"dtype": "F16", "shape": [2], "data_offsets": "x"}}) + b"\0" * 4,
    _header({"a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}}) + b"\0" * 3,  # a truncated download
])
def test_bad_safetensors_headers_are_refused_with_a_hint(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_safetensors_header(path)
    assert err.value.hint


def test_hostile_gguf_counts_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**40, 1))
    with pytest.raises(InputError):
        read_gguf_header(path)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40))
    with pytest.raises(InputError):
        read_gguf_header(path)
