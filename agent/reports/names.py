"""File names for per-workflow reports: safe on every OS and unique (case-insensitively)."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"index", "con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def safe_stem(name: str, max_len: int = 100) -> str:
    """``"sub dir/Flux Dev.json"`` → ``"sub_dir__Flux_Dev"``: no separators, no dots at the ends."""
    stem = re.sub(r"\.(json|png|webp|jpe?g)$", "", name.strip(), flags=re.IGNORECASE)
    stem = stem.replace("\\", "/").replace("/", "__")
    stem = _UNSAFE.sub("_", stem).strip("._-")[:max_len].rstrip("._-") or "workflow"
    if stem.lower() in _RESERVED:
        stem += "_"
    return stem


def unique_stems(names: list[str]) -> list[str]:
    """One safe stem per name, in order, made unique with ``-2``, ``-3``... (compared case-insensitively)."""
    used: set[str] = set()
    out: list[str] = []
    for name in names:
        base = safe_stem(name)
        stem, n = base, 2
        while stem.lower() in used:
            stem = f"{base}-{n}"
            n += 1
        used.add(stem.lower())
        out.append(stem)
    return out
