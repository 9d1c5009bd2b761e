"""A scripted OpenAI-compatible chat server on loopback, for tests and evals.

The server plays a script instead of a model. A reply is a dict:

* ``{"content": "text"}`` — a plain answer;
* ``{"tool_calls": [{"name": ..., "arguments": {...} or "raw json"}], "content": "optional"}`` —
  tool calls. When the request carries ``tools`` (native function calling) they are sent as
  ``tool_calls`` deltas; otherwise (prompt-based ``nous`` mode) as ``<tool_call>`` text;
* ``{"http_status": 500, "error": "message"}`` — an HTTP error.

A script is keyed by conversation state, so the same script serves replays and resumed
conversations:

* a list: reply ``n`` answers the request that holds ``n`` assistant turns after the latest real
  user message (tool results sent back as user text in ``nous`` mode do not count);
* a dict ``{substring: list}``: the list whose key occurs in the latest real user message
  (``"*"`` is the fallback);
* a callable ``(request_body) -> reply``.

A reply's content may hold ``{{tool:dotted.path}}`` placeholders, filled from the latest result of
that tool in the request (see :func:`render_template`).

Streaming mimics vLLM: an empty first delta, content in small pieces, tool-call arguments split
across chunks, then a usage chunk when ``stream_options.include_usage`` is set. Every request body is
kept in ``requests`` so tests can check what the client sent.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

Reply = dict[str, Any]
Script = list[Reply] | Mapping[str, list[Reply]] | Callable[[dict[str, Any]], Reply]

EXHAUSTED = "(the script has no reply for this turn)"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def is_tool_response(msg: Mapping[str, Any]) -> bool:
    """True for a user message that only carries tool results (``nous`` mode)."""
    return msg.get("role") == "user" and _text_of(msg.get("content")).lstrip().startswith("<tool_response>")


def conversation_state(body: Mapping[str, Any]) -> tuple[str, int]:
    """The latest real user message and how many assistant turns follow it."""
    messages = list(body.get("messages") or [])
    last_user = -1
    for i, msg in enumerate(messages):
        if msg.get("role") == "user" and not is_tool_response(msg):
            last_user = i
    question = _text_of(messages[last_user].get("content")) if last_user >= 0 else ""
    turns = sum(1 for m in messages[last_user + 1:] if m.get("role") == "assistant")
    return question, turns


def pick_reply(script: Script, body: dict[str, Any]) -> Reply:
    """The reply ``script`` gives to the request ``body``, with ``{{tool:path}}`` filled in."""
    if callable(script):
        return script(body)
    question, turns = conversation_state(body)
    if isinstance(script, Mapping):
        chosen = next((v for k, v in script.items() if k != "*" and k in question), script.get("*", []))
    else:
        chosen = script
    if turns < len(chosen):
        reply = chosen[turns]
        if isinstance(reply.get("content"), str) and "{{" in reply["content"]:
            reply = {**reply, "content": render_template(reply["content"], tool_results_in(body))}
        return reply
    return {"content": EXHAUSTED}


_TOOL_CALL_TEXT = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
_TOOL_RESPONSE_TEXT = re.compile(r"<tool_response>\s*(.*?)\s*</tool_response>", re.S)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_]+):([^}]*?)\s*\}\}")


def tool_results_in(body: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(tool name, parsed result) pairs the request carries, oldest first, in native or nous form."""
    names: list[str] = []
    results: list[Any] = []
    for msg in body.get("messages") or []:
        text = _text_of(msg.get("content"))
        if msg.get("role") == "assistant":
            names += [tc.get("function", {}).get("name", "") for tc in msg.get("tool_calls") or []]
            for block in _TOOL_CALL_TEXT.findall(text):
                parsed = _loads_or_raw(block)
                names.append(parsed.get("name", "") if isinstance(parsed, dict) else "")
        elif msg.get("role") == "tool":
            results.append(_loads_or_raw(text))
        elif msg.get("role") == "user":
            results += [_loads_or_raw(block) for block in _TOOL_RESPONSE_TEXT.findall(text)]
    return list(zip(names, results, strict=False))


