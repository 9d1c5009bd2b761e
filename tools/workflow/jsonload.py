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
# Values in one document (arrays, objects, and the items and keys they hold: counted as opening brackets
# plus commas). Parsed, each costs ~8-100 bytes, so 30 MB of "{}," would become 640 MB. The largest of
# 1,003 real workflows holds 71,747 in 0.98 MB; at that density a 64 MiB workflow holds ~4.9 million.
MAX_JSON_ITEMS = 6_000_000


# A JSON string, as an unrolled loop: 10x faster than an alternation per character on megabyte strings.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Opening brackets become +1, closing ones -1 (0xff read as a signed byte).
_SIGNS = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")


def _depth_ok(text: str | bytes, limit: int) -> bool:
    """Bracket depth outside strings, computed at C speed, so hostile nesting never reaches the parser."""
    return _shape_problem(text, limit, None) is None


def _shape_problem(text: str | bytes, max_depth: int, max_items: int | None) -> str | None:
    """Why the document must not reach the parser (too deep, too many values), at C speed; None if fine."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # Fast path: counting brackets and commas inside strings too only over-estimates depth and count.
    rough = data.translate(_SIGNS, _NOT_BRACKETS)
    count_ok = max_items is None or rough.count(1) + data.count(b",") <= max_items
    if count_ok and (len(rough) <= max_depth or max(accumulate(array("b", rough))) <= max_depth):
        return None
    outside = _STRING.sub(b"", data)
    brackets = outside.translate(_SIGNS, _NOT_BRACKETS)
    if max(accumulate(array("b", brackets)), default=0) > max_depth:
        return f"JSON nested deeper than {max_depth} levels; not a workflow"
    items = brackets.count(1) + outside.count(b",")
    if max_items is not None and items > max_items:
        return f"JSON holds more than {max_items:,} values ({items:,}); far beyond any workflow"
    return None


def parse_json_text(
    text: str | bytes, origin: str, *, max_depth: int = MAX_DEPTH, max_items: int = MAX_JSON_ITEMS
) -> Any:
    """Parse JSON text from an untrusted source; errors name ``origin`` and the reason.

    Refused before parsing: nesting deeper than ``max_depth`` (the parser recurses) and more than
    ``max_items`` values (arrays, objects, their items and keys: memory once parsed).
    """
    problem = _shape_problem(text, max_depth, max_items)
    if problem is not None:
        raise WorkflowFormatError(origin, problem)
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
