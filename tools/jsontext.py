"""Where a JSON object or array written inside free text ends.

Generators write JSON values into ``key: value`` parameter lines (A1111's ``Lora hashes: {...}``), and
small language models write tool calls as a JSON object amid prose. Both need the same string-aware
bracket match; :func:`value_end` is that scan, linear and without parsing anything.
"""

from __future__ import annotations


def value_end(text: str, start: int) -> int | None:
    """The index just past the bracket that closes the ``{`` or ``[`` at ``text[start]``, counting only
    brackets outside JSON strings (with their backslash escapes); ``None`` when it never closes."""
    depth, in_str, escape = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None
