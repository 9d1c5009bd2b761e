"""Read generation metadata (prompt, seed, sampler, models, ComfyUI graphs) from AI images.

Light at import: ``read_embedded_graphs`` pulls in only the container readers;
the full reader (``read_image``) loads its parsers on first use.

Layers, bottom up: ``containers`` (bounded PNG/JPEG/WebP readers, no Pillow) → ``graphs`` (the
embedded ComfyUI graphs) and ``stealth`` (data hidden in alpha pixels) → ``a1111``,
``generators/comfyui`` and ``generators/others`` (one parser per writer) → ``reader`` (detection
order, sidecar files, the ``read_image_metadata`` capability). Users: the ``image`` command, the
workflow inspector (images given as workflows), and ``tools/reconstruct``. Every reader is bounded
and never executes or imports anything from a file: images come from strangers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from comfyfixer.tools.imagemeta.graphs import read_embedded_graphs
from comfyfixer.tools.imagemeta.models import (
    EmbeddedGraphs,
    EmbeddingRef,
    GenerationInfo,
    HiresInfo,
    ImageReadResult,
    LoraRef,
    ModelInfo,
    ReadImageInput,
    RefinerInfo,
)
from comfyfixer.tools.lazy import lazy_exports

if TYPE_CHECKING:
    from comfyfixer.tools.imagemeta.reader import read_image, read_image_metadata, read_images

__all__ = [
    "EmbeddedGraphs",
    "EmbeddingRef",
    "GenerationInfo",
    "HiresInfo",
    "ImageReadResult",
    "LoraRef",
    "ModelInfo",
    "ReadImageInput",
    "RefinerInfo",
    "read_embedded_graphs",
    "read_image",
    "read_image_metadata",
    "read_images",
]


__getattr__ = lazy_exports(__name__, dict.fromkeys(
    ("read_image", "read_images", "read_image_metadata", "iter_image_files", "ImageReadError"), "reader"))
