"""Cheap extraction of the ComfyUI graphs an image embeds (UI ``workflow``, API ``prompt``).

Kept light on purpose: the workflow inspector imports it for every image input. ComfyUI core writes
PNG text chunks named ``prompt`` and ``workflow``, and EXIF values prefixed ``prompt:``/``workflow:`` in
WebP; saver packs use ``Prompt:``/``Workflow:`` prefixes, and some write one JSON value holding both.
All of these are recognised by :func:`find_graphs`.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.imagemeta.containers import ContainerError, ContainerInfo, read_container
from comfyfixer.tools.imagemeta.models import EmbeddedGraphs

log = logging.getLogger(__name__)

# Tag prefixes used by ComfyUI core (lower case) and Save Image Extended ("Prompt: ").
_PREFIXES = ("prompt:", "workflow:")


def loads_lenient(text: str) -> Any:
    """``json.loads`` that accepts bare NaN/Infinity (ComfyUI writes them) and stray NULs."""
    return json.loads(text.strip().strip("\x00"))


# Values in one metadata value (opening brackets plus commas, strings included: an over-estimate). Parsed,
# each costs ~8-100 bytes (30 MB of "{}," would be 640 MB) and the parsers walk them; the largest value
# in the 101-image corpus holds 6,582.
MAX_JSON_ITEMS = 500_000


def try_json(text: str | None) -> Any:
    """``text`` parsed as JSON when it looks like an object or array; None for anything else, for invalid JSON,
    for nesting deep enough to hit Python's recursion limit, and for more than ``MAX_JSON_ITEMS`` values
    (opening brackets plus commas, inside strings too: an over-estimate no real value comes near).
    """
    if not text:
        return None
    t = text.strip()
    if not t or t[0] not in "{[":
        return None
    memo = _PARSED.get()
    if memo is not None:
        hit = memo.get(id(t))
        if hit is not None and hit[0] is t:
            return hit[1]
    if len(t) > MAX_JSON_ITEMS and t.count(",") + t.count("{") + t.count("[") > MAX_JSON_ITEMS:
        log.warning("metadata JSON with more than %d values not parsed", MAX_JSON_ITEMS)
        result = None
    else:
        try:
            result = loads_lenient(t)
        except (ValueError, RecursionError):
            result = None
    if memo is not None:
        memo[id(t)] = (t, result)  # the text is kept with its result, so a reused id() never matches
    return result


# Within one image read, every parser that tries a value gets the same parse (a read tries a value with
# up to six parsers: 32 MiB of JSON would otherwise be parsed six times). Keyed by the text object, which
# the entry keeps alive; scoped to the read, so nothing outlives it.
_PARSED: ContextVar[dict[int, tuple[str, Any]] | None] = ContextVar("comfyfixer_imagemeta_parsed", default=None)


@contextmanager
def parse_once() -> Iterator[None]:
    """Parse each metadata value at most once inside this block (``try_json`` results are shared,
    so callers must treat them as read-only, as every parser here does)."""
    token = _PARSED.set({})
    try:
        yield
    finally:
        _PARSED.reset(token)


def is_api_prompt(obj: Any) -> bool:
    """API format: node id → {"class_type", "inputs"}.

    At least half of the top-level values must be nodes, so Civitai's extra keys beside the nodes are
    tolerated but a random JSON object with one such value is not taken for a prompt.
    """
    if not isinstance(obj, dict) or not obj:
        return False
    nodes = [v for v in obj.values() if isinstance(v, dict) and "class_type" in v]
    return len(nodes) > 0 and len(nodes) >= len(obj) // 2


def is_ui_workflow(obj: Any) -> bool:
    """UI format: {"nodes": [...], "links": [...]}."""
    return isinstance(obj, dict) and isinstance(obj.get("nodes"), list)


def api_nodes_only(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop non-node keys (Civitai adds ``extra``/``extraMetadata`` next to the nodes)."""
    return {k: v for k, v in obj.items() if isinstance(v, dict) and "class_type" in v}


def find_graphs(info: ContainerInfo) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[str]]:
    """(workflow, prompt, sources) found in the container's entries.

    PNG text keys ``prompt``/``workflow`` (ComfyUI core), values prefixed ``Prompt:``/``Workflow:`` (EXIF
    and WebP savers) and bare JSON in EXIF values are all tried; the first UI workflow and the first API
    prompt win. ``sources`` names where each came from, e.g. ``"workflow:png:tEXt:workflow"``.
    """
    workflow: dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    sources: list[str] = []

    def take(obj: Any, hint: str, where: str) -> None:
        """Keep ``obj`` as the workflow or prompt if it is one and that slot is still empty; ``hint`` says
        what the key promised, and a value holding both (``{"prompt": …, "workflow": …}``) is unpacked.
        """
        nonlocal workflow, prompt
        if is_ui_workflow(obj) and workflow is None and hint != "prompt":
            workflow = obj
            sources.append(f"workflow:{where}")
        elif is_api_prompt(obj) and prompt is None and hint != "workflow":
            prompt = api_nodes_only(obj)
            sources.append(f"prompt:{where}")
        elif isinstance(obj, dict) and hint == "":
            # {"prompt": {...}, "workflow": {...}} in one value (SaveImage-Plus), maybe as JSON strings.
            for sub in ("prompt", "workflow"):
                val = obj.get(sub)
                if isinstance(val, str):
                    val = try_json(val)
                if val is not None:
                    take(val, sub, where)

    for e in info.entries:
        key = e.key.lower()
        value = e.value
        if e.source.startswith("png:") and key in ("prompt", "workflow"):
            take(try_json(value), key, f"{e.source}:{e.key}")
            continue
        stripped = value.lstrip()
        low = stripped[:10].lower()
        for p in _PREFIXES:
            if low.startswith(p):
                take(try_json(stripped[len(p) :]), p[:-1], f"{e.source}:{e.key}")
                break
        else:
            if e.source.startswith("exif") and stripped[:1] == "{":
                take(try_json(stripped), "", f"{e.source}:{e.key}")
    return workflow, prompt, sources


def read_embedded_graphs(source: Path | bytes) -> EmbeddedGraphs | None:
    """ComfyUI ``workflow`` (UI) and ``prompt`` (API) embedded in a PNG/WebP/JPEG.

    Detects the container by magic bytes. Returns None for an image (or any other
    file) without ComfyUI graphs. Raises ``WorkflowFormatError`` when the image is
    truncated or hostile and no graph could be recovered.
    """
    name = str(source) if isinstance(source, Path) else "<image bytes>"
    try:
        info = read_container(source)
    except OSError as exc:
        raise WorkflowFormatError(name, f"cannot read the file ({exc.strerror or exc})") from exc
    except (ContainerError, struct.error) as exc:
        raise WorkflowFormatError(name, f"broken image ({exc})") from exc
    if info.kind is None:
        return None
    workflow, prompt, _ = find_graphs(info)
    if workflow is None and prompt is None:
        if info.problems:
            if "limit" in info.problems[0]:  # hostile or absurd, not merely damaged: say which
                raise WorkflowFormatError(
                    name, f"{info.kind.upper()} over a safety limit: {info.problems[0]}",
                    hint="far beyond any real image (hostile or broken); load the workflow JSON instead",
                )
            raise WorkflowFormatError(
                name, f"damaged {info.kind.upper()}: {info.problems[0]}", hint="re-export the image or load the workflow JSON"
            )
        return None
    return EmbeddedGraphs(workflow=workflow, prompt=prompt, container=info.kind)

