"""Entry points: read one image, many images, or a folder (stub; filled in below)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from comfyfixer.tools.imagemeta.models import GenerationInfo, ImageReadResult, ReadImageInput


def read_image(path: Path, *, stealth: bool = True) -> GenerationInfo:
    raise NotImplementedError


def read_images(paths: Iterable[Path], *, stealth: bool = True) -> list[ImageReadResult]:
    raise NotImplementedError


def read_image_metadata(inp: ReadImageInput) -> GenerationInfo:
    """Read how an AI image was generated."""
    return read_image(Path(inp.path), stealth=inp.stealth)
