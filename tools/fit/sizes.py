"""How big a model file's weights are, from the best source there is, and how that was known.

In order of trust:

1. ``header``: the file is in the ComfyUI folder and has a safetensors or GGUF header — exact
   parameter bytes (:mod:`comfyfixer.tools.fit.headers`), split per checkpoint part;
2. ``file-size``: the file is here but has no readable header (``.ckpt``, ``.pt``, ``.pth``);
3. ``workflow-note``: the workflow's own notes print the size next to the file name (official
   templates do: ``[flux1-dev.safetensors](...) (22.17 GB)``);
4. ``catalog``: ComfyUI-Manager's model list gives a size for that file name
   (:class:`~comfyfixer.tools.candidates.DownloadCandidate` ``size`` / ``size_label``);
5. ``knowledge``: the knowledge pack's model notes state it ("`t5xxl_fp16.safetensors` (about 9.8 GB)");
6. ``name``: the name states parameters and precision (``wan2.1_t2v_1.3B_fp16`` → 1.3 B × 2 bytes);
7. ``default``: the family's (diffusion models) or the role's typical size — the weakest guess, said so.

Sizes from 3–5 are file sizes, which exceed parameter bytes only by the header (kilobytes), so they
stand for the weights.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from comfyfixer.tools.fit.families import bytes_per_param_from_name, params_from_name

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"([\w.+\-]+\.(?:safetensors|gguf|ckpt|pt|pth|bin|sft))", re.I)
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(GB|GiB|MB|MiB|KB)\b", re.I)
_UNITS = {"gb": 1e9, "gib": 1024**3, "mb": 1e6, "mib": 1024**2, "kb": 1e3}

# What a file of each role typically weighs when nothing else is known (bytes): the common
# ComfyUI repackaged files listed in the knowledge pack (clip_l 246 MB, an SD VAE 335 MB, ...).
ROLE_DEFAULT_BYTES: dict[str, int] = {
    "text_encoder": int(4.9e9),  # an fp8 T5-XXL / UMT5-XXL, the usual large encoder
    "vae": int(0.335e9),
    "clip_vision": int(1.26e9),  # clip_vision_h / ViT-H
    "lora": int(0.3e9),
    "controlnet": int(1.45e9),
    "upscale": int(0.067e9),
    "other": int(0.5e9),
}


def parse_size_label(label: str | None) -> int | None:
    """Bytes of a printed size ("6.94GB", "319.8 MB", "2 GiB"), or None."""
    if not label:
        return None
    m = _SIZE_RE.search(label)
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()]) if m else None


def sizes_in_text(text: str, *, binary: bool = False) -> dict[str, int]:
    """File name → bytes for every file name followed by a printed size on the same line, before the
    next file name (so "a.safetensors (9.1 GB) or b.safetensors (4.8 GB)" gives both, and a name in
    a link whose size is printed after the link still counts).

    ``binary``: "GB" means GiB. The official templates' notes print sizes that way
    (``flux1-dev.safetensors (22.17 GB)`` is Hugging Face's 23,802,932,552 bytes = 22.17 GiB).
    """
    units = {**_UNITS, "gb": 1024**3, "mb": 1024**2} if binary else _UNITS
    found: dict[str, int] = {}
    for line in text.splitlines():
        names = list(_FILE_RE.finditer(line))
        for i, m in enumerate(names):
            name = m.group(1).rsplit("/", 1)[-1]
            # The segment ends at the next *different* file name: a link's URL repeats the name.
            end = len(line)
            for later in names[i + 1:]:
                if later.group(1).rsplit("/", 1)[-1] != name:
                    end = later.start()
                    break
            size = _SIZE_RE.search(line, m.end(), end)
            if size and name.lower() not in found:
                found[name.lower()] = int(float(size.group(1)) * units[size.group(2).lower()])
    return found


def knowledge_sizes(folder: Path) -> dict[str, int]:
    """Sizes the knowledge pack's notes print for model files (``about 9.8 GB``), by lower-case name."""
    out: dict[str, int] = {}
    for note in sorted(folder.glob("*.md")):
        for name, size in sizes_in_text(note.read_text(encoding="utf-8")).items():
            out.setdefault(name, size)
    return out


def name_estimate(filename: str) -> tuple[int, str] | None:
    """Bytes from the parameters and precision a file name states, or None when it states no parameters."""
    params = params_from_name(filename)
    if params is None:
        return None
    per = bytes_per_param_from_name(filename)
    how = f"{params:g} B parameters × {per if per is not None else 2:g} bytes"
    return int(params * 1e9 * (per if per is not None else 2.0)), how + ("" if per else " (precision assumed 16-bit)")


def note_texts(nodes: Iterable[object]) -> list[str]:
    """The texts of a workflow's Note / MarkdownNote nodes (their first widget value)."""
    texts = []
    for node in nodes:
        if "note" in getattr(node, "class_type", "").lower():
            values = getattr(node, "widgets_values", None)
            if isinstance(values, list) and values and isinstance(values[0], str):
                texts.append(values[0])
    return texts
