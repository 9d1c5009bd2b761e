"""What a chat server really does with tools, and how much context it has: one cheap probe per
endpoint, cached under the cache folder.

Servers differ from the OpenAI contract in ways that silently break an agent:

* llama-cpp-python's ``chatml-function-calling`` template drops the ``tools`` unless
  ``tool_choice`` is sent, and drops tool results from the prompt; the model then answers
  questions about files it never saw.
* llama-cpp-python's ``chatml-function-calling`` cannot stream a tool call the model chose itself
  (``tool_choice: "auto"``): it raises "Automatic streaming tool choice is not supported" and drops
  the connection mid-reply.
* Ollama cuts prompts at its default context length without saying so.

:func:`probe_server` sends four tiny requests (``max_tokens: 1``): without and with a padded tool
definition, then with a short and with a padded tool result, and compares the ``prompt_tokens`` the
server reports: a part that adds no prompt tokens was dropped. A server that reports no usage is taken at its word
(nothing is detected). A fifth, streamed request asks the model to call the probe tool: a server error or a
connection dropped mid-reply means streamed tool calls fail (a reply without a tool call tells nothing). It also asks the server for its context length (``/v1/models``, llama.cpp's
``/props``, Ollama's ``/api/show``, LM Studio's ``/api/v0/models``). The result is cached per
endpoint and model in ``<cache>/llm-probe.json``; a failed probe is not cached.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from comfyfixer.tools.paths import atomic_write

log = logging.getLogger(__name__)

PROBE_MARKER = "comfyfixer-probe"
CACHE_NAME = "llm-probe.json"
# A part that adds fewer prompt tokens than this was not put in the prompt (the padding is ~120 tokens).
_DROP_THRESHOLD = 40
_PADDING = " ".join(f"word{i}" for i in range(60))


@dataclass
class ServerTraits:
    """What the probe learned about one endpoint; ``None`` means "could not tell"."""

    drops_tools: bool | None = None
    drops_tool_results: bool | None = None
    context_length: int | None = None
    streamed_calls_fail: bool | None = None

    @property
    def native_tools_broken(self) -> bool:
        """True when native tool calls cannot work on this server (tools or their results are dropped, or a
        streamed tool call fails)."""
        return bool(self.drops_tools or self.drops_tool_results or self.streamed_calls_fail)


def _server_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _probe_messages(result: str | None) -> list[dict[str, Any]]:
    """The probe conversation; with ``result``, a tool call and that tool result follow the question."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "Reply with one word."},
                                      {"role": "user", "content": f"{PROBE_MARKER}: say ok"}]
    if result is not None:
        messages += [
            {"role": "assistant", "content": "",
             "tool_calls": [{"id": "probe1", "type": "function", "function": {"name": "probe_echo", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "probe1", "content": result},
            {"role": "user", "content": f"{PROBE_MARKER}: say ok again"},
        ]
    return messages


_PROBE_TOOL = {"type": "function", "function": {
    "name": "probe_echo", "description": "Probe tool. " + _PADDING,
    "parameters": {"type": "object", "properties": {}, "required": []}}}


def _prompt_tokens(client: Any, model: str, messages: list[dict[str, Any]], tools: bool) -> int | None:
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": 1, "temperature": 0, "stream": False}
    if tools:
        body["tools"] = [_PROBE_TOOL]
        body["tool_choice"] = "auto"
    resp = client.post("chat/completions", json=body)
    resp.raise_for_status()
    usage = resp.json().get("usage") or {}
    value = usage.get("prompt_tokens")
    return int(value) if isinstance(value, int | float) and value > 0 else None


def _streamed_call_fails(client: Any, model: str) -> bool | None:
    """Whether a streamed reply the model makes a tool call in fails on this server (None: no call was made)."""
    import httpx

    body = {"model": model, "stream": True, "max_tokens": 24, "temperature": 0, "tools": [_PROBE_TOOL],
            "tool_choice": "auto", "messages": [
                {"role": "system", "content": "Call the probe_echo tool."},
                {"role": "user", "content": f"{PROBE_MARKER}: call probe_echo now"}]}
    try:
        with client.stream("POST", "chat/completions", json=body) as resp:
            if resp.status_code >= 500:
                return True
            text = "".join(resp.iter_text())
    except (httpx.ReadError, httpx.RemoteProtocolError):
        return True
    return False if '"tool_calls"' in text else None


def _context_length(client: Any, base_url: str, model: str) -> int | None:
    """The context length the server reports for ``model``, from the first endpoint that says."""
    root = _server_root(base_url)
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"{root}/props", None),                       # llama.cpp llama-server
        ("GET", f"{base_url.rstrip('/')}/models", None),      # vLLM max_model_len, llama.cpp meta.n_ctx_train
        ("POST", f"{root}/api/show", {"model": model}),       # Ollama
        ("GET", f"{root}/api/v0/models", None),               # LM Studio
    ]
    for method, url, payload in attempts:
        try:
            resp = client.request(method, url, json=payload)
            if resp.status_code != 200:
                continue
            found = _find_context(resp.json(), model)
        except Exception as exc:  # any odd answer just means "this endpoint does not say"
            log.debug("context length from %s: %s", url, exc)
            continue
        if found:
            return found
    return None


def _find_context(doc: Any, model: str) -> int | None:
    """A context length in one of the known answer shapes."""
    if not isinstance(doc, dict):
        return None
    gen = doc.get("default_generation_settings")
    if isinstance(gen, dict) and isinstance(gen.get("n_ctx"), int):
        return int(gen["n_ctx"])
    if isinstance(doc.get("n_ctx"), int):
        return int(doc["n_ctx"])
    params = doc.get("parameters")
    if isinstance(params, str):  # Ollama: "num_ctx 8192" among other parameters wins over the trained length
        for line in params.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
                return int(parts[1])
    info = doc.get("model_info")
    if isinstance(info, dict):
        for key, value in info.items():
            if key.endswith(".context_length") and isinstance(value, int):
                return value
    for entry in doc.get("data") or []:
        if not isinstance(entry, dict) or (entry.get("id") not in (model, None) and len(doc["data"]) > 1):
            continue
        for key in ("loaded_context_length", "max_model_len", "max_context_length", "context_length"):
            if isinstance(entry.get(key), int):
                return int(entry[key])
        meta = entry.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("n_ctx"), int):
            return int(meta["n_ctx"])
    return None


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def probe_server(base_url: str, model: str, api_key: str | None, cache_dir: Path, *, timeout: float = 30.0,
                 check_tools: bool = True) -> ServerTraits:
    """The traits of the server at ``base_url`` for ``model``, from the cache or one probe.

    ``check_tools`` sends the three tool requests (native mode only; prompt-based calls need no
    tool support). Network errors leave the traits unknown and uncached, so the next run tries again.
    """
    from comfyfixer.tools.http import build_client

    cache_file = cache_dir / CACHE_NAME
    key = f"{base_url.rstrip('/')}|{model}|{'tools' if check_tools else 'ctx'}"
    cache = _load_cache(cache_file)
    if isinstance(cache.get(key), dict):
        return ServerTraits(**{k: cache[key].get(k) for k in ("drops_tools", "drops_tool_results", "context_length",
                                                              "streamed_calls_fail")})
    traits = ServerTraits()
    try:
        # The endpoint was validated by Settings (http(s) only); a LAN server speaks plain http.
        with build_client(base_url=base_url.rstrip("/") + "/", timeout=timeout, token=api_key or None,
                          token_origins=[base_url], allow_http=True) as client:
            traits.context_length = _context_length(client, base_url, model)
            if check_tools:
                # Each pair differs by one padded part: a part that adds no prompt tokens was dropped.
                bare = _prompt_tokens(client, model, _probe_messages(None), tools=False)
                tools = _prompt_tokens(client, model, _probe_messages(None), tools=True)
                short = _prompt_tokens(client, model, _probe_messages("ok"), tools=True)
                padded = _prompt_tokens(client, model, _probe_messages(_PADDING), tools=True)
                if bare is not None and tools is not None:
                    traits.drops_tools = tools - bare < _DROP_THRESHOLD
                if short is not None and padded is not None:
                    traits.drops_tool_results = padded - short < _DROP_THRESHOLD
                if not traits.native_tools_broken:
                    traits.streamed_calls_fail = _streamed_call_fails(client, model)
    except Exception as exc:  # the probe is advisory: the real run reports real server errors
        log.info("server probe at %s failed: %s", base_url, exc)
        return traits
    cache[key] = asdict(traits)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_file, json.dumps(cache, indent=1, sort_keys=True))
    except OSError as exc:
        log.info("could not cache the server probe: %s", exc)
    return traits
