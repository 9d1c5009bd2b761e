"""How the inventory compares a workflow's model names. ComfyUI's folder table, its legacy keys and
extensions live in ``tools/model_folders.py``; ``default_folder_paths`` is re-exported here for
``tools/fit/report.py``, which reads it from this module.
"""

from __future__ import annotations

from comfyfixer.tools.model_folders import default_folder_paths

__all__ = ["default_folder_paths", "normalize_model_name"]


def normalize_model_name(name: str) -> str:
    """A workflow's model name as ComfyUI compares it: forward slashes, no leading ``./`` or ``/``."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)
