"""The run loop: qwen-agent's ``FnCallAgent`` over the project's typed tools, with our own round
budget, streaming callbacks, tool trace, status decision and approvals.

qwen-agent is imported lazily (and only after :func:`prepare_runtime`), so importing this module
is cheap.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from comfyfixer.agent.config import Settings
from comfyfixer.agent.orchestrator.adapter import RunState, make_qwen_tool
from comfyfixer.agent.orchestrator.conversation import Conversation
from comfyfixer.agent.orchestrator.llm import make_llm, prepare_runtime
from comfyfixer.agent.orchestrator.prompts import guess_task, system_prompt
from comfyfixer.agent.orchestrator.records import AgentAnswer, ProposedAction, ToolCallRecord, Usage
from comfyfixer.agent.orchestrator.status import STATUS_LINE, decide
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ApprovalError, ComfyFixerError
from comfyfixer.tools.toolset import Registry

log = logging.getLogger(__name__)

TextCallback = Callable[[str], None]
ToolStartCallback = Callable[[str, Any], None]
ToolEndCallback = Callable[[ToolCallRecord], None]


class ModelUnavailable(ComfyFixerError):
    """No model server answered at the configured base URL.

    Raised (not turned into a FAILED answer) because nothing the model could do would help: the user
    must start a server or fix ``COMFYFIXER_LLM_BASE_URL``. Keeps ``base_url`` and ``model`` for the CLI.
    """

    def __init__(self, base_url: str, model: str, detail: str) -> None:
        super().__init__(f"no model server answered at {base_url} ({detail})",
                         hint="start one, e.g. `ollama run qwen2.5:7b-instruct`, or set COMFYFIXER_LLM_BASE_URL")
        self.base_url = base_url
        self.model = model


class _BudgetExhausted(Exception):
    """Raised inside the agent loop when the next LLM call would pass the round budget."""


class _EmptyReply(Exception):
    """Raised when the model's last reply was empty (qwen-agent would just ask again)."""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(item.get("text") or "") for item in content if isinstance(item, dict))
    return ""


class _TextStreamer:
    """Forwards an answer's text as it grows (qwen-agent yields the whole response so far, not
    deltas). A partial line that could still become tool-call markup or the closing STATUS line is
    held back until it is complete; the STATUS line itself is never shown."""

    def __init__(self, sink: TextCallback | None) -> None:
        self.sink = sink
        self.emitted: dict[int, int] = {}

    def update(self, key: int, text: str, *, final: bool = False) -> None:
        """Send the not-yet-shown part of message ``key``'s ``text`` to the sink.

        ``key`` is the message's index in the response, so each assistant message streams separately.
        With ``final`` everything left is sent, minus any STATUS line, ending in one newline.
        """
        if self.sink is None:
            return
        done = self.emitted.get(key, 0)
        cut = len(text) if final else self._safe_end(text)
        if cut <= done or "<tool_call" in text[done:cut]:
            return
        chunk = STATUS_LINE.sub("", text[done:cut])
        self.emitted[key] = cut
        if final:
            chunk = chunk.rstrip() + "\n"
        if chunk.strip() or (chunk and not final):
            self.sink(re.sub(r"\n{3,}", "\n\n", chunk))

    @staticmethod
    def _safe_end(text: str) -> int:
        line_start = text.rfind("\n") + 1
        line = text[line_start:]
        head = line.lstrip(" *_`>#").upper()
        risky = "<" in line or "STATUS".startswith(head[:6]) or head.startswith("STATUS")
        return line_start if risky else len(text)


