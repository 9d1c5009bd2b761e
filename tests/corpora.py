"""Walks over the shared real corpora that several test modules use (a plain module: the tests folder is
not a package)."""

from __future__ import annotations

import json
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

# Markers of UI files whose API prompt was changed at queue time (seed controls, %date% names, group
# nodes, Anything Everywhere): their UI cannot show what the prompt says.
QUEUE_TIME_MARKERS = ('"randomize"', '"increment"', '"decrement"', "%", "groupNodes", "Everywhere")


def ui_api_pairs(corpus: Path, known: Container[str],
                 markers: tuple[str, ...] = QUEUE_TIME_MARKERS) -> Iterator[tuple[Path, Path, dict[str, Any]]]:
    """``(ui_file, api_file, api_prompt)`` for each ``*.workflow.json`` beside its ``*.prompt.json`` whose
    classes are all ``known`` and whose UI carries none of ``markers``."""
    for ui_file in sorted(corpus.rglob("*.workflow.json")):
        api_file = ui_file.with_name(ui_file.name.replace(".workflow.json", ".prompt.json"))
        if not api_file.exists():
            continue
        text = ui_file.read_text(encoding="utf-8")
        api = json.loads(api_file.read_text(encoding="utf-8"))
        if any(m in text for m in markers) or any(v["class_type"] not in known for v in api.values()):
            continue
        yield ui_file, api_file, api
