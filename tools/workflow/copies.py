"""Versioned copies of a workflow: the next free ``<name>.vN.json``, the UI workflow a copy is made
from (a JSON file or an image that embeds one), writing the copy as a new file, never over one, and
the next free node and link ids for nodes added to it.

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


def write_new(target: Path, doc: dict[str, Any], *, option: str = "--out") -> None:
    """Write ``doc`` to ``target`` (its folder made if needed), never over an existing file; a folder
    that cannot take it is an InputError naming the file, its hint the command's folder ``option``."""
    from comfyfixer.tools.paths import atomic_write

    hint = f"choose a folder you can write to with {option}"
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


def _number(value: Any) -> int:
    """A saved id or counter; anything else (the workflow is untrusted input) counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def next_ids(doc: dict[str, Any]) -> tuple[int, int]:
    """A node id and a link id above every one in use, top level, subgraphs and their counters (the editor
    numbers nodes and links across the whole workflow, so a new node must not reuse a subgraph's id)."""
    defs = doc.get("definitions")
    subgraphs = defs.get("subgraphs") if isinstance(defs, dict) else None
    graphs = [doc, *(g for g in subgraphs or [] if isinstance(g, dict))] if isinstance(subgraphs, list) else [doc]

    def items(g: dict[str, Any], key: str) -> list[Any]:
        value = g.get(key)
        return value if isinstance(value, list) else []

    def state(g: dict[str, Any], key: str) -> int:
        st = g.get("state")
        return _number(st.get(key)) if isinstance(st, dict) else 0

    nodes = [_number(n.get("id")) for g in graphs for n in items(g, "nodes") if isinstance(n, dict)]
    links = [_number(lk[0] if isinstance(lk, list) and lk else lk.get("id") if isinstance(lk, dict) else None)
             for g in graphs for lk in items(g, "links")]
    nodes += [_number(doc.get("last_node_id"))] + [state(g, "lastNodeId") for g in graphs]
    links += [_number(doc.get("last_link_id"))] + [state(g, "lastLinkId") for g in graphs]
    return max(nodes, default=0) + 1, max(links, default=0) + 1


def bump_ids(doc: dict[str, Any], node_id: int, link_id: int) -> None:
    """Raise the document's and its subgraphs' id counters to at least ``node_id`` and ``link_id``."""
    if "last_node_id" in doc:
        doc["last_node_id"] = max(_number(doc["last_node_id"]), node_id)
    if "last_link_id" in doc:
        doc["last_link_id"] = max(_number(doc["last_link_id"]), link_id)
    defs = doc.get("definitions")
    subgraphs = defs.get("subgraphs") if isinstance(defs, dict) else None
    for g in subgraphs if isinstance(subgraphs, list) else []:
        state = g.get("state") if isinstance(g, dict) else None
        if isinstance(state, dict):
            state["lastNodeId"] = max(_number(state.get("lastNodeId")), node_id)
            state["lastLinkId"] = max(_number(state.get("lastLinkId")), link_id)