class Orchestrator:
    """Answers questions with a Qwen model (any OpenAI-compatible server) and the project's tools.

    One instance serves a whole conversation: it builds the ``ToolContext`` once from ``settings``
    (unless ``ctx`` is given) and takes the capability registry from ``agent/services.py`` (tests pass
    their own ``registry``). Every :meth:`run` builds a fresh qwen-agent agent, so no state leaks from one
    question to the next except the conversation history the caller passes in. ``settings.llm_max_rounds``
    bounds the LLM calls per question; when it runs out the answer is UNCERTAIN, not an error.
    """

    def __init__(self, settings: Settings, *, registry: Registry | None = None, ctx: ToolContext | None = None) -> None:
        from comfyfixer.agent import services

        self.settings = settings
        self.ctx = ctx or services.build_context(settings)
        self.registry = registry if registry is not None else services.registry()
        self.max_rounds = settings.llm_max_rounds
        prepare_runtime(settings.cache_dir / "qwen-agent")

    # --- one question -----------------------------------------------------------
    def run(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        files: Sequence[Path | str] = (),
        task: str | None = None,
        on_text: TextCallback | None = None,
        on_tool_start: ToolStartCallback | None = None,
        on_tool_end: ToolEndCallback | None = None,
    ) -> AgentAnswer:
        """Answer ``question`` (continuing ``conversation`` if given, and saving the turn to it).

        ``files`` are listed in the user message as paths for the tools to read; their content is never
        pasted into the prompt. ``task`` picks the task prompt (default: :func:`guess_task` on the question).
        ``on_text`` receives the answer as it streams; ``on_tool_start``/``on_tool_end`` see each tool call.

        The status follows ``status.py``: a budget that ran out or an empty reply gives UNCERTAIN, a server
        error gives FAILED with a readable reason. Raises :class:`ModelUnavailable` only when the server
        cannot be reached at all. Token usage is the server's when it reports it, else estimated.
        """
        from qwen_agent.llm.base import ModelServiceError

        usage = Usage()
        state = RunState(on_tool_start=on_tool_start, on_tool_end=on_tool_end)
        task = task or guess_task(question)
        agent = self._make_agent(state, usage, task)
        user_text = question
        if files:
            listed = "\n".join(f"- {Path(f).expanduser()}" for f in files)
            user_text += f"\n\nFiles the user attached (read them with the tools):\n{listed}"
        history = list(conversation.messages) if conversation else []
        messages = [*history, {"role": "user", "content": user_text}]

        streamer = _TextStreamer(on_text)
        response: list[dict[str, Any]] = []
        budget_exhausted = False
        failure: str | None = None
        started = time.perf_counter()
        stream = agent.run(messages)
        try:
            for response in stream:
                for i, msg in enumerate(response):
                    if msg.get("role") == "assistant" and not msg.get("function_call"):
                        streamer.update(i, _text(msg.get("content")))
        except _BudgetExhausted:
            budget_exhausted = True
        except _EmptyReply:
            response = [m for m in response if m.get("role") != "assistant" or m.get("function_call")]
        except ModelServiceError as exc:
            failure = self._model_failure(exc)
        finally:
            stream.close()
        usage.seconds = round(time.perf_counter() - started, 3)
        if usage.source == "none" and usage.llm_calls:
            _estimate_usage(usage, agent, messages, response)

        final = ""
        if response and response[-1].get("role") == "assistant" and not response[-1].get("function_call"):
            final = _text(response[-1].get("content"))
            streamer.update(len(response) - 1, final, final=True)
        verdict = decide(final, state.trace, budget_exhausted=budget_exhausted, failure=failure)
        answer = AgentAnswer(
            status=verdict.status,
            answer=verdict.answer or _fallback_answer(verdict.reason, state.trace),
            reason=verdict.reason,
            candidates=verdict.candidates,
            evidence=verdict.evidence,
            tool_calls=state.trace,
            proposals=state.proposals,
            usage=usage,
            conversation_id=conversation.id if conversation else None,
        )
        if conversation is not None:
            conversation.append_turn(question, [messages[-1], *response], answer)
        return answer

    # --- approvals --------------------------------------------------------------
    def execute_proposal(
        self, proposal: ProposedAction, approval_token: str, *, conversation: Conversation | None = None
    ) -> ToolCallRecord:
        """Run a proposed side-effect call the user approved. Only the UI holds ``approval_token``.

        The token is compared in constant time with the one kept on ``proposal``; a mismatch raises
        ``ApprovalError`` and nothing runs. The call goes through ``Registry.call`` with side effects allowed,
        and its record (status APPROVED or ERROR) is appended to ``conversation`` as an event. The model does
        not see the result unless the user asks again.
        """
        if not secrets.compare_digest(approval_token, proposal.approval_token):
            raise ApprovalError(f"approval for {proposal.proposal_id} does not match", hint="approve it again")
        outcome = self.registry.call(proposal.tool, proposal.arguments, self.ctx, allow_side_effects=True)
        rec = ToolCallRecord(
            call_id=f"approved-{proposal.proposal_id}", turn=0, tool=proposal.tool, arguments=proposal.arguments,
            status="APPROVED" if outcome.ok else "ERROR", duration_ms=outcome.duration_ms, result=outcome.result,
            error=outcome.error.model_dump(exclude_none=True) if outcome.error else None,
        )
        if conversation is not None:
            conversation.append_event("approved", {"tool_calls": [rec.model_dump(mode="json")]})
        return rec

    # --- internals --------------------------------------------------------------
    def _make_agent(self, state: RunState, usage: Usage, task: str | None) -> Any:
        """A qwen-agent ``FnCallAgent`` for one run: our tools wrapped by the adapter, the LLM with the wire
        fixes, the task's system prompt, and hooks that enforce the round budget, stop on an empty reply and
        answer calls to unknown tools with the list of valid names.
        """
        from qwen_agent.agents import FnCallAgent

        registry, max_rounds = self.registry, self.max_rounds
        tools = [make_qwen_tool(spec, registry, self.ctx, state) for spec in registry]

        class _Agent(FnCallAgent):
            def __init__(self, **kw: Any) -> None:
                # FnCallAgent builds a Memory (and workspace folders) only when none is set; we
                # never hand it files, so an inert one is enough.
                self.mem = _NoFiles()
                super().__init__(**kw)

            def _call_llm(self, *args: Any, **kw: Any) -> Any:
                if state.last_reply_empty:
                    raise _EmptyReply
                if state.turn >= max_rounds:
                    raise _BudgetExhausted
                state.turn += 1
                return _watch_empty(super()._call_llm(*args, **kw), state)

            def _call_tool(self, tool_name: str, tool_args: Any = "{}", **kw: Any) -> Any:
                if tool_name not in self.function_map:
                    return _unknown_tool(state, tool_name, tool_args, registry.names())
                return super()._call_tool(tool_name, tool_args, **kw)

        return _Agent(
            function_list=tools,
            llm=make_llm(self.settings, usage),
            system_message=system_prompt(max_rounds=max_rounds, task=task),
            name=None,
        )

    def _model_failure(self, exc: Exception) -> str:
        """A readable reason for a model-server error, with a hint for the usual causes (model not pulled,
        native tools unsupported, bad key); a connection failure raises ``ModelUnavailable`` instead.
        """
        import openai

        inner = getattr(exc, "exception", None)
        if isinstance(inner, openai.APITimeoutError):
            return f"the model server did not answer within {self.settings.llm_timeout:g} s"
        if isinstance(inner, openai.APIConnectionError):
            raise ModelUnavailable(self.settings.llm_base_url, self.settings.llm_model, "connection failed") from inner
        if isinstance(inner, openai.APIStatusError):
            reason = f"the model server answered HTTP {inner.status_code}: {str(inner.message)[:200]}"
            text = str(inner.message).lower()
            if inner.status_code == 404 or "not found" in text:
                reason += f" (is the model available there? with Ollama: `ollama pull {self.settings.llm_model}`)"
            elif "tool" in text and self.settings.llm_native_tools:
                reason += " (this server or model may not support native tools: try --prompt-tools, " \
                          "or COMFYFIXER_LLM_NATIVE_TOOLS=0)"
            elif inner.status_code in (401, 403):
                reason += " (check COMFYFIXER_LLM_API_KEY or DASHSCOPE_API_KEY)"
            return reason
        return f"the model server failed: {str(exc).strip()[:200]}"


