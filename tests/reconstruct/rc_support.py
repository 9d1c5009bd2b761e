"""Shared helpers for the reconstruct tests: the real node schemas, corpus images, graph comparison."""

from __future__ import annotations

import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from comfyfixer.tools.imagemeta import GenerationInfo, read_image
from comfyfixer.tools.reconstruct.api_to_ui import default_for
from comfyfixer.tools.schema import SchemaSet, load_object_info

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("COMFYFIXER_SHARED", REPO.parent / "shared")) / "data"
CORPUS = SHARED_DATA / "images" / "corpus"
OBJECT_INFO = SHARED_DATA / "comfyui" / "object_info.json"
UPLOAD_KEYS = ("upload", "choose file to upload")


@lru_cache(maxsize=1)
def schemas() -> SchemaSet:
    return load_object_info(OBJECT_INFO)


def corpus_images() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*/*") if p.is_file()) if CORPUS.is_dir() else []


@cache
def info_for(path: Path) -> GenerationInfo | None:
    try:
        return read_image(path)
    except Exception:  # unreadable negative controls
        return None


def rel(path: Path) -> str:
    return str(path.relative_to(CORPUS))


def is_link(value: Any, nodes: dict[str, Any]) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int) and str(value[0]) in nodes


def canonical(prompt: dict[str, Any], id_map: dict[str, int] | None = None) -> dict[str, Any]:
    """Nodes with class_type and inputs only (``_meta`` is ignored by ComfyUI), ids renamed by ``id_map``."""
    nodes = {str(k): v for k, v in prompt.items() if isinstance(v, dict) and "class_type" in v}

    def ren(nid: str) -> str:
        return str(id_map[nid]) if id_map else nid

    out: dict[str, Any] = {}
    for nid, node in nodes.items():
        inputs = {}
        for name, value in (node.get("inputs") or {}).items():
            inputs[name] = [ren(str(value[0])), value[1]] if is_link(value, nodes) else value
        out[ren(nid)] = {"class_type": node["class_type"], "inputs": inputs}
    return out


def backend_view(prompt: dict[str, Any], reference: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ComfyUI's executor sees of a canonical prompt.

    Dropped: the frontend's upload-button keys and literal inputs the node's schema does not
    declare (the backend ignores both). With ``reference``, inputs this prompt has but the reference
    lacks are dropped when they equal the schema default (a newer schema's added widget).
    """
    sch = schemas()
    out: dict[str, Any] = {}
    for nid, node in prompt.items():
        schema = sch.get(node["class_type"])
        inputs = {}
        for name, value in node["inputs"].items():
            if name in UPLOAD_KEYS:
                continue
            spec = schema.input(name) if schema else None
            if schema is not None and spec is None and not is_link(value, prompt):
                continue
            if reference is not None and name not in reference.get(nid, {}).get("inputs", {}) \
                    and spec is not None and value == default_for(spec):
                continue
            inputs[name] = value
        out[nid] = {"class_type": node["class_type"], "inputs": inputs}
    return out
