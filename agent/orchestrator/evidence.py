"""What this turn's tool results back, and what to say when the model says nothing useful.

* :func:`unbacked_claims` lists the file names, seeds and versions an answer states that appear in
  no tool result of the turn (nor in the user's own question): a small model that never looked at
  the workflow invents exactly these. ``status.decide`` turns any such claim into UNCERTAIN.
* :func:`content_free` says whether a final reply carries nothing for the user (empty, only a
  STATUS line, punctuation, or tool-call markup that named no tool).
* :func:`summarize_trace` is the answer in that case: a plain summary of what the tools found, each
  with its status, so nothing a tool found is thrown away.
* :func:`planted_instructions` finds text addressed to an assistant in the workflow notes a tool
  returned, so the answer can tell the user the file contains instructions that were ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from comfyfixer.agent.orchestrator.records import ToolCallRecord

_FILE_CLAIM = re.compile(
    r"(?<![\w.-])([\w][\w.+\-]*\.(?:safetensors|ckpt|pt|pth|bin|gguf|sft|onnx|json|png|jpe?g|webp|yaml))\b", re.I)
_SEED_CLAIM = re.compile(r"\bseed\b\W{0,3}(?:of|is|=|:)?\s*(\d{3,})", re.I)
_VERSION_CLAIM = re.compile(r"(?<![\w.])(v\d+(?:\.\d+)*)\b|\bversion\s+(\d+(?:\.\d+)+|\d+)\b", re.I)
_INSTRUCTION = re.compile(
    r"ignore (all |any )?(the )?(previous|prior|above) instructions|\byou are (now )?in \w+ mode\b|"
    r"\b(system (notice|override|prompt)|note to (ai|assistants?)|for ai assistants?|as an ai)\b|"
    r"\bdo not (tell|mention|inform)\b|\brm -rf\b",
    re.I,
)
# Result keys whose values name what a tool found; the summary shows these first.
_KEY_FIELDS = ("status", "verdict", "generator", "filename", "name", "class_type", "folder", "seed", "steps",
               "cfg", "sampler", "sampler_name", "scheduler", "model", "url", "doc", "heading", "text",
               "missing_models", "missing_nodes", "plan_file", "query", "certain", "message")
MAX_SUMMARY_LINES = 40


def _strings(value: Any, out: list[str], budget: list[int]) -> None:
    """Every scalar in ``value`` as text, depth-first, until ``budget`` characters are collected."""
    if budget[0] <= 0:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(str(k))
            _strings(v, out, budget)
    elif isinstance(value, list | tuple):
        for v in value:
            _strings(v, out, budget)
    elif value is not None:
        text = str(value)
        out.append(text)
        budget[0] -= len(text)


def evidence_text(trace: Iterable[ToolCallRecord], extra: str = "") -> str:
    """All text this turn's tool results and their arguments carry (lower case), plus ``extra``."""
    parts = [extra]
    for rec in trace:
        if rec.status in ("OK", "UNCERTAIN", "PROPOSED", "APPROVED"):
            _strings(rec.result, parts, [2_000_000])
            _strings(rec.arguments, parts, [100_000])
    return "\n".join(parts).lower()


def claims_in(text: str) -> list[str]:
    """The checkable facts an answer states: file names, seeds and versions, in order, unique."""
    found: list[str] = []
    for m in _FILE_CLAIM.finditer(text):
        found.append(m.group(1))
    for m in _SEED_CLAIM.finditer(text):
        found.append(m.group(1))
    for m in _VERSION_CLAIM.finditer(text):
        found.append(m.group(1) or m.group(2))
    return list(dict.fromkeys(found))


def unbacked_claims(answer: str, trace: Iterable[ToolCallRecord], question: str = "") -> list[str]:
    """Claims in ``answer`` that no tool result of the turn (nor the user's ``question``) contains.

    Matching is by case-insensitive substring, so ``v9`` is backed by ``juggernautXL_v9`` and a file
    name by a result that gives it with its folder. The check is deliberately narrow (names, seeds,
    versions): they are what a model invents, and what a user would copy into a download or a prompt.
    """
    haystack = evidence_text(trace, question)
    return [c for c in claims_in(answer) if c.lower() not in haystack]


def content_free(text: str) -> bool:
    """True when ``text`` tells the user nothing: empty, punctuation, or only call markup/JSON."""
    from comfyfixer.agent.orchestrator.toolcalls import unescape_markup

    stripped = re.sub(r"<\/?tool_call>|```\w*", " ", unescape_markup(text or ""))
    stripped = re.sub(r"(?im)^\s*[*_`>#\s]*STATUS\s*[:=].*$", " ", stripped)
    if not re.search(r"[^\W\d_]{2,}", stripped):
        return True
    core = stripped.strip()
    return core.startswith(("{", "[")) and core.endswith(("}", "]"))


def _brief(value: Any, limit: int = 160) -> str:
    if isinstance(value, dict):
        keys = [k for k in _KEY_FIELDS if value.get(k) not in (None, "", [], {})]
        inner = ", ".join(f"{k}={_brief(value[k], 80)}" for k in keys[:5])
        text = "{" + inner + "}" if inner else f"{{{len(value)} fields}}"
    elif isinstance(value, list):
        shown = [_brief(v, 100) for v in value[:4]]
        text = "; ".join(shown) + (f"; … {len(value) - 4} more" if len(value) > 4 else "")
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _result_lines(result: dict[str, Any] | None) -> list[str]:
    """Up to eight ``key: value`` lines from a result, identifying fields first."""
    if not result:
        return []
    keys = [k for k in _KEY_FIELDS if result.get(k) not in (None, "", [], {})]
    # Note texts are untrusted workflow content: a summary states findings, it never repeats them.
    keys += [k for k, v in result.items()
             if k not in keys and k != "notes" and isinstance(v, str | int | float | list) and v not in ("", [])]
    return [f"  - {k}: {_brief(result[k])}" for k in keys[:8]]


def summarize_trace(trace: Iterable[ToolCallRecord], reason: str) -> str:
    """A plain summary of this turn's tool results, each with its status, headed by ``reason``."""
    records = list(trace)
    lines = [f"The model gave no usable answer ({reason}). This is what the tools found:"]
    if not records:
        lines = [f"No answer: {reason}. No tool was called."]
    for rec in records:
        lines.append(f"- {rec.tool} ({rec.status})")
        if rec.error:
            lines.append(f"  - error: {_brief(rec.error.get('message'))}")
        lines += _result_lines(rec.result)
        if len(lines) >= MAX_SUMMARY_LINES:
            lines.append("- (more results not shown)")
            break
    return "\n".join(lines)


def planted_instructions(trace: Iterable[ToolCallRecord]) -> list[str]:
    """Note texts (from ``notes`` in tool results) that address an assistant with instructions."""
    found: list[str] = []
    for rec in trace:
        notes = (rec.result or {}).get("notes")
        if isinstance(notes, list):
            found += [n for n in notes if isinstance(n, str) and _INSTRUCTION.search(n)]
    return found
