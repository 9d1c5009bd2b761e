"""Bounded JSON reading for untrusted workflow files.

ComfyUI writes bare ``NaN``/``Infinity`` (Python's ``json`` accepts them). A huge file is
refused before it is read, and very deep nesting is refused instead of crashing.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import WorkflowFormatError

# The largest official template is ~1 MB; a 64 MB workflow is far beyond any real one.
MAX_JSON_BYTES = 64 * 1024 * 1024
# Real workflows nest ~10 levels; Python's parser recurses, so cap well below its limit.
MAX_DEPTH = 200


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Opening brackets become +1, closing ones -1 (0xff read as a signed byte).
_SIGNS = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")


def _depth_ok(text: str | bytes, limit: int) -> bool:
    """Bracket depth outside strings, computed at C speed, so hostile nesting never reaches the parser."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # Fast path: counting brackets inside strings too only over-estimates the depth.
    rough = data.translate(_SIGNS, _NOT_BRACKETS)
    if len(rough) <= limit or max(accumulate(array("b", rough))) <= limit:
        return True
    brackets = _STRING.sub(b"", data).translate(_SIGNS, _NOT_BRACKETS)
    return max(accumulate(array("b", brackets)), default=0) <= limit


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