def _watch_empty(stream: Any, state: RunState) -> Any:
    """Pass the LLM stream through and record whether its final reply had neither text nor a tool call."""
    last: list[Any] = []
    for last in stream:
        yield last
    state.last_reply_empty = not any(_text(m.get("content")).strip() or m.get("function_call") for m in last)


class _NoFiles:
    system_files: list[str] = []


def _unknown_tool(state: RunState, name: str | None, args: Any, valid: list[str]) -> str:
    """Record and answer a call to a tool that does not exist, listing the valid names for a retry."""
    import json

    error = {"kind": "unknown_tool", "message": f"there is no tool named {name!r}",
             "hint": "call one of: " + ", ".join(valid)}
    state.record(ToolCallRecord(call_id=state.next_call_id(), turn=state.turn, tool=str(name or ""),
                                arguments=args if isinstance(args, dict | str) else str(args),
                                status="ERROR", error=error))
    return json.dumps({"ok": False, "error": error})


def _fallback_answer(reason: str | None, trace: list[ToolCallRecord]) -> str:
    """The answer text when the model gave none: the reason and the tool calls made so far."""
    lines = [f"No final answer: {reason or 'unknown reason'}."]
    if trace:
        lines.append("Tool calls so far: " + ", ".join(f"{r.tool} ({r.status})" for r in trace) + ".")
    return "\n".join(lines)


def _estimate_usage(usage: Usage, agent: Any, messages: list[dict[str, Any]], response: list[dict[str, Any]]) -> None:
    """Rough token counts with qwen-agent's bundled tokenizer when the server reports none: every
    call re-sends the system prompt, the tool schemas and the history so far."""
    import json

    from qwen_agent.utils.tokenization_qwen import count_tokens

    functions = [tool.function for tool in agent.function_map.values()]
    base = count_tokens(str(agent.system_message or "")) + count_tokens(json.dumps(functions, ensure_ascii=False))
    base += count_tokens(json.dumps(messages, ensure_ascii=False, default=str))
    produced = count_tokens(json.dumps(response, ensure_ascii=False, default=str))
    calls = max(1, usage.llm_calls)
    usage.prompt_tokens = base * calls + produced * (calls - 1) // 2
    usage.completion_tokens = produced
    usage.source = "estimated"