def lookup(data: Any, path: str) -> list[Any]:
    """Values at a dotted ``path``; ``*`` walks every list item or dict value."""
    current = [data]
    for part in [p for p in path.split(".") if p]:
        nxt: list[Any] = []
        for value in current:
            if part == "*":
                nxt += list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, list) else []
            elif isinstance(value, dict) and part in value:
                nxt.append(value[part])
            elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
                nxt.append(value[int(part)])
        current = nxt
    return current


def render_template(text: str, results: list[tuple[str, Any]]) -> str:
    """Fill ``{{tool:path}}`` with values from the latest result of ``tool`` (lists joined with ", ").

    This lets a scripted reply repeat what the real tools returned, so an eval's required facts can
    only be present when the tools really produced them."""

    def fill(m: re.Match[str]) -> str:
        tool, path = m.group(1), m.group(2).strip()
        latest = next((r for name, r in reversed(results) if name == tool), None)
        if latest is None:
            return f"(no {tool} result)"
        values = [v for v in lookup(latest, path) if v is not None and not isinstance(v, dict | list)]
        return ", ".join(dict.fromkeys(str(v) for v in values)) or f"(nothing at {tool}:{path})"

    return _PLACEHOLDER.sub(fill, text)


PROBE_MARKER = "comfyfixer-probe"


