"""The chat model: qwen-agent's OpenAI-compatible client, configured from Settings, with its
known wire bugs fixed in one place.

qwen-agent 0.0.34 quirks handled here:

* ``QWEN_AGENT_*`` settings are read once, at import: :func:`prepare_runtime` sets the workspace
  (otherwise ``./workspace`` in the current folder) and a high per-run call ceiling (our own round
  budget is the real limit) before the first import.
* a random ``seed`` goes into every request unless one is pinned: we pin ``settings.llm_seed``.
* native tool results are sent with ``id`` but no ``tool_call_id``; strict servers refuse them.
* a server that repeats the function name in every streamed delta (llama-cpp-python) gets the
  names concatenated (``toolTool``).
* qwen-agent builds a new openai client per call, with the client's two hidden retries; we use
  one client per run with ``max_retries=0`` (``max_retries`` in ``generate_cfg`` is qwen-agent's
  own retry count, also 0), so an unreachable server is reported at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from comfyfixer.agent.config import Settings
    from comfyfixer.agent.orchestrator.records import Usage

# Our own round budget stops a run; this only has to stay above settings.llm_max_rounds (<= 50).
_QWEN_CALL_CEILING = "64"
# Local servers ignore the key but the openai client insists on one.
_PLACEHOLDER_KEY = "EMPTY"


def prepare_runtime(workspace: Path) -> None:
    """Point qwen-agent at ``workspace`` before its first import (its settings are import-time)."""
    workspace.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QWEN_AGENT_DEFAULT_WORKSPACE", str(workspace))
    os.environ.setdefault("QWEN_AGENT_MAX_LLM_CALL_PER_RUN", _QWEN_CALL_CEILING)


DEFAULT_CONTEXT = 16384


def input_budget(context_length: int, max_tokens: int) -> int:
    """How many prompt tokens fit: the context minus the reply's room, with a small safety margin."""
    return max(1024, context_length - min(max_tokens, context_length // 2) - 256)


def llm_config(settings: Settings, *, native: bool | None = None, context_length: int | None = None) -> dict[str, Any]:
    """The qwen-agent LLM config for ``settings`` (OpenAI-compatible server; Ollama by default).

    ``use_raw_api`` follows ``native`` (default ``settings.llm_native_tools``: the server's own tool calls,
    with ``tool_choice: "auto"`` sent explicitly — llama-cpp-python drops the tools without it) and
    otherwise qwen-agent writes the tools into the prompt in the ``nous`` format. qwen-agent trims older
    history to fit ``context_length`` (default 16k) minus the reply's room. A missing key becomes a
    placeholder, since local servers need none but the client requires one.
    """
    native = settings.llm_native_tools if native is None else native
    context_length = context_length or settings.llm_context_length or DEFAULT_CONTEXT
    cfg = {
        "model": settings.llm_model,
        "model_server": settings.llm_base_url,
        "model_type": "oai",
        "api_key": settings.secret("llm_api_key") or _PLACEHOLDER_KEY,
        "generate_cfg": {
            "use_raw_api": native,
            # 'qwen' is broken in 0.0.34 (IndexError on an empty first delta); nous is not.
            "fncall_prompt_type": "nous",
            "max_retries": 0,
            "request_timeout": settings.llm_timeout,
            "seed": settings.llm_seed,
            "temperature": settings.llm_temperature,
            "max_tokens": settings.llm_max_tokens,
            # qwen-agent trims older history beyond this (Ollama: set OLLAMA_CONTEXT_LENGTH; its
            # default silently cuts the prompt, and the engine cannot see that it did).
            "max_input_tokens": input_budget(context_length, settings.llm_max_tokens),
        },
    }
    if native:
        cfg["generate_cfg"]["tool_choice"] = "auto"
    return cfg


def make_llm(settings: Settings, usage: Usage, *, native: bool | None = None, context_length: int | None = None) -> Any:
    """A qwen-agent chat model bound to ``settings``; token usage is added to ``usage``."""
    prepare_runtime(settings.cache_dir / "qwen-agent")
    cls = _strict_oai_class()
    return cls(llm_config(settings, native=native, context_length=context_length), usage)


def fix_tool_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make qwen-agent's outgoing messages valid for strict OpenAI-schema servers."""
    fixed = []
    for msg in messages:
        if msg.get("role") == "tool":
            call_id = msg.get("tool_call_id") or msg.get("id") or (msg.get("extra") or {}).get("function_id") or "1"
            fixed.append({"role": "tool", "tool_call_id": str(call_id), "content": msg.get("content") or ""})
        else:
            out = {k: v for k, v in msg.items() if k != "extra" and v is not None}
            if out.get("role") == "assistant" and "content" not in out:
                out["content"] = ""  # chat templates that read message.content fail without it (llama-cpp-python)
            fixed.append(out)
    return fixed


def dedupe_streamed_names(chunks: Any, usage: Usage) -> Iterator[Any]:
    """Drop function names a server repeats in later deltas of the same call, and collect usage.

    Changes the chunks in place as they pass (a repeated name is set to None) and adds the
    server-reported prompt and completion tokens to ``usage``; the stream is otherwise untouched.
    """
    names: dict[str, str] = {}
    last_id: str | None = None
    for chunk in chunks:
        u = getattr(chunk, "usage", None)
        if u is not None:
            usage.prompt_tokens += int(getattr(u, "prompt_tokens", 0) or 0)
            usage.completion_tokens += int(getattr(u, "completion_tokens", 0) or 0)
            usage.source = "server"
        for choice in getattr(chunk, "choices", None) or []:
            for tc in getattr(choice.delta, "tool_calls", None) or []:
                fn = tc.function
                if fn is None:
                    continue
                # Later deltas of one call may omit the id: they belong to the call seen last.
                call_id = tc.id or last_id
                if call_id is not None and fn.name and names.get(call_id) == fn.name:
                    fn.name = None
                elif call_id is not None and fn.name:
                    names[call_id] = fn.name
                last_id = call_id
        yield chunk


def _strict_oai_class() -> type:
    from qwen_agent.llm.oai import TextChatAtOAI

    # qwen-agent logs every request's token count at INFO on its own handler; keep stderr quiet
    # unless our own logging asks for debug output.
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("qwen_agent_logger").setLevel(logging.WARNING)

    class StrictOAI(TextChatAtOAI):
        """``TextChatAtOAI`` with valid tool messages, de-duplicated streamed names and usage.

        Built inside a function so qwen-agent is imported only when a model is actually used. It replaces
        qwen-agent's per-call client factory (``_chat_complete_create``) with one that reuses a single openai
        client, fixes the outgoing messages and counts tokens into ``usage``.
        """

        def __init__(self, cfg: dict[str, Any], usage: Usage) -> None:
            import openai

            super().__init__(cfg)
            self.usage = usage
            # One client per run, without the openai client's own hidden retries: a chat call is not
            # idempotent (it spends tokens), and an unreachable server should be reported at once.
            # qwen-agent would build a new client (and TLS context) for every call.
            client = openai.OpenAI(base_url=cfg["model_server"], api_key=cfg["api_key"], max_retries=0)

            def inner(*args: Any, **kwargs: Any) -> Any:
                """The shared client's ``create``, taking qwen-agent's ``request_timeout`` keyword as openai's
                ``timeout``.
                """
                if "request_timeout" in kwargs:
                    kwargs["timeout"] = kwargs.pop("request_timeout")
                return client.chat.completions.create(*args, **kwargs)

            def create(*args: Any, **kwargs: Any) -> Any:
                """What qwen-agent calls for every chat request: repairs tool messages, counts the call, asks
                a streaming server to include usage in its last chunk, and adds server-reported tokens to
                ``usage``.
                """
                kwargs["messages"] = fix_tool_messages(list(kwargs.get("messages") or []))
                self.usage.llm_calls += 1
                if kwargs.get("stream"):
                    kwargs.setdefault("stream_options", {"include_usage": True})
                    return dedupe_streamed_names(inner(*args, **kwargs), self.usage)
                response = inner(*args, **kwargs)
                u = getattr(response, "usage", None)
                if u is not None:
                    self.usage.prompt_tokens += int(u.prompt_tokens or 0)
                    self.usage.completion_tokens += int(u.completion_tokens or 0)
                    self.usage.source = "server"
                return response

            self._chat_complete_create = create

    return StrictOAI
