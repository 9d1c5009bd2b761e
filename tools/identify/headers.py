"""Bounded readers for the headers of model files: safetensors and GGUF.

Only the header is read, never the weights: a 20 GB checkpoint costs a few kilobytes of I/O. Both
readers refuse headers larger than :data:`MAX_HEADER_BYTES` (ComfyUI's own safetensors loader uses
the same 100 MB ceiling) and check what they read against the file's real size, so a hostile or
truncated file raises :class:`~comfyfixer.tools.errors.InputError` with a hint instead of making us
read gigabytes or trust offsets that point outside the file.

Shapes are reported in PyTorch order for both formats. GGUF stores dimensions fastest-first (ggml's
``ne`` order), so they are reversed here; the identification rules then apply to either format.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from comfyfixer.tools.errors import InputError

MAX_HEADER_BYTES = 100 * 1024 * 1024
# A GGUF key/value section beyond this is not a model header we need to understand (tokenizer
# vocabularies of LLM text encoders are a few MB).
MAX_GGUF_STRING = 16 * 1024 * 1024
MAX_GGUF_ITEMS = 10_000_000
MAX_TENSORS = 1_000_000


@dataclass
class ModelHeader:
    """What a model file's header says: its tensors (name → dtype and shape) and its metadata."""

    format: str
    tensors: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    file_size: int = 0

    def shape(self, name: str) -> tuple[int, ...] | None:
        """The shape of tensor ``name``, or None when the file has no such tensor."""
        entry = self.tensors.get(name)
        return entry[1] if entry else None


def _bad(path: Path, why: str) -> InputError:
    """An ``InputError`` naming the file and what is wrong with its header."""
    return InputError(f"{path.name}: {why}", hint="the file is truncated, damaged or not a model file")


def read_safetensors_header(path: Path) -> ModelHeader:
    """The tensors and ``__metadata__`` of a ``.safetensors`` file.

    Layout: an 8-byte little-endian header length, that many bytes of JSON, then the data. Every
    tensor's ``data_offsets`` must lie inside the data section, as the format requires.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise _bad(path, "too short to be a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
            raise _bad(path, f"safetensors header length {n} is impossible for a {size}-byte file")
        text = fh.read(n)
    try:
        doc = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"the safetensors header is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _bad(path, "the safetensors header is not a JSON object")
    data_size = size - 8 - n
    header = ModelHeader(format="safetensors", file_size=size)
    meta = doc.pop("__metadata__", None)
    if isinstance(meta, dict):
        header.metadata = {str(k): v for k, v in meta.items()}
    for name, info in doc.items():
        if not isinstance(info, dict):
            raise _bad(path, f"tensor {name!r} has no description")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise _bad(path, f"tensor {name!r} has an invalid shape")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= data_size):
            raise _bad(path, f"tensor {name!r} points outside the file")
        header.tensors[name] = (str(info.get("dtype", "")), tuple(shape))
    return header


class _Reader:
    """Little-endian reads from a file with a byte budget, for the GGUF header."""

    def __init__(self, fh: BinaryIO, path: Path, size: int) -> None:
        self.fh, self.path, self.size = fh, path, size

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes, refused when they would run past the file or the header budget."""
        if n < 0 or self.fh.tell() + n > min(self.size, MAX_HEADER_BYTES):
            raise _bad(self.path, "the GGUF header runs past the end of the file or the header budget")
        return self.fh.read(n)

    def unpack(self, fmt: str) -> Any:
        """One little-endian value of struct format ``fmt``."""
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))[0]

    def string(self) -> str:
        """A GGUF string: a 64-bit length, then UTF-8 bytes (bounded by ``MAX_GGUF_STRING``)."""
        n = self.unpack("Q")
        if n > MAX_GGUF_STRING:
            raise _bad(self.path, f"a GGUF string of {n} bytes")
        return self.take(n).decode("utf-8", errors="replace")


# GGUF value types → struct format (8 = string and 9 = array are handled apart).
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _gguf_value(r: _Reader, kind: int, *, keep: bool) -> Any:
    """One GGUF metadata value of type ``kind``; arrays are read to skip them, and only their first
    items are kept (``keep``) because identification never needs a whole vocabulary."""
    if kind in _GGUF_SCALARS:
        return r.unpack(_GGUF_SCALARS[kind])
    if kind == 8:
        return r.string()
    if kind == 9:
        item_kind, count = r.unpack("I"), r.unpack("Q")
        if count > MAX_GGUF_ITEMS:
            raise _bad(r.path, f"a GGUF array of {count} items")
        # Arrays (tokenizer vocabularies) are walked but not kept: identification never needs them.
        items = [_gguf_value(r, item_kind, keep=False) for _ in range(count)]
        return items[:16] if keep else None
    raise _bad(r.path, f"unknown GGUF value type {kind}")


def read_gguf_header(path: Path) -> ModelHeader:
    """The metadata (``general.architecture`` …) and tensor names and shapes of a ``.gguf`` file."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        r = _Reader(fh, path, size)
        if r.take(4) != b"GGUF":
            raise _bad(path, "no GGUF magic")
        version = r.unpack("I")
        wide = version >= 2  # version 1 used 32-bit counts
        n_tensors = r.unpack("Q" if wide else "I")
        n_kv = r.unpack("Q" if wide else "I")
        if n_tensors > MAX_TENSORS or n_kv > MAX_TENSORS:
            raise _bad(path, f"{n_tensors} tensors and {n_kv} metadata entries")
        header = ModelHeader(format="gguf", file_size=size)
        header.metadata["gguf.version"] = version
        for _ in range(n_kv):
            key = r.string()
            header.metadata[key] = _gguf_value(r, r.unpack("I"), keep=True)
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.unpack("I")
            if n_dims > 8:
                raise _bad(path, f"tensor {name!r} has {n_dims} dimensions")
            dims = [r.unpack("Q") for _ in range(n_dims)]
            kind = r.unpack("I")
            r.unpack("Q")  # offset into the data section
            header.tensors[name] = (f"ggml:{kind}", tuple(reversed(dims)))
    return header


def read_header(path: Path) -> ModelHeader:
    """Either reader, chosen by content (the GGUF magic), not by the file's extension."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    return read_gguf_header(path) if magic == b"GGUF" else read_safetensors_header(path)
