"""File names for per-workflow reports: safe on every OS and unique (case-insensitively).

Case-insensitive because macOS and Windows file systems are: ``Flux.json`` and ``flux.json`` would
otherwise write the same report file.
"""

from __future__ import annotations

from comfyfixer.tools import paths


def safe_stem(name: str, max_len: int = 100) -> str:
    """``"sub dir/Flux Dev.json"`` → ``"sub_dir__Flux_Dev"`` (the project's one rule, in ``tools/paths.py``).

    At most ``max_len`` characters. Kept as a re-export so report code names its own dependency.
    """
    return paths.safe_stem(name, max_len=max_len)


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
