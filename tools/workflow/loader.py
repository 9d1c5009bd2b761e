"""Read a workflow from a file, bytes or parsed JSON: UI or API, plain or embedded in an image."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.workflow.api import looks_like_api, parse_api
from comfyfixer.tools.workflow.graph import Graph
from comfyfixer.tools.workflow.jsonload import MAX_JSON_BYTES, parse_json_text, read_json_file
from comfyfixer.tools.workflow.ui import parse_ui

# Images are sniffed by content; the extension is never trusted.
_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF8": "gif"}
WORKFLOW_SUFFIXES = (".json", ".png", ".webp", ".jpg", ".jpeg")


@dataclass
class LoadedWorkflow:
    path: str
    container: str  # json | png | webp | jpeg
    format: str  # ui | api
    data: dict[str, Any]
    graph: Graph
    other_half: dict[str, Any] | None = None  # the API prompt next to an embedded UI workflow


def sniff_container(head: bytes) -> str:
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"[") or head.startswith(b"\xef\xbb\xbf"):
        return "json"
    return "unknown"


def unwrap(data: Any, origin: str, depth: int = 0) -> tuple[str, dict[str, Any]]:
    """Find the workflow inside common wrappers; returns (format, workflow dict)."""
    if depth > 4:
        raise WorkflowFormatError(origin, "wrapped too deeply to find a workflow")
    if not isinstance(data, Mapping):
        raise WorkflowFormatError(
            origin, f"top level is a JSON {type(data).__name__}, not an object",
            hint="a ComfyUI workflow is an object with 'nodes' (UI) or {id: {class_type, inputs}} (API)",
        )
    if isinstance(data.get("nodes"), list):
        return "ui", dict(data)
    if looks_like_api(data):
        return "api", dict(data)
    for key in ("workflow", "prompt"):
        inner = data.get(key)
        if isinstance(inner, str):
            try:
                inner = parse_json_text(inner, origin)
            except WorkflowFormatError:
                continue
        if isinstance(inner, Mapping):
            return unwrap(inner, origin, depth + 1)
    if isinstance(data.get("input"), Mapping):  # worker-comfyui request body
        return unwrap(data["input"], origin, depth + 1)
    raise WorkflowFormatError(
        origin, "not a ComfyUI workflow: no 'nodes' list (UI format) and no {id: {class_type, inputs}} nodes (API format)"
    )


def _from_image(raw: bytes | Path, origin: str, container: str) -> LoadedWorkflow:
    from comfyfixer.tools.imagemeta import read_embedded_graphs

    try:
        found = read_embedded_graphs(raw)
    except WorkflowFormatError as exc:  # re-name: the reader only saw bytes
        raise WorkflowFormatError(origin, exc.reason, hint=exc.hint) from None
    if found is None or (found.workflow is None and found.prompt is None):
        raise WorkflowFormatError(origin, f"{container.upper()} image carries no ComfyUI workflow or prompt")
    if found.workflow is not None and isinstance(found.workflow.get("nodes"), list):
        graph = parse_ui(found.workflow, origin=origin)
        return LoadedWorkflow(origin, container, "ui", found.workflow, graph, other_half=found.prompt)
    if found.prompt is not None:
        fmt, data = unwrap(found.prompt, origin)
        graph = parse_ui(data, origin=origin) if fmt == "ui" else parse_api(data, origin=origin)
        return LoadedWorkflow(origin, container, fmt, data, graph)
    raise WorkflowFormatError(origin, "embedded workflow is not in a format we can read")


def load_workflow(source: Path | str | bytes | Mapping[str, Any], *, origin: str | None = None) -> LoadedWorkflow:
    """Load any workflow: a path, raw bytes, or an already-parsed dict.

    Raises ``WorkflowFormatError`` naming the file and what was wrong.
    """
    if isinstance(source, Mapping):
        name = origin or "<workflow>"
        fmt, data = unwrap(source, name)
        return LoadedWorkflow(name, "json", fmt, data, parse_ui(data, origin=name) if fmt == "ui" else parse_api(data, origin=name))
    if isinstance(source, bytes):
        name = origin or "<bytes>"
        raw = source
    else:
        path = Path(source)
        name = origin or str(path)
        if path.is_dir():
            raise WorkflowFormatError(name, "is a folder, not a workflow file")
        try:
            with path.open("rb") as fh:
                head = fh.read(16)
        except FileNotFoundError:
            raise WorkflowFormatError(name, "no such file") from None
        except OSError as exc:
            raise WorkflowFormatError(name, f"cannot be read ({exc.strerror})") from None
        kind = sniff_container(head)
        if kind == "json" or kind == "unknown":
            if kind == "unknown" and not head:
                raise WorkflowFormatError(name, "file is empty")
            data_any = read_json_file(path, max_bytes=MAX_JSON_BYTES)
            fmt, data = unwrap(data_any, name)
            return LoadedWorkflow(name, "json", fmt, data, parse_ui(data, origin=name) if fmt == "ui" else parse_api(data, origin=name))
        if kind in ("png", "webp", "jpeg"):
            # The reader seeks from chunk to chunk: pixel data is never loaded.
            return _from_image(path, name, kind)
        raise WorkflowFormatError(name, "GIF images do not carry ComfyUI workflows")
    kind = sniff_container(raw[:16])
    if kind in ("png", "webp", "jpeg"):
        return _from_image(raw, name, kind)
    if kind == "gif":
        raise WorkflowFormatError(name, "GIF images do not carry ComfyUI workflows")
    if len(raw) > MAX_JSON_BYTES:
        raise WorkflowFormatError(name, f"{len(raw) / 1e6:.0f} MB is over the limit for a workflow")
    fmt, data = unwrap(parse_json_text(raw, name), name)
    return LoadedWorkflow(name, "json", fmt, data, parse_ui(data, origin=name) if fmt == "ui" else parse_api(data, origin=name))


def iter_workflow_files(paths: list[Path] | list[str]) -> list[Path]:
    """Expand files and folders (recursively) into workflow candidates: JSON and images, sorted.

    A file reached twice (named twice, or through a link) is listed once, where it was first seen."""
    out: list[Path] = []
    seen: set[str] = set()
    folders: dict[str, str] = {}  # each folder resolved once, not once per file in it
    for p in map(Path, paths):
        candidates = _files_below(p) if p.is_dir() else [(str(p), p.is_symlink())]
        for c, link in candidates:
            if link:
                key = os.path.realpath(c)
            else:
                head, name = os.path.split(c)
                parent = folders.get(head)
                if parent is None:
                    parent = folders[head] = os.path.realpath(head or ".")
                key = os.path.join(parent, name)
            if key not in seen:
                seen.add(key)
                out.append(Path(c))
    return out


def _files_below(folder: Path) -> list[tuple[str, bool]]:
    """Workflow candidates below ``folder`` (any depth, links to folders not followed), in path order, each
    with whether it is a link.

    ``os.scandir`` with string paths: this lists every file on every check, and ``Path.rglob`` costs several
    times as much for the same answer (a directory entry already says whether it is a regular file)."""
    found: list[tuple[tuple[str, ...], str, bool]] = []
    stack: list[tuple[str, tuple[str, ...]]] = [(str(folder), ())]
    while stack:
        top, parts = stack.pop()
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append((e.path, (*parts, e.name)))
                elif os.path.splitext(e.name)[1].lower() in WORKFLOW_SUFFIXES and e.is_file():
                    found.append(((*parts, e.name), e.path, e.is_symlink()))
            except OSError:
                continue
    found.sort()  # by path parts, as sorting the Paths would
    return [(full, link) for _parts, full, link in found]
