"""The run loop: qwen-agent's ``FnCallAgent`` over the project's typed tools, with our own round
budget, streaming callbacks, tool trace, status decision and approvals.

qwen-agent is imported lazily (and only after :func:`prepare_runtime`), so importing this module
is cheap.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from comfyfixer.agent.config import Settings
from comfyfixer.agent.orchestrator.adapter import (
    MAX_REPEATED_CALLS,
    MAX_RESULT_CHARS,
    RunState,
    make_qwen_tool,
)
from comfyfixer.agent.orchestrator.conversation import Conversation
from comfyfixer.agent.orchestrator.evidence import (
    content_free,
    missing_facts,
    planted_instructions,
    strip_echoes,
    summarize_trace,
)
from comfyfixer.agent.orchestrator.first_step import (
    FOLLOW_UP_TOOLS,
    FirstCall,
    follow_up_steps,
    plan_first_steps,
)
from comfyfixer.agent.orchestrator.llm import DEFAULT_CONTEXT, make_llm, prepare_runtime
from comfyfixer.agent.orchestrator.probe import ServerTraits, probe_server
from comfyfixer.agent.orchestrator.prompts import EXPLICIT_ONLY_TOOLS, TASK_TOOLS, guess_task, system_prompt
from comfyfixer.agent.orchestrator.records import AgentAnswer, ProposedAction, ToolCallRecord, Usage
from comfyfixer.agent.orchestrator.status import STATUS_LINE, decide
from comfyfixer.agent.orchestrator.toolcalls import extract_calls, match_name
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ApprovalError, ComfyFixerError
from comfyfixer.tools.toolset import Registry

log = logging.getLogger(__name__)

PLANTED_NOTICE = (
    "Note: this workflow contains text addressed to an AI assistant (in its Note nodes). It was treated "
    "as data and ignored; nothing it asked for was done."
)
# A context this small (tokens) gets fewer, terser tool schemas and smaller tool results: on a CPU every
# prompt token costs time before the first answer token (about 60 tokens/s on two cores).
SMALL_CONTEXT = 6144
TIGHT_TOOLS = 4
MIN_RESULT_CHARS = 1200
ANSWER_REMINDER = "(These results came from the tools; use them, or call another tool, to answer the user:)"
EMPTY_REPLY_NUDGE = "(Your reply was empty. Write the answer for the user now, in plain text, from these results.)"
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
        if not final and not done and text.lstrip().startswith(("{", "[", "```", "<")):
            return  # may be a tool call written as text (JSON, a fence, a tag): wait for the whole reply
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
        self._traits: ServerTraits | None = None
        self._notices: list[str] = []
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
        native, context_length = self._server_mode()
        state.result_chars = result_budget(context_length, self.settings.llm_max_tokens)
        first = plan_first_steps(question, files, task, self.registry.names())
        agent = self._make_agent(state, usage, task, first, native=native, context_length=context_length)
        user_text = question
        if files:
            listed = "\n".join(f"- {Path(f).expanduser()}" for f in files)
            user_text += f"\n\nFiles the user attached (read them with the tools):\n{listed}"
        history = list(conversation.messages) if conversation else []
        user_msg = {"role": "user", "content": user_text}
        first_msgs = run_first_steps(agent, first, state, question, task)
        messages = [*history, user_msg, *first_msgs]

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
            final = strip_echoes(_text(response[-1].get("content")))
            if not content_free(final):
                streamer.update(len(response) - 1, final, final=True)
        verdict = decide(final, state.trace, budget_exhausted=budget_exhausted, failure=failure, question=question)
        status, text, reason = verdict.status, verdict.answer, verdict.reason
        if content_free(text):
            # Nothing the tools found is thrown away: an empty reply becomes a summary of the results.
            reason = reason or "the model's final reply had no answer text"
            text = summarize_trace(state.trace, reason)
            if status == "OK":
                status, reason = "UNCERTAIN", "the model's final reply had no answer text; this summarises the tool results"
            if on_text is not None:
                on_text(text + "\n")
        # The key facts the tools found (file names, what is missing, the plan) are stated even when the
        # model's answer left them out; they come from the tool results, so the status is unchanged.
        block = missing_facts(text, state.trace)
        if block:
            text = f"{text.rstrip()}\n\n{block}" if text.strip() else block
            if on_text is not None:
                on_text(block + "\n")
        if planted_instructions(state.trace) and not re.search(r"addressed to", text, re.I):
            text += "\n\n" + PLANTED_NOTICE
            if on_text is not None:
                on_text(PLANTED_NOTICE + "\n")
        answer = AgentAnswer(
            status=status,
            answer=text,
            reason=reason,
            candidates=verdict.candidates,
            evidence=verdict.evidence,
            tool_calls=state.trace,
            proposals=state.proposals,
            usage=usage,
            notices=list(self._notices),
            conversation_id=conversation.id if conversation else None,
        )
        if conversation is not None:
            conversation.append_turn(question, [user_msg, *first_msgs, *response], answer)
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
    def _server_mode(self) -> tuple[bool, int]:
        """Whether to use native tool calls, and the context length, for this endpoint (probed once).

        A server found to drop native tools or tool results gets prompt-based calls instead, with a
        one-line notice (logged, and kept on every answer of this orchestrator).
        """
        settings = self.settings
        if self._traits is None:
            wants_ctx = settings.llm_context_length == 0
            if settings.llm_probe and (settings.llm_native_tools or wants_ctx):
                self._traits = probe_server(settings.llm_base_url, settings.llm_model, settings.secret("llm_api_key"),
                                            settings.cache_dir, timeout=min(settings.llm_timeout, 30.0),
                                            check_tools=settings.llm_native_tools)
            else:
                self._traits = ServerTraits()
            if settings.llm_native_tools and self._traits.native_tools_broken:
                if self._traits.drops_tools or self._traits.drops_tool_results:
                    what = "tools" if self._traits.drops_tools else "tool results"
                    problem = f"drops native {what} from the prompt"
                else:
                    problem = "fails on streamed native tool calls"
                notice = f"The model server at {settings.llm_base_url} {problem}; using prompt-based tool calls instead."
                log.warning(notice)
                self._notices.append(notice)
        native = settings.llm_native_tools and not self._traits.native_tools_broken
        context = settings.llm_context_length or self._traits.context_length or DEFAULT_CONTEXT
        return native, context

    def _offered(self, task: str | None, first: Sequence[FirstCall], *, tight: bool = False) -> tuple[Registry, bool]:
        """The tools offered for ``task`` and whether their descriptions are shortened.

        A main task gets its subset from ``prompts.TASK_TOOLS`` (plus any tool the first step used), with
        short descriptions, and so does any other request the orchestrator took a first step for (the
        ``question`` subset); anything else gets every registered tool but the explicit-only ones
        (``prompts.EXPLICIT_ONLY_TOOLS``, offered only to the task that asks for them), described in full. With ``tight``
        (a small context: every schema token costs prompt time on a CPU) the subset keeps at most
        ``TIGHT_TOOLS``: the first step's tools and their follow-ups first.
        """
        key = task if task in TASK_TOOLS else ("question" if first else None)
        if key is not None:
            if tight:
                names = list(dict.fromkeys([*(c.tool for c in first), *FOLLOW_UP_TOOLS.get(key, ()),
                                            *TASK_TOOLS[key]]))[:TIGHT_TOOLS]
            else:
                names = list(dict.fromkeys([*TASK_TOOLS[key], *(c.tool for c in first)]))
            sub = self.registry.subset(n for n in names if n in self.registry and EXPLICIT_ONLY_TOOLS.get(n, key) == key)
            if len(sub):
                return sub, True
        # Explicit-only tools (the workflow schemas) never reach a request that did not ask for them.
        return self.registry.subset(n for n in self.registry.names() if n not in EXPLICIT_ONLY_TOOLS), False

    def _make_agent(self, state: RunState, usage: Usage, task: str | None, first: Sequence[FirstCall] = (), *,
                    native: bool | None = None, context_length: int | None = None) -> Any:
        """A qwen-agent ``FnCallAgent`` for one run: our tools wrapped by the adapter, the LLM with the wire
        fixes, the task's system prompt, and hooks that enforce the round budget, stop on an empty reply,
        turn tool calls written as text (or with a near-miss name) into real calls, and answer calls to
        unknown tools with the list of valid names.
        """
        from qwen_agent.agents import FnCallAgent

        registry, max_rounds = self.registry, self.max_rounds
        tight = (context_length or DEFAULT_CONTEXT) <= SMALL_CONTEXT
        offered, short = self._offered(task, first, tight=tight)
        tools = [make_qwen_tool(spec, registry, self.ctx, state, short=short, tight=tight) for spec in offered]
        names = offered.names()

        class _Agent(FnCallAgent):
            def __init__(self, **kw: Any) -> None:
                # FnCallAgent builds a Memory (and workspace folders) only when none is set; we
                # never hand it files, so an inert one is enough.
                self.mem = _NoFiles()
                super().__init__(**kw)

            def _call_llm(self, *args: Any, **kw: Any) -> Any:
                if state.last_reply_empty:
                    if state.nudged:
                        raise _EmptyReply
                    # One more try: the same context (the server reuses its cache) ending in a nudge.
                    state.nudged, state.last_reply_empty = True, False
                    if "messages" in kw:  # qwen-agent passes everything by keyword
                        kw["messages"] = _with_nudge(kw["messages"])
                if state.turn >= max_rounds or state.repeated_calls >= MAX_REPEATED_CALLS:
                    raise _BudgetExhausted
                state.turn += 1
                return _watch_empty(_repair_calls(super()._call_llm(*args, **kw), names, state), state)

            def _call_tool(self, tool_name: str, tool_args: Any = "{}", **kw: Any) -> Any:
                if tool_name not in self.function_map:
                    return _unknown_tool(state, tool_name, tool_args, names)
                return super()._call_tool(tool_name, tool_args, **kw)

        return _Agent(
            function_list=tools,
            llm=make_llm(self.settings, usage, native=native, context_length=context_length),
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
        if isinstance(inner, openai.APIConnectionError) and _dropped_mid_reply(inner):
            return "the model server dropped the connection in the middle of its reply (see the server's log)"
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


def _dropped_mid_reply(exc: BaseException) -> bool:
    """True when a connection error happened after the server took the request (a read error or a broken
    response), not when nothing was listening: the server is there, its reply failed."""
    names: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(names) < 10:
        names.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    return "ReadError" in names or "RemoteProtocolError" in names


def result_budget(context_length: int, max_tokens: int) -> int:
    """Characters one tool result may take: a share of what the context leaves after the reply's room
    and about 1,500 tokens of system prompt and schemas. JSON takes about 3 characters a token and a
    turn holds several results, so each gets about half the free tokens in characters (a 16k context
    keeps the full ``MAX_RESULT_CHARS``; an 8k one about 2,300 characters; never under ``MIN_RESULT_CHARS``)."""
    free_tokens = context_length - min(max_tokens, context_length // 2) - 1500
    return max(MIN_RESULT_CHARS, min(MAX_RESULT_CHARS, free_tokens // 2))


def run_first_steps(agent: Any, calls: Sequence[FirstCall], state: RunState, question: str = "",
                    task: str | None = None) -> list[dict[str, Any]]:
    """Run the first-step ``calls`` through the agent's own tools (so ``Registry.call`` validates them and
    the trace records them, at turn 0) and return them as assistant tool calls plus tool results, in
    qwen-agent's message form: both tool modes then show them to the model like its own calls. A call
    whose result makes a next call obvious (``first_step.follow_up_steps``) is followed by it.

    The last result ends with the user's ``question`` restated: a small model that sees only tool output
    at the end of its context otherwise tends to answer with the STATUS line alone.
    """
    messages: list[dict[str, Any]] = []
    pending = list(calls)
    i = 0
    while pending:
        call = pending.pop(0)
        tool = agent.function_map.get(call.tool)
        if tool is None:
            continue
        i += 1
        args = json.dumps(call.arguments, ensure_ascii=False)
        result = tool.call(args)
        if state.trace and state.trace[-1].tool == call.tool and state.trace[-1].status == "OK":
            pending[:0] = follow_up_steps(call, state.trace[-1].result, task, list(agent.function_map))
        fid = f"first_{i}"
        messages.append({"role": "assistant", "content": "", "function_call": {"name": call.tool, "arguments": args},
                         "extra": {"function_id": fid}})
        messages.append({"role": "function", "name": call.tool, "content": result, "extra": {"function_id": fid}})
    if messages and question:
        messages[-1]["content"] += f"\n\n{ANSWER_REMINDER} {question[:500]}"
    return messages


def repair_calls(messages: list[Any], names: Sequence[str], turn: int) -> list[Any] | None:
    """``messages`` (one LLM reply) with tool calls written as text made real and near-miss names fixed;
    None when nothing needed repair. See ``toolcalls.py`` for the shapes."""
    from qwen_agent.llm.schema import FunctionCall, Message

    out: list[Any] = []
    changed = False
    for msg in messages:
        fc = msg.function_call if isinstance(msg, Message) else None
        if isinstance(msg, Message) and msg.role == "assistant" and fc is not None:
            real = match_name(fc.name, names)
            if real and real != fc.name:
                msg = Message(role="assistant", content=msg.content or "", extra=msg.extra,
                              function_call=FunctionCall(name=real, arguments=fc.arguments))
                changed = True
            out.append(msg)
            continue
        calls = extract_calls(_text(msg.content), names) if isinstance(msg, Message) and msg.role == "assistant" else []
        if not calls:
            out.append(msg)
            continue
        changed = True
        for j, (name, args) in enumerate(calls):
            out.append(Message(role="assistant", content="", function_call=FunctionCall(name=name, arguments=args),
                               extra={"function_id": f"call_{turn}_{j}"}))
    return out if changed else None


def _repair_calls(stream: Any, names: Sequence[str], state: RunState) -> Any:
    """Pass the LLM stream through; once it ends, yield the reply once more with its calls repaired."""
    last: list[Any] = []
    for last in stream:
        yield last
    fixed = repair_calls(last, names, state.turn)
    if fixed is not None:
        yield fixed


def _watch_empty(stream: Any, state: RunState) -> Any:
    """Pass the LLM stream through and record whether its final reply had neither a tool call nor text that
    tells the user anything (``evidence.content_free``: empty, a bare STATUS line, markup).

    A first empty reply ends the stream with an empty list, so qwen-agent's loop asks again (and
    ``_call_llm`` adds the nudge) instead of ending the run on it."""
    last: list[Any] = []
    for last in stream:
        yield last
    state.last_reply_empty = not any(not content_free(_text(m.get("content"))) or m.get("function_call") for m in last)
    if state.last_reply_empty and not state.nudged:
        yield []


def _with_nudge(messages: list[Any]) -> list[Any]:
    """``messages`` with ``EMPTY_REPLY_NUDGE`` added to the last one's text (a copy; nothing else changes,
    so the server's prompt cache still covers everything before it)."""
    if not messages:
        return messages
    last = copy.deepcopy(messages[-1])
    content = last.get("content") if hasattr(last, "get") else getattr(last, "content", "")
    if not isinstance(content, str):
        return messages
    last["content"] = f"{content}\n\n{EMPTY_REPLY_NUDGE}"
    return [*messages[:-1], last]


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


