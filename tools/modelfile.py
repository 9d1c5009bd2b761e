"""Bounded readers for the headers of model files: safetensors and GGUF (one home for both formats).

Only the header is read, never the weights: a 20 GB checkpoint costs a few kilobytes of I/O.

* A safetensors file starts with an 8-byte little-endian header length and that many bytes of JSON
  (``{"name": {"dtype", "shape", "data_offsets"}, ..., "__metadata__": {...}}``; the format caps the
  header at 100 MB, as ComfyUI's own loader does).
* A GGUF file starts with its magic, version, tensor and metadata counts, the metadata key/values and
  then one info per tensor (name, dims, ggml type, offset); a tensor's bytes follow from its type's
  block size.

Both readers are bounded (header size, counts, string lengths) and check what they read against the
file's real size, as the safetensors library does (each tensor's offsets hold exactly the bytes its
shape declares; a file shorter than its header declares is an unfinished download). A hostile or
truncated file raises :class:`~comfyfixer.tools.errors.InputError` with a hint instead of making us
read gigabytes or trust offsets that point outside the file.

Shapes are reported in PyTorch order for both formats: GGUF stores dimensions fastest-first (ggml's
``ne`` order), so they are reversed here. Used by ``identify`` (family and role from tensor names and
shapes), ``fit`` (exact parameter bytes per stage) and the download check (``exact=True``: a finished
download ends exactly at its data).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from comfyfixer.tools.errors import InputError

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit
MAX_GGUF_HEADER = 256 * 1024 * 1024  # LLM GGUFs carry tokenizer arrays; diffusion ones a few KB
MAX_GGUF_COUNT = 10_000_000  # array items (a tokenizer vocabulary is ~150k)
MAX_TENSORS = 1_000_000  # tensors or metadata entries kept in memory (real models: a few thousand)
MAX_GGUF_STRING = 16 * 1024 * 1024
KEPT_ARRAY_ITEMS = 16  # arrays (vocabularies) are skipped; their first items are kept for evidence

# Bytes per element of each safetensors dtype (F4/F6 pack below a byte).
SAFETENSORS_DTYPES: dict[str, float] = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1, "F6_E2M3": 0.75, "F6_E3M2": 0.75,
    "F4": 0.5,
}
# ggml type id → (name, block size in weights, bytes per block), from ggml's type_traits (ggml/src/ggml.c).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
}
_GGML_BY_NAME = {name: (block, size) for name, block, size in GGML_TYPES.values()}


@dataclass
class ModelHeader:
    """What a model file's header says: its tensors (name → dtype and shape, PyTorch order), its
    metadata, and the file's size. GGUF dtypes are ggml type names (``Q4_K``, ``F16``, …)."""

    format: str  # "safetensors" or "gguf"
    tensors: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    file_size: int = 0
    data_bytes: int = 0  # the data the header declares (safetensors: the last data_offsets end)

    def shape(self, name: str) -> tuple[int, ...] | None:
        """The shape of tensor ``name``, or None when the file has no such tensor."""
        entry = self.tensors.get(name)
        return entry[1] if entry else None


def tensor_bytes(dtype: str, elements: int) -> int:
    """The bytes ``elements`` weights of ``dtype`` take (a safetensors dtype or a ggml type name)."""
    if dtype in _GGML_BY_NAME:
        block, size = _GGML_BY_NAME[dtype]
        return -(-elements // block) * size
    return math.ceil(elements * SAFETENSORS_DTYPES[dtype])


def _bad(path: Path, why: str) -> InputError:
    """The error for an unusable header: the file is named, the hint says what to do."""
    return InputError(f"{path.name}: {why}",
                      hint="the file is truncated, damaged or not a model file; download it again")


def read_safetensors_header(path: Path, *, exact: bool = False) -> ModelHeader:
    """The tensors and ``__metadata__`` of a ``.safetensors`` file (at most 100 MB read).

    ``exact`` is the download check's mode (``tools/download/verify.py``): the data must end exactly
    where the file does, as the safetensors library requires, and a dtype outside our table is kept
    (a newer library may know it, as it knows ``C64``) with only its offsets' order checked.
    """
    file_size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise _bad(path, "too short to be a safetensors file")
        (size,) = struct.unpack("<Q", head)
        if size < 2 or size > MAX_SAFETENSORS_HEADER or 8 + size > file_size:
            raise _bad(path, f"a safetensors header length of {size:,} bytes is impossible for a "
                             f"{file_size:,}-byte file (the format allows 100 MB)")
        raw = fh.read(size)
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise _bad(path, "the safetensors header is not JSON") from None
    if not isinstance(doc, dict):
        raise _bad(path, "the safetensors header is not a JSON object")
    if len(doc) > MAX_TENSORS:
        raise _bad(path, f"{len(doc):,} tensors")
    out = ModelHeader("safetensors", file_size=file_size)
    end = 0
    for name, info in doc.items():
        if name == "__metadata__":
            if isinstance(info, dict):
                out.metadata = {str(k): v for k, v in info.items()}
            continue
        if not isinstance(info, dict):
            raise _bad(path, f"tensor {name!r} has no dtype/shape entry")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        known = dtype in SAFETENSORS_DTYPES
        if not (known or (exact and isinstance(dtype, str))) or not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise _bad(path, f"tensor {name!r} has an unknown dtype {dtype!r} or an invalid shape")
        nbytes = tensor_bytes(str(dtype), math.prod(shape)) if known else None
        # As the safetensors library checks: the offsets hold exactly the bytes the shape declares.
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                and offsets[0] >= 0 and (offsets[1] - offsets[0] == nbytes if known else offsets[1] >= offsets[0])):
            held = f"the {nbytes:,} bytes its shape declares" if known else "its data"
            raise _bad(path, f"tensor {name!r}: its data offsets do not hold {held} (they point outside the file's data)")
        out.tensors[name] = (str(dtype), tuple(shape))
        end = max(end, offsets[1])
    declared = 8 + size + end
    if exact and declared != file_size:
        raise _bad(path, f"safetensors data should be {declared:,} bytes but the file has {file_size:,}")
    if declared > file_size:
        raise _bad(path, f"the file is {file_size:,} bytes, shorter than the {declared:,} its header "
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
        if n < 0 or self.used > self.limit:
            raise _bad(self.path, f"GGUF header larger than {self.limit:,} bytes")
        data = self.fh.read(n)
        if len(data) < n:
            raise _bad(self.path, "GGUF header cut short")
        return data

    def unpack(self, fmt: str) -> Any:
        """One little-endian value of struct format ``fmt``."""
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))[0]

    def count(self, what: str, wide: bool = True, limit: int = MAX_GGUF_COUNT) -> int:
        """A count (64-bit; 32-bit in GGUF v1), refused above ``limit`` (a hostile file could claim 2**64)."""
        n = int(self.unpack("Q" if wide else "I"))
        if n > limit:
            raise _bad(self.path, f"GGUF {what} count {n:,} is implausible")
        return n

    def string(self, wide: bool = True) -> str:
        """A GGUF string: its length, then UTF-8 bytes (at most :data:`MAX_GGUF_STRING`)."""
        n = self.count("string length", wide, MAX_GGUF_STRING)
        return self.take(n).decode("utf-8", errors="replace")


