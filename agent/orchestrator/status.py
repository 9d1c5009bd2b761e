"""Deciding a run's status: OK, UNCERTAIN (with candidates and evidence) or FAILED (with why).

Rules, first match wins:

1. the model server failed → FAILED;
2. the round budget ran out before an answer → UNCERTAIN;
3. the answer is empty → UNCERTAIN;
4. the model's closing ``STATUS:`` line says FAILED or UNCERTAIN → that status, except that FAILED
   becomes UNCERTAIN when every tool call of the turn returned a result (OK or UNCERTAIN) and at least
   one did: the tools did their part, and the model's word alone is no more evidence of failure than
   of success;
5. a tool returned UNCERTAIN and no later call of the same tool returned OK → UNCERTAIN
   (the model's own "OK" is not evidence; a tool result is);
6. no tool of this turn returned a result (OK or UNCERTAIN) → UNCERTAIN: nothing backs the answer,
   whatever the model declared;
7. the answer names file names, seeds or versions that appear in no tool result of the turn (nor in
   the question) → UNCERTAIN, naming them (``evidence.unbacked_claims``);
8. otherwise OK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from comfyfixer.agent.orchestrator.evidence import unbacked_claims
from comfyfixer.agent.orchestrator.records import AnswerStatus, ToolCallRecord

STATUS_LINE = re.compile(r"^\s*[*_`>#\s]*STATUS\s*[:=]\s*[*_`]*\s*(OK|UNCERTAIN|FAILED)\b.*$", re.I | re.M)
_LEADING = re.compile(r"^\s*[*_`]*\s*(UNCERTAIN|FAILED)\b", re.I)
MAX_CANDIDATES = 12


@dataclass
class Verdict:
    """The decided outcome of a run before it becomes an ``AgentAnswer``: ``status``, the ``answer`` text
    without its STATUS line, the ``reason`` for anything but OK, up to ``MAX_CANDIDATES`` candidates
    (trimmed to their identifying keys) and the evidence (every OK, UNCERTAIN or ERROR tool call).
    """
    status: AnswerStatus
    answer: str
    reason: str | None = None
    candidates: list[Any] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)


def split_status(text: str) -> tuple[str, str | None]:
    """The answer without its closing ``STATUS:`` line, and the status that line declared."""
    matches = list(STATUS_LINE.finditer(text))
    if matches:
        last = matches[-1]
        cleaned = (text[: last.start()] + text[last.end():]).strip()
        return cleaned, last.group(1).upper()
    lead = _LEADING.match(text)
    return text.strip(), lead.group(1).upper() if lead else None


_CANDIDATE_KEYS = ("filename", "name", "url", "repo", "source", "score", "license", "needs_token")


def _brief(candidate: Any) -> Any:
    """Keep what identifies a candidate; tool results carry much more."""
    if isinstance(candidate, dict):
        return {k: candidate[k] for k in _CANDIDATE_KEYS if candidate.get(k) is not None} or candidate
    return candidate


def _candidates_of(result: dict[str, Any] | None) -> list[Any]:
    """Candidate lists in a tool result: top-level ``candidates``/``matches``/``options``, plus the
    candidates of UNCERTAIN items one level down (``{"items": [{"status": "UNCERTAIN", ...}]}``).
    """
    if not result:
        return []
    found: list[Any] = []
    for key in ("candidates", "matches", "options"):
        value = result.get(key)
        if isinstance(value, list):
            found.extend(value)
    for value in result.values():  # one level down: e.g. {"models": [{"candidates": [...]}]}
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and str(item.get("status", "")).upper() == "UNCERTAIN":
                found.extend(item.get("candidates") or [])
    return found


def _evidence(rec: ToolCallRecord) -> dict[str, Any]:
    """The trace entry as evidence: tool, arguments, status and the error message if any."""
    ev: dict[str, Any] = {"tool": rec.tool, "arguments": rec.arguments, "status": rec.status}
    if rec.error:
        ev["error"] = rec.error.get("message")
    return ev


def unresolved_uncertain(trace: list[ToolCallRecord]) -> list[ToolCallRecord]:
    """UNCERTAIN tool results not followed by an OK result from the same tool."""
    open_: list[ToolCallRecord] = []
    for i, rec in enumerate(trace):
        if rec.status != "UNCERTAIN":
            continue
        if not any(later.tool == rec.tool and later.status == "OK" for later in trace[i + 1:]):
            open_.append(rec)
    return open_


def decide(
    text: str,
    trace: list[ToolCallRecord],
    *,
    budget_exhausted: bool = False,
    failure: str | None = None,
    question: str = "",
) -> Verdict:
    """Apply the rules in the module docstring.

    ``text`` is the model's final reply (may be empty); ``failure`` is a readable server error, set by the
    engine; ``question`` is the user's message (names the user gave are not claims to back). Candidates come from the unsettled UNCERTAIN results, or from all results when none is
    open; FAILED verdicts carry none. An OK verdict carries no candidates either, so the UI shows choices
    only when there is something to choose.
    """
    answer, declared = split_status(text or "")
    uncertain = unresolved_uncertain(trace)
    candidates = [_brief(c) for rec in (uncertain or trace) for c in _candidates_of(rec.result)][:MAX_CANDIDATES]
    evidence = [_evidence(r) for r in trace if r.status in ("OK", "UNCERTAIN", "ERROR")]
    if failure:
        return Verdict("FAILED", answer, failure, [], evidence)
    if budget_exhausted:
        return Verdict("UNCERTAIN", answer, "the round limit was reached before a final answer", candidates, evidence)
    if not answer:
        return Verdict("UNCERTAIN", "", "the model gave an empty answer", candidates, evidence)
    answered = [r for r in trace if r.status in ("OK", "UNCERTAIN")]
    if declared == "FAILED" and answered and all(r.status in ("OK", "UNCERTAIN") for r in trace):
        tools = ", ".join(sorted({r.tool for r in answered}))
        return Verdict("UNCERTAIN", answer, f"the model said FAILED, but {tools} returned results",
                       candidates, evidence)
    if declared == "FAILED":
        return Verdict("FAILED", answer, "the model could not complete the task (see the answer)", [], evidence)
    if declared == "UNCERTAIN":
        return Verdict("UNCERTAIN", answer, "the model was not sure (see the answer)", candidates, evidence)
    if uncertain:
        tools = ", ".join(sorted({r.tool for r in uncertain}))
        return Verdict("UNCERTAIN", answer, f"{tools} returned UNCERTAIN and no later result settled it",
                       candidates, evidence)
    if not any(r.status in ("OK", "UNCERTAIN") for r in trace):
        return Verdict("UNCERTAIN", answer, "no tool result or knowledge section of this turn backs the answer",
                       candidates, evidence)
    unbacked = unbacked_claims(answer, trace, question)
    if unbacked:
        shown = ", ".join(unbacked[:6]) + (f" and {len(unbacked) - 6} more" if len(unbacked) > 6 else "")
        return Verdict("UNCERTAIN", answer, f"the answer states {shown}, which no tool result of this turn contains",
                       candidates, evidence)
    return Verdict("OK", answer, None, [], evidence)