def _message_tokens(msg: Any, count: Callable[[str], int]) -> int:
    get = msg.get if hasattr(msg, "get") else lambda k, d=None: getattr(msg, k, d)
    fc = get("function_call")
    call_text = json.dumps(fc if isinstance(fc, dict) else (fc.model_dump() if fc is not None else ""), default=str)
    return count(_text(get("content"))) + (count(call_text) if fc else 0)


def _estimate_usage(usage: Usage, agent: Any, messages: list[Any], response: list[Any]) -> None:
    """Token counts with qwen-agent's bundled tokenizer when the server reports none (``source`` is then
    ``estimated``). Every LLM call re-sends the system prompt, the tool schemas and the history so far;
    only the assistant's own messages (text and tool calls) are completions — tool results are input to
    the next call, not output.
    """
    from qwen_agent.utils.tokenization_qwen import count_tokens

    functions = [tool.function for tool in agent.function_map.values()]
    base = count_tokens(str(agent.system_message or "")) + count_tokens(json.dumps(functions, ensure_ascii=False))
    context = sum(_message_tokens(m, count_tokens) for m in messages)
    prompt = completion = calls = 0
    in_reply = False
    for msg in response:
        tokens = _message_tokens(msg, count_tokens)
        if (msg.get("role") if hasattr(msg, "get") else msg.role) == "assistant":
            if not in_reply:  # a new LLM call starts: it reads everything so far
                prompt += base + context
                calls += 1
                in_reply = True
            completion += tokens
        else:
            in_reply = False
        context += tokens
    # calls that produced no message (an empty reply) still read the whole prompt
    prompt += max(0, usage.llm_calls - calls) * (base + context)
    usage.prompt_tokens, usage.completion_tokens, usage.source = prompt, completion, "estimated"