# GGUF metadata value types → struct format (8 = string and 9 = array are handled apart).
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _gguf_value(r: _Reader, kind: int, wide: bool, depth: int = 0) -> Any:
    """One GGUF metadata value; of an array only the first :data:`KEPT_ARRAY_ITEMS` items are kept."""
    if kind in _GGUF_SCALARS:
        return r.unpack(_GGUF_SCALARS[kind])
    if kind == 8:
        return r.string(wide)
    if kind == 9 and depth < 2:
        item, n = int(r.unpack("I")), r.count("array", wide)
        if item in _GGUF_SCALARS:  # skipped in one bounded read, the first items decoded
            fmt = _GGUF_SCALARS[item]
            data = r.take(struct.calcsize("<" + fmt) * n)
            kept = min(n, KEPT_ARRAY_ITEMS)
            return list(struct.unpack(f"<{kept}{fmt}", data[:struct.calcsize(f'<{kept}{fmt}')]))
        items = [_gguf_value(r, item, wide, depth + 1) for _ in range(n)]
        return items[:KEPT_ARRAY_ITEMS]
    raise _bad(r.path, f"unknown GGUF metadata type {kind}")


def read_gguf_header(path: Path) -> ModelHeader:
    """The metadata (``general.architecture`` …) and tensor names, types and shapes of a ``.gguf`` file."""
    file_size = path.stat().st_size
    with path.open("rb") as fh:
        r = _Reader(fh, path, MAX_GGUF_HEADER)
        if r.take(4) != b"GGUF":
            raise _bad(path, "no GGUF magic")
        version = int(r.unpack("I"))
        wide = version >= 2  # version 1 used 32-bit counts and lengths
        n_tensors, n_kv = r.count("tensor", wide, MAX_TENSORS), r.count("metadata", wide, MAX_TENSORS)
        out = ModelHeader("gguf", file_size=file_size)
        out.metadata["gguf.version"] = version
        for _ in range(n_kv):
            key = r.string(wide)
            out.metadata[key] = _gguf_value(r, int(r.unpack("I")), wide)
        total = 0
        for _ in range(n_tensors):
            name = r.string(wide)
            n_dims = int(r.unpack("I"))
            if n_dims > 8:
                raise _bad(path, f"tensor {name!r} has {n_dims} dimensions")
            dims = [int(r.unpack("Q" if wide else "I")) for _ in range(n_dims)]
            ggml_type = int(r.unpack("I"))
            r.unpack("Q")  # offset in the data section
            if ggml_type not in GGML_TYPES:
                raise _bad(path, f"tensor {name!r} has unknown ggml type {ggml_type}")
            dtype = GGML_TYPES[ggml_type][0]
            out.tensors[name] = (dtype, tuple(reversed(dims)))
            total += tensor_bytes(dtype, math.prod(dims))
    if total > file_size:
        raise _bad(path, f"the file is {file_size:,} bytes, less than the {total:,} its tensors declare "
                         "(an unfinished download)")
    out.data_bytes = total
    return out


def read_header(path: Path) -> ModelHeader:
    """Either reader, chosen by content (the GGUF magic), not by the file's extension."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    return read_gguf_header(path) if magic == b"GGUF" else read_safetensors_header(path)
