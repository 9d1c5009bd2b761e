"""How the inventory compares a workflow's model names. ComfyUI's folder table, its legacy keys and
extensions live in ``tools/model_folders.py``.
"""

from __future__ import annotations


def normalize_model_name(name: str) -> str:
    """A workflow's model name as ComfyUI compares it: forward slashes, no leading ``./`` or ``/``."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)