def is_probe(body: Mapping[str, Any]) -> bool:
    """True for the orchestrator's server probe (its user messages start with the probe marker)."""
    return any(m.get("role") == "user" and _text_of(m.get("content")).startswith(PROBE_MARKER)
               for m in body.get("messages") or [])


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedChatServer(LoopbackServer):
    """Context manager: ``with ScriptedChatServer(script) as srv: ... srv.base_url``."""

    thread_name = "scripted-chat"
    # shutdown() waits up to one poll interval, and tests start many of these servers.
    poll_interval = 0.02

    def __init__(
        self,
        script: Script,
        *,
        model: str = "scripted-qwen",
        chunk_size: int = 12,
        repeat_tool_names: bool = False,
        require_tool_call_id: bool = True,
        report_usage: bool = True,
        drop_tools: bool = False,
        drop_tool_results: bool = False,
        context_length: int | None = None,
        fail_streamed_tool_calls: bool = False,
    ) -> None:
        self.script = script
        self.model = model
        self.chunk_size = chunk_size
        # llama-cpp-python repeats the function name in every delta of a call.
        self.repeat_tool_names = repeat_tool_names
        # Strict OpenAI-schema servers refuse a tool message without tool_call_id.
        self.require_tool_call_id = require_tool_call_id
        # Some servers never report token usage, even when asked.
        self.report_usage = report_usage
        # llama-cpp-python's chatml-function-calling template: the prompt it builds leaves out the
        # tools (without tool_choice) and the tool results. Usage counts show it, as on the real server.
        self.drop_tools = drop_tools
        self.drop_tool_results = drop_tool_results
        # Reported by GET /props like llama.cpp's llama-server, when set.
        self.context_length = context_length
        # llama-cpp-python's chatml-function-calling cannot stream a tool call the model chose itself: it
        # raises and the connection is reset before any response.
        self.fail_streamed_tool_calls = fail_streamed_tool_calls
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        #: Requests of the orchestrator's server probe, kept apart so ``requests`` holds only real turns.
        self.probe_requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    # --- HTTP -------------------------------------------------------------------
    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/props") and server.context_length:
                    self._json(200, {"default_generation_settings": {"n_ctx": server.context_length}})
                elif self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._json(400, {"error": {"message": "invalid JSON"}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                if is_probe(body):
                    with server._lock:
                        server.probe_requests.append(body)
                    if body.get("stream") and body.get("tools"):  # the probe asks for a streamed tool call
                        self._stream_or_reset(body, {"tool_calls": [{"name": "probe_echo", "arguments": {}}]})
                    else:
                        self._json(200, server._completion(body, {"content": "ok"}))
                    return
                with server._lock:
                    server.requests.append(body)
                problem = server._validate(body)
                if problem:
                    self._json(422, {"error": {"message": problem, "type": "invalid_request_error"}})
                    return
                reply = pick_reply(server.script, body)
                if "http_status" in reply:
                    self._json(int(reply["http_status"]), {"error": {"message": reply.get("error", "error")}})
                    return
                if body.get("stream"):
                    self._stream_or_reset(body, reply)
                else:
                    self._json(200, server._completion(body, reply))

            def _json(self, status: int, obj: Any) -> None:
                self.send_json(status, obj)

            def _stream_or_reset(self, body: dict[str, Any], reply: Reply) -> None:
                if server.fail_streamed_tool_calls and body.get("tools") and server._tool_calls(reply):
                    # SO_LINGER 0: closing sends a reset, as the real server's crashed handler does
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                self._stream(body, reply)

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in server._chunks(body, reply):
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # --- protocol ----------------------------------------------------------------
    def _validate(self, body: dict[str, Any]) -> str | None:
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return "messages: field required"
        if self.require_tool_call_id:
            for i, msg in enumerate(body["messages"]):
                if msg.get("role") == "tool" and not msg.get("tool_call_id"):
                    return f"messages.{i}.tool_call_id: Field required"
        return None

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        calls = []
        for i, call in enumerate(reply.get("tool_calls") or []):
            args = call.get("arguments", {})
            calls.append({
                "id": call.get("id") or f"call_{i}_{zlib.crc32(call['name'].encode()) % 10_000}",
                "name": call["name"],
                "arguments": args if isinstance(args, str) else json.dumps(args),
            })
        return calls

    def _content(self, body: dict[str, Any], reply: Reply) -> tuple[str, list[dict[str, Any]]]:
        """Text and native tool calls for ``reply``; without ``tools`` the calls become text."""
        text = str(reply.get("content") or "")
        calls = self._tool_calls(reply)
        if calls and not body.get("tools"):
            blocks = [
                "<tool_call>\n" + json.dumps({"name": c["name"], "arguments": _loads_or_raw(c["arguments"])})
                + "\n</tool_call>"
                for c in calls
            ]
            text = (text + "\n" if text else "") + "\n".join(blocks)
            calls = []
        return text, calls

    def _usage(self, body: dict[str, Any], text: str, calls: list[dict[str, Any]]) -> dict[str, int]:
        messages = list(body.get("messages") or [])
        if self.drop_tool_results:
            messages = [m for m in messages if m.get("role") != "tool"]
        tools = [] if self.drop_tools and not body.get("tool_choice") else body.get("tools") or []
        prompt = _approx_tokens(json.dumps(messages) + json.dumps(tools))
        completion = _approx_tokens(text + json.dumps(calls))
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        text, calls = self._content(body, reply)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls
            ]
        return {
            "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()), "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": self._usage(body, text, calls),
        }

    def _chunks(self, body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
        text, calls = self._content(body, reply)
        base = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": self.model}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        out = [chunk({"role": "assistant", "content": ""})]
        n = self.chunk_size
        for i in range(0, len(text), n):
            out.append(chunk({"content": text[i:i + n]}))
        for idx, c in enumerate(calls):
            pieces = [c["arguments"][i:i + n] for i in range(0, len(c["arguments"]), n)] or [""]
            for j, piece in enumerate(pieces):
                fn: dict[str, Any] = {"arguments": piece}
                tc: dict[str, Any] = {"index": idx, "function": fn}
                if j == 0 or self.repeat_tool_names:
                    tc["id"] = c["id"]
                    tc["type"] = "function"
                    fn["name"] = c["name"]
                out.append(chunk({"tool_calls": [tc]}))
        out.append(chunk({}, "tool_calls" if calls else "stop"))
        if self.report_usage and (body.get("stream_options") or {}).get("include_usage"):
            out.append({**base, "choices": [], "usage": self._usage(body, text, calls)})
        return out


def _loads_or_raw(text: str) -> Any:
    """JSON ``text`` parsed; a JSON document followed by more text (a tool result with a fenced block of
    untrusted notes after it) gives the document; anything else stays text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        try:
            return json.JSONDecoder().raw_decode(text.lstrip())[0]
        except json.JSONDecodeError:
            return text
