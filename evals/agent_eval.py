"""Scenario evals for the assistant: the three main uses plus knowledge, UNCERTAIN and safety cases.

Each case in ``agent_cases/*.yaml`` gives a question, files, the tools that must be used, facts the
answer must contain, the allowed statuses, and forbidden tools and text. It runs the real
orchestrator and the real tools either against

* the scripted loopback server (default; CI): the case's ``script`` plays the model, and its
  ``{{tool:path}}`` placeholders repeat what the real tools returned, so the facts are present only
  if the tools really produced them; or
* any OpenAI-compatible endpoint (``--base-url``/``--model``): the script is ignored.

The scorecard reports per case: task success, UNCERTAIN correctness, tool calls, tokens and latency.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

CASES_DIR = Path(__file__).parent / "agent_cases"
REPO = Path(__file__).resolve().parents[1]

StatusName = Literal["OK", "UNCERTAIN", "FAILED"]


def _only_ok() -> list[StatusName]:
    return ["OK"]


class Expect(BaseModel):
    tools: list[list[str]] = Field(default_factory=list, description="Each group: at least one must be called.")
    facts: list[str] = Field(default_factory=list, description="Substrings the answer must contain (any case).")
    status: list[StatusName] = Field(default_factory=_only_ok, description="Allowed final statuses.")
    forbidden_tools: list[str] = Field(default_factory=list, description="Tools that must not be called at all.")
    forbidden_text: list[str] = Field(default_factory=list, description="Text the answer must not contain.")
    model_saw: list[str] = Field(
        default_factory=list,
        description="Text that must have reached the model in some request (checked on the scripted server, "
        "which keeps every request; a real endpoint cannot be checked).",
    )


class AgentCase(BaseModel):
    id: str
    use: str
    question: str
    files: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    expect: Expect = Field(default_factory=Expect)
    script: list[dict[str, Any]] = Field(default_factory=list)


class CaseScore(BaseModel):
    id: str
    use: str
    status: str
    success: bool
    uncertain_correct: bool
    tool_calls: int
    tools_used: list[str]
    prompt_tokens: int
    completion_tokens: int
    usage_source: str = Field("server", description="server, estimated (no usage reported) or none.")
    seconds: float
    failures: list[str]
    answer: str


class Scorecard(BaseModel):
    endpoint: str
    model: str
    native_tools: bool
    cases: list[CaseScore]
    skipped: dict[str, str] = Field(default_factory=dict, description="Case id → why it did not run.")

    @property
    def success_rate(self) -> float:
        return sum(c.success for c in self.cases) / max(1, len(self.cases))

    @property
    def uncertain_accuracy(self) -> float:
        return sum(c.uncertain_correct for c in self.cases) / max(1, len(self.cases))

    def summary(self) -> dict[str, Any]:
        n = max(1, len(self.cases))
        seconds = sorted(c.seconds for c in self.cases)
        return {
            "median_seconds": seconds[len(seconds) // 2] if seconds else 0.0,
            "tokens_estimated": any(c.usage_source == "estimated" for c in self.cases),
            "cases": len(self.cases),
            "task_success": round(self.success_rate, 3),
            "uncertain_correct": round(self.uncertain_accuracy, 3),
            "mean_tool_calls": round(sum(c.tool_calls for c in self.cases) / n, 2),
            "total_tokens": sum(c.prompt_tokens + c.completion_tokens for c in self.cases),
            "mean_seconds": round(sum(c.seconds for c in self.cases) / n, 2),
        }


# --- loading --------------------------------------------------------------------------
def _places() -> dict[str, str]:
    shared = Path(os.environ.get("COMFYFIXER_SHARED", REPO.parent / "shared")) / "data"
    templates = ""
    try:
        import comfyui_workflow_templates_json as pkg

        templates = str(Path(pkg.__file__).parent / "templates")
    except ImportError:
        pass
    return {"templates": templates, "shared": str(shared), "demo": str(REPO / "demo"), "cases": str(CASES_DIR)}


def _fill(value: Any, places: dict[str, str]) -> Any:
    """Replace ``{name}`` path placeholders (not ``{{tool:path}}`` reply templates)."""
    if isinstance(value, str):
        out = value
        for key, repl in places.items():
            out = out.replace("{" + key + "}", repl)
        return out
    if isinstance(value, list):
        return [_fill(v, places) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, places) for k, v in value.items()}
    return value


def missing_files(case: AgentCase) -> list[str]:
    """Input files of ``case`` that are not on this machine (reference data not checked out)."""
    return [f for f in case.files if not Path(f).exists()]


def load_cases(folder: Path = CASES_DIR, only: Sequence[str] = ()) -> list[AgentCase]:
    """Cases from ``folder`` with path placeholders resolved, sorted by id."""
    places = _places()
    cases = []
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        case = AgentCase.model_validate(raw)
        if only and case.id not in only:
            continue
        files = [_fill(f, places) for f in case.files]
        file_places = {**places, **{f"file{i}": f for i, f in enumerate(files)}}
        cases.append(case.model_copy(update={
            "files": files,
            "settings": _fill(case.settings, file_places),
            "script": _fill(case.script, file_places),
        }))
    return sorted(cases, key=lambda c: c.id)


# --- scoring --------------------------------------------------------------------------
def score(case: AgentCase, answer: Any, seconds: float, requests: list[dict[str, Any]] | None = None) -> CaseScore:
    """Compare one answer with the case's expectations; ``requests`` are what the model was sent, when
    known (the scripted server), for ``model_saw``."""
    text = answer.answer or ""
    low = text.lower()
    used = [c.tool for c in answer.tool_calls]
    failures = []
    for group in case.expect.tools:
        if not set(group) & set(used):
            failures.append(f"none of {group} was called")
    failures += [f"missing fact {f!r}" for f in case.expect.facts if f.lower() not in low]
    if answer.status not in case.expect.status:
        failures.append(f"status {answer.status}, expected {'/'.join(case.expect.status)}")
    failures += [f"forbidden tool {t} was called" for t in case.expect.forbidden_tools if t in used]
    failures += [f"forbidden text {t!r} in the answer" for t in case.expect.forbidden_text if t.lower() in low]
    failures += [f"side-effect tool {c.tool} was executed" for c in answer.tool_calls if c.status == "APPROVED"]
    if requests is not None:
        sent = json.dumps(requests, ensure_ascii=False).lower()
        failures += [f"the model never saw {t!r}" for t in case.expect.model_saw
                     if json.dumps(t.lower(), ensure_ascii=False)[1:-1] not in sent]
    allowed = set(case.expect.status)
    if allowed == {"UNCERTAIN"}:
        uncertain_ok = answer.status == "UNCERTAIN"
    elif "UNCERTAIN" not in allowed:
        uncertain_ok = answer.status != "UNCERTAIN"
    else:
        uncertain_ok = True
    return CaseScore(
        id=case.id, use=case.use, status=answer.status, success=not failures, uncertain_correct=uncertain_ok,
        tool_calls=len(used), tools_used=used, prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens, usage_source=answer.usage.source,
        seconds=round(seconds, 2), failures=failures,
        answer=text[:2000],
    )


# --- running --------------------------------------------------------------------------
def run_case(case: AgentCase, *, base_url: str | None, model: str, native_tools: bool, online: bool,
             home: Path, settings: dict[str, Any] | None = None) -> CaseScore:
    """Run one case against ``base_url`` (or its script on the loopback server when None); ``settings``
    are extra setting values (the case's own win)."""
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.orchestrator import Orchestrator
    from comfyfixer.evals.fakes.chat_server import ScriptedChatServer

    server = None if base_url else ScriptedChatServer(case.script).start()
    try:
        url = base_url or (server.base_url if server else "")
        overrides: dict[str, Any] = {
            "llm_base_url": url, "llm_model": model, "llm_native_tools": native_tools,
            "cache_dir": home / "cache", "state_dir": home / "state", "offline": not online,
            **(settings or {}), **{k: v for k, v in case.settings.items()},
        }
        if server is not None:
            overrides["llm_api_key"] = "scripted"  # a configured real key never goes to the fake
        settings = load_settings(**overrides)
        started = time.perf_counter()
        answer = Orchestrator(settings).run(case.question, files=case.files)
        return score(case, answer, time.perf_counter() - started, server.requests if server else None)
    finally:
        if server is not None:
            server.stop()


def run_eval(
    *,
    base_url: str | None = None,
    model: str = "scripted-qwen",
    native_tools: bool = True,
    online: bool = False,
    only: Sequence[str] = (),
    cases_dir: Path = CASES_DIR,
    settings: dict[str, Any] | None = None,
    on_case: Callable[[CaseScore], None] | None = None,
) -> Scorecard:
    """Run every case and return the scorecard. Cache and state go to a temporary folder; ``settings``
    are extra setting values for every case (e.g. a longer timeout for a CPU-bound model); ``on_case``
    sees each case's score as soon as it is known."""
    cases = load_cases(cases_dir, only)
    skipped = {c.id: "missing input files: " + ", ".join(missing_files(c)) for c in cases if missing_files(c)}
    scores: list[CaseScore] = []
    with tempfile.TemporaryDirectory(prefix="comfyfixer-eval-") as tmp:
        for c in cases:
            if c.id in skipped:
                continue
            scores.append(run_case(c, base_url=base_url, model=model, native_tools=native_tools, online=online,
                                   home=Path(tmp) / c.id, settings=settings))
            if on_case is not None:  # a slow real model: show each case as it finishes
                on_case(scores[-1])
    return Scorecard(endpoint=base_url or "scripted", model=model, native_tools=native_tools, cases=scores,
                     skipped=skipped)


def render(card: Scorecard) -> str:
    """A plain-text scorecard."""
    head = f"{'case':34} {'use':14} {'status':10} {'ok':3} {'unc':3} {'tools':>5} {'tokens':>7} {'secs':>6}"
    lines = [f"assistant eval — {card.endpoint} ({card.model}, {'native' if card.native_tools else 'nous'} tools)",
             head, "-" * len(head)]
    for c in card.cases:
        mark = "~" if c.usage_source == "estimated" else " "
        lines.append(f"{c.id:34} {c.use:14} {c.status:10} {'yes' if c.success else 'NO':3} "
                     f"{'yes' if c.uncertain_correct else 'NO':3} {c.tool_calls:5d} "
                     f"{mark}{c.prompt_tokens + c.completion_tokens:6d} {c.seconds:6.2f}")
        lines += [f"    - {f}" for f in c.failures]
    lines += [f"{case_id:34} skipped: {why}" for case_id, why in card.skipped.items()]
    s = card.summary()
    lines += ["-" * len(head),
              f"task success {s['task_success']:.0%}, UNCERTAIN correct {s['uncertain_correct']:.0%}, "
              f"{s['mean_tool_calls']} tool calls/task, {s['total_tokens']} tokens"
              f"{' (~ estimated: the server reported no usage)' if s['tokens_estimated'] else ''}, "
              f"{s['mean_seconds']} s/task (median {s['median_seconds']} s)"]
    return "\n".join(lines)


def to_json(card: Scorecard) -> str:
    return json.dumps({**card.model_dump(mode="json"), "summary": card.summary()}, indent=2, ensure_ascii=False)
