"""What this turn's tool results back, and what to say when the model says nothing useful.

* :func:`unbacked_claims` lists the file names, seeds and versions an answer states that appear in
  no tool result of the turn (nor in the user's own question): a small model that never looked at
  the workflow invents exactly these. ``status.decide`` turns any such claim into UNCERTAIN.
* :func:`content_free` says whether a final reply carries nothing for the user (empty, only a
  STATUS line or a bare status word, punctuation, or tool-call markup that named no tool).
* :func:`summarize_trace` is the answer in that case: a plain summary of what the tools found, each
  with its status, so nothing a tool found is thrown away.
* :func:`planted_instructions` finds text addressed to an assistant in the workflow notes a tool
  returned, so the answer can tell the user the file contains instructions that were ignored.
* :func:`key_facts` names what the tools found that any answer should carry (the workflow's model
  files, what is missing, the saved plan and how to approve it, an image's generator, seed and model,
  a model search's candidates, the knowledge section used), and :func:`missing_facts` lists those
  an answer left out, to add after it — a small model's answer often drops exactly the file names. Facts
  come only from this turn's tool results, never from the model.
* :func:`strip_echoes` removes ``<tool_response>`` blocks a small model copies into its answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from comfyfixer.agent.orchestrator.records import ToolCallRecord
from comfyfixer.tools.model_folders import model_basename

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
    # a bare status word ("FAILED", "**OK**.") tells the user nothing either
    stripped = re.sub(r"^[\W_]*(OK|UNCERTAIN|FAILED)[\W_]*$", " ", stripped.strip())
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


_ECHO = re.compile(r"<tool_response>.*?(?:</tool_response>|\Z)", re.S | re.I)
MAX_FACTS = 8
KNOWLEDGE_EXCERPT = 400


def strip_echoes(text: str) -> str:
    """``text`` without ``<tool_response>`` blocks (an unclosed one runs to the end): a small model
    imitating the prompt's format repeats a tool result there instead of answering."""
    return _ECHO.sub("", text or "").strip()


def _names(items: Any, key: str, limit: int = 8) -> list[str]:
    """The distinct non-empty ``key`` values of the dicts in ``items``, at most ``limit``."""
    if not isinstance(items, list):
        return []
    return list(dict.fromkeys(str(i[key]) for i in items if isinstance(i, dict) and i.get(key)))[:limit]


def _excerpt(text: str, limit: int = KNOWLEDGE_EXCERPT) -> str:
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return cut[: end + 1] if end > limit // 2 else cut.rstrip() + "…"


def _facts_of(rec: ToolCallRecord) -> list[tuple[list[str], str]]:
    """(needles, line) pairs for one tool result: the line is added when the answer lacks a needle."""
    r = rec.result if isinstance(rec.result, dict) else {}
    status = f" ({rec.status})" if rec.status != "OK" else ""
    out: list[tuple[list[str], str]] = []
    if rec.tool == "identify_model" and r.get("status") == "IDENTIFIED" and r.get("family_label"):
        out.append(_identity_fact(r))
    if rec.tool == "build_workflow" and r.get("status") == "BUILT":
        args = rec.arguments if isinstance(rec.arguments, dict) else {}
        out.append(_build_fact(r, str(args.get("model") or "")))
    files = _names(r.get("models"), "filename")
    if files:
        out.append((files, "Model files the workflow loads: " + ", ".join(files)))
    for wf in r.get("workflows") or []:
        if not isinstance(wf, dict) or wf.get("status") == "runnable":
            continue
        missing = _names(wf.get("missing_models"), "filename")
        nodes = _names(wf.get("missing_node_types"), "class_type")
        what = [f"model files {', '.join(missing)}"] if missing else []
        what += [f"node types {', '.join(nodes)}"] if nodes else []
        if what:
            out.append(([*missing, *nodes], f"Missing on this ComfyUI for {wf.get('name') or wf.get('path')}: "
                        + "; ".join(what)))
    if r.get("plan_file"):
        plan = str(r["plan_file"])
        out.append(([plan, "comfyfixer approve"], f"Fix plan saved at {plan} (nothing was changed): review it, "
                    f"then approve it with `comfyfixer approve {plan}`."))
    if r.get("generator"):
        model = r.get("model")
        model_name = str(model.get("name")) if isinstance(model, dict) and model.get("name") else ""
        parts = [f"generator {r['generator']}"] + [f"{k} {r[k]}" for k in ("seed", "steps", "cfg", "sampler")
                                                   if r.get(k) not in (None, "")]
        parts += [f"model {model_name}"] if model_name else []
        needles = [str(r["generator"]), *([str(r["seed"])] if r.get("seed") is not None else []),
                   *([model_name] if model_name else [])]
        out.append((needles, "Image metadata: " + ", ".join(parts)))
    if r.get("method") and isinstance(r.get("certain"), list):
        certain = "; ".join(str(c) for c in r["certain"][:2])
        out.append(([str(r["method"])], f"Reconstruction{status}: method {r['method']}" +
                    (f"; certain: {certain}" if certain else "")))
    if r.get("query") and isinstance(r.get("candidates"), list):
        cands = _names(r["candidates"], "filename", 3)
        out.append(([str(r["query"]).rsplit(".", 1)[0]], f"Search for {r['query']}{status}: "
                    + (f"candidates {', '.join(cands)}" if cands else "no candidate found")))
    hits = r.get("hits")
    if isinstance(hits, list) and hits and isinstance(hits[0], dict) and hits[0].get("doc"):
        top = hits[0]
        out.append(([str(top["doc"])], f"Knowledge section {top['doc']}#{top.get('heading', '')}: "
                    + _excerpt(top.get("text", ""))))
    return out


