"""Bounded JSON reading for untrusted workflow files.

ComfyUI writes bare ``NaN``/``Infinity`` (Python's ``json`` accepts them). A huge file is
refused before it is read, and very deep nesting is refused instead of crashing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import WorkflowFormatError

# The largest official template is ~1 MB; a 64 MB workflow is far beyond any real one.
MAX_JSON_BYTES = 64 * 1024 * 1024
# Real workflows nest ~10 levels; Python's parser recurses, so cap well below its limit.
MAX_DEPTH = 200


def _depth_ok(text: str | bytes, limit: int) -> bool:
    """Cheap bracket scan (ignoring strings) so hostile nesting never reaches the parser."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = 0
    in_str = False
    escape = False
    for b in data:
        if in_str:
            if escape:
                escape = False
            elif b == 0x5C:
                escape = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif b in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_json_text(text: str | bytes, origin: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text from an untrusted source; errors name ``origin`` and the reason."""
    if not _depth_ok(text, max_depth):
        raise WorkflowFormatError(origin, f"JSON nested deeper than {max_depth} levels; not a workflow")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowFormatError(origin, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise WorkflowFormatError(origin, f"not UTF-8 text ({exc.reason})") from None
    except RecursionError:
        raise WorkflowFormatError(origin, "JSON nested too deeply; not a workflow") from None


def read_json_file(path: Path, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read and parse a JSON file, refusing files over ``max_bytes`` before reading them."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise WorkflowFormatError(str(path), "no such file") from None
    if size > max_bytes:
        raise WorkflowFormatError(
            str(path), f"file is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit for a workflow"
        )
    return parse_json_text(path.read_bytes(), str(path))
