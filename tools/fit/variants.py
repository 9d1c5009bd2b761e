"""Lighter variants of a model file that exist: fp8 files and GGUF quantisations listed in
ComfyUI-Manager's model catalog (``model-list.json``: real file names, URLs and sizes), and the node
schema of the GGUF loader that reads them.

A variant is "the same model at another precision": its name, with the precision or quantisation
tag removed, equals the original's (``flux1-dev.safetensors`` ↔ ``flux1-dev-Q4_K_S.gguf``,
``t5xxl_fp16`` ↔ ``t5xxl_fp8_e4m3fn_scaled``). Only files the catalog lists are offered, so the
resolver and the plan → approve → apply path can fetch and verify them like any other download.

``UnetLoaderGGUF``'s schema is ComfyUI-GGUF's own, recorded from its source with the other packs
(``tools/schema/packs.py``; city96/ComfyUI-GGUF ``nodes.py``, commit 795e4515): one required combo
``unet_name`` over the ``unet_gguf`` files (``.gguf`` files in the diffusion model folders), output
``MODEL`` — output 0 is the ``MODEL`` of ``UNETLoader``, so links from the replaced loader stay valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from comfyfixer.tools.fit.sizes import parse_size_label
from comfyfixer.tools.precision import find_tag

GGUF_PACK = "https://github.com/city96/ComfyUI-GGUF"
_TAGS = re.compile(
    r"[-_.](?:fp16|bf16|fp32|f16|f32|fp8(?:_e4m3fn|_e5m2)?(?:_scaled)?|e4m3fn|scaled|"
    r"q\d_[01]|q\d(?:_k)?(?:_[sml])?|iq\d_\w+)(?=[-_.]|$)", re.I)
_EXT = re.compile(r"\.(safetensors|gguf|sft|ckpt|pt|pth|bin)$", re.I)


def gguf_schemas() -> Any:
    """ComfyUI-GGUF's node schemas (the recorded pack, ``tools/schema/data/packs/ComfyUI-GGUF.json``)
    as a :class:`~comfyfixer.tools.schema.loader.SchemaSet`."""
    from comfyfixer.tools.schema.packs import pack_schemas

    return pack_schemas("ComfyUI-GGUF")


def precision_stem(filename: str) -> str:
    """The name without folder, extension and precision/quantisation tags, lower case."""
    name = _EXT.sub("", filename.rsplit("/", 1)[-1].lower())
    previous = None
    while previous != name:
        previous, name = name, _TAGS.sub("", name)
    return name


@dataclass(frozen=True)
class Variant:
    """A catalog file that is the same model at another precision."""

    filename: str
    bytes: int
    url: str
    gguf: bool
    save_path: str | None

    @property
    def label(self) -> str:
        """``GGUF Q4_K_S`` or ``fp8 (e4m3fn, scaled)``-style tag of the variant."""
        if self.gguf:
            found = find_tag(self.filename, gguf=True)
            return f"GGUF {found.tag.spelled.upper()}" if found else "GGUF"
        return "fp8" + (" scaled" if "scaled" in self.filename.lower() else "")


def catalog_variants(catalog: Any, filename: str, current_bytes: int) -> list[Variant]:
    """Catalog files with the same stem as ``filename`` and fewer bytes, largest (best quality) first."""
    if catalog is None:
        return []
    stem = precision_stem(filename)
    seen: set[str] = set()
    out = []
    for m in getattr(catalog, "models", []):
        name = m.filename
        size = parse_size_label(m.size)
        if not size or name in seen or name == filename.rsplit("/", 1)[-1] or precision_stem(name) != stem:
            continue
        if size < current_bytes:
            seen.add(name)
            out.append(Variant(name, size, m.url, name.lower().endswith(".gguf"), m.save_path))
    return sorted(out, key=lambda v: -v.bytes)
