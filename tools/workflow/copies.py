"""Versioned copies of a workflow: the next free ``<name>.vN.json``, the UI workflow a copy is made
from (a JSON file or an image that embeds one), and writing the copy as a new file, never over one.

``tune`` and ``schema build --into`` both change a copy, never the original.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import InputError

_VERSION = re.compile(r"\.v(\d+)$")


def next_version(path: Path, out_dir: Path | None = None) -> Path:
    """``<stem>.v2.json``, or the next free ``.vN`` (a ``.vN`` stem continues from N)."""
    from comfyfixer.tools.paths import safe_stem

    stem = safe_stem(path.name)
    m = _VERSION.search(stem)
    base, n = (stem[: m.start()], int(m.group(1)) + 1) if m else (stem, 2)
    folder = out_dir or path.parent
    while (folder / f"{base}.v{n}.json").exists():
        n += 1
    return folder / f"{base}.v{n}.json"


def read_ui_workflow(path: Path, *, what: str) -> dict[str, Any]:
    """The UI workflow in ``path`` (a JSON file, or an image that embeds one), for ``what`` to change a
    copy of; an API prompt is refused with the way to get its UI form."""
    from comfyfixer.tools.workflow.loader import load_workflow

    try:
        loaded = load_workflow(path)
    except InputError as exc:
        raise InputError(exc.message, hint=exc.hint or "give a UI-format workflow JSON saved from ComfyUI") from None
    if loaded.format != "ui":
        raise InputError(f"{path}: an API-format prompt, not a UI-format workflow ({what} edits the workflows "
                         "ComfyUI saves)", hint="load it in ComfyUI, save the workflow (Workflow → Save), and give that file")
    return loaded.data


def write_new(target: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``target`` (its folder made if needed), never over an existing file; a folder
    that cannot take it is an InputError naming the file."""
    from comfyfixer.tools.paths import atomic_write

    hint = "choose a folder you can write to with --out"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {target.parent} is not a folder we can create "
                         f"({exc.strerror or type(exc).__name__})", hint=hint) from None
    try:
        atomic_write(target, json.dumps(doc, indent=2, ensure_ascii=False), exclusive=True)
    except FileExistsError:
        raise InputError(f"cannot write {target}: it exists, and nothing is overwritten", hint=hint) from None
    except OSError as exc:
        raise InputError(f"cannot write {target} ({exc.strerror or type(exc).__name__})", hint=hint) from None
