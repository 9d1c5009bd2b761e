"""Tool calls in every shape small models and servers produce, turned into one shape.

A model may ask for a tool as

* a native ``tool_calls`` entry (the server parsed it), possibly with a slightly wrong name;
* ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` text (the ``nous`` template; a
  native-mode server does not parse it);
* a JSON object in the content, fenced (```json ... ```) or bare, with ``name`` and
  ``arguments`` or ``parameters`` (or OpenAI's ``{"function": {"name", "arguments"}}``) — what
  Qwen2.5-Coder-1.5B writes when asked directly.

:func:`extract_calls` finds the calls in a reply's text; :func:`match_name` maps a near-miss name
(``inspect-workflow``, ``functions.inspect_workflow``, ``inspect_worflow``) to the one registered
tool it clearly means, and to nothing when two tools are about as close. Only the name is repaired
here: the arguments stay the model's raw JSON text and are parsed and validated once, by
``Registry.call``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from comfyfixer.tools.jsontext import value_end

# rapidfuzz ratio (0-100) a near-miss name must reach, and how far ahead of the runner-up it must be.
NAME_THRESHOLD = 85.0
NAME_MARGIN = 5.0
# A reply longer than this is prose, not a tool call; scanning it for JSON would only find examples.
MAX_SCAN_CHARS = 20_000

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCED = re.compile(r"```(?:json|json5|tool_call|tool|javascript)?\s*\n?(.*?)```", re.S | re.I)


def _normal(name: str) -> str:
    """``Functions.Inspect-Workflow()`` → ``inspect_workflow``: case, separators and wrappers ignored."""
    name = name.strip().strip("`'\"").removesuffix("()")
    name = re.sub(r"^(functions|function|tools|tool)[.:/]", "", name, flags=re.I)
    return re.sub(r"[\s\-.]+", "_", name).lower()


def match_name(name: str | None, names: Sequence[str]) -> str | None:
    """The registered tool ``name`` means, or None when it means none of them or is ambiguous.

    Exact names win; then names equal after :func:`_normal`; then the best rapidfuzz ratio when it
    reaches ``NAME_THRESHOLD`` and beats every other name by ``NAME_MARGIN`` — so ``resolve_mode``
    maps to ``resolve_model`` but a name halfway between ``resolve_node`` and ``resolve_model`` maps
    to neither (the model is told the valid names instead).
    """
    if not name:
        return None
    if name in names:
        return name
    wanted = _normal(name)
    normal = {_normal(n): n for n in names}
    if wanted in normal:
        return normal[wanted]
    from rapidfuzz import fuzz

    scored = sorted(((fuzz.ratio(wanted, key), real) for key, real in normal.items()), reverse=True)
    if not scored or scored[0][0] < NAME_THRESHOLD:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < NAME_MARGIN:
        return None
    return scored[0][1]


def _loads(text: str) -> Any:
    """JSON, then json5 (single quotes, trailing commas: what small models write); None if neither."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import json5

        return json5.loads(text)
    except Exception:  # json5 raises several types for bad input; any of them means "not a call"
        return None


def _as_call(obj: Any, names: Sequence[str]) -> tuple[str, str] | None:
    """``(registered name, arguments as JSON text)`` when ``obj`` is shaped like one tool call."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI's {"type": "function", "function": {...}}
        obj = obj["function"]
    raw_name = obj.get("name") or obj.get("tool") or obj.get("tool_name")
    if not isinstance(raw_name, str):
        return None
    args: Any = None
    for key in ("arguments", "parameters", "args", "input"):
        if key in obj:
            args = obj[key]
            break
    else:
        if set(obj) - {"name", "tool", "tool_name", "type"}:
            return None  # other keys but no arguments: data that happens to have a "name"
        args = {}
    name = match_name(raw_name, names)
    if name is None:
        return None
    if isinstance(args, str):
        return name, args  # the model's own JSON text; Registry.call parses it once
    return name, json.dumps(args if args is not None else {}, ensure_ascii=False)


def _calls_in(obj: Any, names: Sequence[str]) -> list[tuple[str, str]]:
    items = obj if isinstance(obj, list) else [obj]
    calls = [_as_call(item, names) for item in items]
    return [c for c in calls if c is not None] if all(c is not None for c in calls) else []


def _bare_object(text: str) -> str | None:
    """The text from the first ``{`` (or ``[``) to its matching bracket, when only prose surrounds it."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    end = value_end(text, start)
    return text[start:end] if end is not None else None


def unescape_markup(text: str) -> str:
    """``text`` with HTML entities decoded when it carries escaped markup.

    llama-cpp-python's ``chatml-function-calling`` template HTML-escapes the conversation, so a model
    that copies a ``<tool_call>`` from its history writes ``&lt;tool_call&gt;`` and ``&#34;``.
    """
    if "&lt;" in text or "&#34;" in text or "&quot;" in text:
        import html

        return html.unescape(text)
    return text


def extract_calls(text: str, names: Sequence[str]) -> list[tuple[str, str]]:
    """The tool calls written in a reply's ``text``, as ``(registered name, JSON arguments text)``.

    Tried in order, the first shape that yields calls wins: ``<tool_call>`` blocks, fenced JSON
    blocks, then one bare JSON object (or list of them) in the text. A block counts only when it is
    shaped like a call to a registered tool (after :func:`match_name`); an answer that merely
    contains JSON data is left alone. Returns ``[]`` when there is no call.
    """
    if not text or len(text) > MAX_SCAN_CHARS:
        return []
    text = unescape_markup(text)
    for pattern in (_TAGGED, _FENCED):
        blocks = pattern.findall(text)
        found = [call for block in blocks for call in _calls_in(_loads(block), names)]
        if found:
            return found
    bare = _bare_object(text)
    return _calls_in(_loads(bare), names) if bare else []