def _identity_fact(r: dict[str, Any]) -> tuple[list[str], str]:
    """What a model is and where it goes, from an IDENTIFIED ``identify_model`` result."""
    folder = f"models/{r['folder']}" if r.get("folder") else ""
    words = [str(w) for w in r.get("trained_words") or []][:5]
    line = (f"{r.get('name')} is a {r['family_label']} {str(r.get('role') or 'model').replace('_', ' ')}"
            + (f"; it goes in {folder}" if folder else "") + (f"; trigger words: {', '.join(words)}" if words else ""))
    return [str(r["family_label"]), *([folder] if folder else [])], line


def _build_fact(r: dict[str, Any], model: str) -> tuple[list[str], str]:
    """The workflow a BUILT ``build_workflow`` result holds: which node loads the model, what else it needs,
    and the command that writes it (the assistant writes nothing)."""
    name = model_basename(model)
    api: dict[str, Any] = r["api"] if isinstance(r.get("api"), dict) else {}
    loaders = sorted({str(n.get("class_type")) for n in api.values() if isinstance(n, dict)
                      and any(isinstance(v, str) and model_basename(v) == name
                              for v in (n.get("inputs") or {}).values())}) if name else []
    companions = _names(r.get("companions"), "file", 4)
    task = str(r.get("task") or "txt2img")
    line = (f"Built a {task} workflow (validated against {r.get('schemas') or 'the node schemas'})"
            + (f": {', '.join(loaders)} loads {name}" if loaders else "")
            + (f"; it also needs {', '.join(companions)}" if companions else "")
            + f". Write it to a folder: `comfyfixer build {model or 'MODEL'} --task {task} --out DIR`.")
    return [*loaders, *companions[:1], "comfyfixer build"], line


def key_facts(trace: Iterable[ToolCallRecord]) -> list[tuple[list[str], str]]:
    """What this turn's successful tool results found that an answer should state: (needles, line)
    pairs, in call order, one per fact, lines unique."""
    facts: list[tuple[list[str], str]] = []
    seen: set[str] = set()
    for rec in trace:
        if rec.status not in ("OK", "UNCERTAIN"):
            continue
        for needles, line in _facts_of(rec):
            if line not in seen:
                seen.add(line)
                facts.append((needles, line))
    return facts


def missing_facts(answer: str, trace: Iterable[ToolCallRecord]) -> str:
    """The :func:`key_facts` ``answer`` does not state (any needle missing, any case), at most
    ``MAX_FACTS`` lines under one heading; "" when it states them all."""
    low = (answer or "").lower()
    lines = [line for needles, line in key_facts(trace) if any(n.lower() not in low for n in needles)]
    if not lines:
        return ""
    return "From the tool results:\n" + "\n".join(f"- {line}" for line in lines[:MAX_FACTS])
