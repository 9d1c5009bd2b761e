"""The project's own metadata, as written by the ComfyFixerSmart node pack (``comfyfixer_nodes``).

The save node embeds one JSON document (``schema: comfyfixer.metadata/1``): in a PNG as the
``comfyfixer`` iTXt chunk, in JPEG and WebP as the text of ``comfyfixer:metadata`` in XMP under
:data:`NAMESPACE`. When it was too large to embed, the heavy parts (``prompt``, ``workflow``,
``runtime``, ``merged``) are in ``<image name>.comfyfixer.json`` next to the image and the embedded
document points at it with its size and SHA-256; the pointer is followed only to a plain file name
in the image's own folder, and a file whose hash differs is reported, not used.

:func:`apply_own_fields` puts the whole document in ``info.extra["comfyfixer"]`` and fills the
ComfyUI graphs and the usual fields the other parsers left empty.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

from comfyfixer.tools.imagemeta.models import GenerationInfo

SCHEMA = "comfyfixer.metadata/1"
NAMESPACE = "https://comfyfixer.dev/ns/metadata/1.0/"
SIDECAR_SUFFIX = ".comfyfixer.json"
SIDECAR_LIMIT = 64 * 1024 * 1024
_XMP_FIELD = re.compile(r"<comfyfixer:metadata>(.*?)</comfyfixer:metadata>", re.DOTALL)
_FILLED = ("prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler", "width", "height", "denoise")


def _document(raw: dict[str, Any]) -> dict[str, Any] | None:
    """Our document from the raw entries (PNG chunk first, then any XMP value in our namespace)."""
    candidates: list[str] = []
    if isinstance(raw.get("comfyfixer"), str):
        candidates.append(raw["comfyfixer"])
    for value in raw.values():
        if isinstance(value, str) and NAMESPACE in value:
            m = _XMP_FIELD.search(value)
            if m:
                candidates.append(html.unescape(m.group(1)))
    for text in candidates:
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("schema") == SCHEMA:
            return doc
    return None


def _load_sidecar(doc: dict[str, Any], source: Path | bytes, info: GenerationInfo) -> None:
    """Merge the sidecar's parts into ``doc`` when the pointer, the file and its hash all check out."""
    pointer = doc.get("sidecar")
    if not isinstance(pointer, dict):
        return
    name = str(pointer.get("file") or "")
    if not isinstance(source, Path):
        info.warnings.append(f"comfyfixer metadata: parts are in a sidecar ({name}) that bytes cannot reach")
        return
    if not name or Path(name).name != name or not name.endswith(SIDECAR_SUFFIX):
        info.warnings.append("comfyfixer metadata: sidecar pointer is not a plain file name; ignored")
        return
    side = source.parent / name
    try:
        if side.stat().st_size > SIDECAR_LIMIT:
            info.warnings.append(f"{name}: sidecar too large, skipped")
            return
        data = side.read_bytes()
    except OSError:
        info.warnings.append(f"comfyfixer metadata: sidecar {name} is missing")
        return
    if pointer.get("sha256") and hashlib.sha256(data).hexdigest() != pointer["sha256"]:
        info.warnings.append(f"comfyfixer metadata: sidecar {name} does not match its hash; not used")
        return
    try:
        parts = json.loads(data)
    except ValueError:
        info.warnings.append(f"comfyfixer metadata: sidecar {name} is not JSON")
        return
    if isinstance(parts, dict):
        for key, value in parts.items():
            if key != "schema" and key not in doc:
                doc[key] = value


def apply_own_fields(source: Path | bytes, info: GenerationInfo) -> bool:
    """Read the pack's document from ``info.raw`` (and its sidecar next to ``source``) into ``info``.

    Returns False when the image carries no document of ours. The reader calls this after the other
    parsers: our document wins for ``extra["comfyfixer"]``, fills the graphs when the file does not carry
    them, and sets the usual fields (prompt, seed, sampler…) from its ``effective`` view, which is exact
    where the A1111 line is not (that format trims a prompt's whitespace).
    """
    doc = _document(info.raw)
    if doc is None:
        return False
    _load_sidecar(doc, source, info)
    info.extra["comfyfixer"] = doc
    if info.prompt_graph is None and isinstance(doc.get("prompt"), dict):
        info.prompt_graph = doc["prompt"]
    if info.workflow is None and isinstance(doc.get("workflow"), dict):
        info.workflow = doc["workflow"]
    effective = doc.get("effective") or doc.get("parser") or {}
    # Our document is exact where the A1111 line is lossy (it trims prompt whitespace): it wins.
    for field in _FILLED:
        if isinstance(effective, dict) and effective.get(field) is not None:
            try:
                setattr(info, field, effective[field])
            except (TypeError, ValueError):
                continue
    size: dict[str, Any] = doc["image"] if isinstance(doc.get("image"), dict) else {}
    if info.width is None and info.height is None and isinstance(size.get("width"), int):
        info.width, info.height = size["width"], size.get("height")
    if info.generator in (None, "unknown", "A1111"):
        info.generator = "ComfyUI"
    info.generator_confidence = max(info.generator_confidence, 0.99)
    return True
