"""Recorded ``object_info`` of custom node packs, shipped with the project.

``data/packs/<PackDir>.json`` holds, for one pack, its node entries exactly as ComfyUI's ``/object_info``
serves them with the pack installed in ``custom_nodes/<PackDir>``, plus a ``__pack__`` note: the
repository and commit they were recorded from, how (``evals/record_pack_schemas.py`` imports the pack's
source with heavy imports faked and calls ``INPUT_TYPES()``), which combos are folder listings (recorded
empty, as an empty install shows them) and which classes could not be recorded. ``SOURCES.md`` beside
them lists the same per pack.

They stand in for a live ComfyUI when a workflow or a built chain uses those packs and no server with
them installed is at hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.schema.loader import SchemaSet, parse_object_info

NOTE_KEY = "__pack__"


def _folder() -> Any:
    return resources.files("comfyfixer.tools.schema").joinpath("data", "packs")


@lru_cache(maxsize=1)
def recorded_packs() -> tuple[str, ...]:
    """The pack folder names with a recording, sorted (``ComfyUI-Impact-Pack``, ``comfyui-ollama``, …)."""
    return tuple(sorted(p.name[: -len(".json")] for p in _folder().iterdir() if p.name.endswith(".json")))


@cache
def _document(pack_dir: str) -> dict[str, Any]:
    if pack_dir not in recorded_packs():
        raise InputError(f"no recorded node schemas for pack {pack_dir!r}",
                         hint=f"recorded packs: {', '.join(recorded_packs())}")
    data: dict[str, Any] = json.loads(_folder().joinpath(f"{pack_dir}.json").read_text(encoding="utf-8"))
    return data


def pack_note(pack_dir: str) -> dict[str, Any]:
    """The recording's source note: ``repo``, ``commit``, ``commit_date``, ``recorded_by``,
    ``folder_listings`` (``{class: {input: folder}}``), ``skipped`` (``{class: why}``).

    Raises ``InputError`` for a pack without a recording.
    """
    return dict(_document(pack_dir)[NOTE_KEY])


def _source(pack_dir: str) -> str:
    note = _document(pack_dir)[NOTE_KEY]
    return f"{pack_dir} recorded from {note['repo']} @ {str(note['commit'])[:8]}"


@cache
def _pack_set(pack_dir: str) -> SchemaSet:
    nodes = {k: v for k, v in _document(pack_dir).items() if k != NOTE_KEY}
    return parse_object_info(nodes, _source(pack_dir))


def pack_schemas(*pack_dirs: str) -> SchemaSet:
    """Node schemas of the named packs (all recorded packs when none is named), with where they came from.

    When two packs define the same class the one named first wins. Raises ``InputError`` for a pack
    without a recording.
    """
    chosen = pack_dirs or recorded_packs()
    result = _pack_set(chosen[0])
    for pack_dir in chosen[1:]:
        result = result.merged(_pack_set(pack_dir))
    return result


@lru_cache(maxsize=1)
def class_packs() -> Mapping[str, str]:
    """Node class → the recorded pack that provides it (the first pack in name order on a clash)."""
    out: dict[str, str] = {}
    for pack_dir in recorded_packs():
        for class_type in _pack_set(pack_dir):
            out.setdefault(class_type, pack_dir)
    return out


@lru_cache(maxsize=1)
def folder_listings() -> Mapping[str, Mapping[str, str]]:
    """Node class → input → the model folder its combo lists, for the recorded packs' folder-listing combos
    (recorded empty, as an empty install shows them). A combo over several folders gives the first."""
    out: dict[str, dict[str, str]] = {}
    for pack_dir in recorded_packs():
        for class_type, inputs in _document(pack_dir)[NOTE_KEY].get("folder_listings", {}).items():
            for name, folders in inputs.items():
                out.setdefault(class_type, {}).setdefault(name, str(folders).split(",")[0])
    return out


@lru_cache(maxsize=1)
def unvalidated_combos() -> Mapping[str, frozenset[str]]:
    """Node class → the combo inputs whose choices the recorded pack gives as a tuple: ComfyUI checks a V1
    combo's value only against a list, so any value passes (Ollama's model list, filled by its frontend)."""
    out: dict[str, set[str]] = {}
    for pack_dir in recorded_packs():
        for class_type, names in _document(pack_dir)[NOTE_KEY].get("unvalidated_combos", {}).items():
            out.setdefault(class_type, set()).update(names)
    return {k: frozenset(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def custom_widget_types() -> Mapping[str, str]:
    """Input type → the recorded pack whose own frontend code makes it a widget (RMBG's ``COLORCODE``):
    ``/object_info`` cannot say so, yet the frontend stores such values in ``widgets_values``."""
    out: dict[str, str] = {}
    for pack_dir in recorded_packs():
        for type_name in _document(pack_dir)[NOTE_KEY].get("custom_widget_types", {}):
            out.setdefault(type_name, pack_dir)
    return out
