"""Opt-in runtime capture: what a ComfyUI run really used, recorded per ``prompt_id``.

ComfyUI 0.3.64's executor (``execution.py``) has no hook API, so three of its functions are wrapped,
each chosen because it is looked up through a module or class attribute at call time:

* ``PromptExecutor.execute_async(self, prompt, prompt_id, extra_data, execute_outputs)`` — a class
  attribute, so the executor the prompt worker already built picks the wrapper up. It opens and closes
  one :class:`Session` per ``prompt_id`` and makes it the current one through a ``ContextVar``
  (``asyncio.run`` copies the context into the task, so two prompts never see each other's session).
* ``execution.execute(server, dynprompt, caches, current_item, extra_data, executed, prompt_id, ...)`` —
  called through the module globals once per node: gives the execution order, the timings, and
  whether the node was served from the cache (``caches.outputs.get(node_id) is not None`` before the
  call, exactly the test ``execute`` itself makes).
* ``execution.get_input_data(inputs, class_def, unique_id, outputs, dynprompt, extra_data)`` — resolves
  links to upstream outputs; its result is the node's real inputs (after switches, primitives, links).
  Only calls made inside a wrapped ``execute`` are recorded (validation and the IS_CHANGED cache call it
  too, for other purposes).

Cached nodes never reach ``get_input_data``; their values come from this process's last capture of the
same node with the same literal inputs (``source: previous_run``) or stay the parser's (``source: parser``).

Safety rules: nothing is patched unless :func:`install` is called (the pack calls it only when capture is
wanted); a function that is not 0.3.64's own (someone else wrapped it) makes :func:`install` warn and
patch nothing; any exception inside a hook is logged once, turns that session's recording off and never
reaches ComfyUI; :func:`uninstall` puts the original objects back (checked by identity in the tests) and
leaves alone any attribute somebody re-wrapped after us.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

# Keys never copied into a capture: hidden inputs carry the whole prompt, the UI workflow and the
# Comfy.org credentials (execution.py strips the same from history).
_NEVER_KEEP = ("prompt", "extra_pnginfo", "unique_id", "dynprompt", "auth_token_comfy_org", "api_key_comfy_org")
_MAX_TEXT = 2000  # one resolved string kept up to this length; longer text is cut with its length noted
_PREVIOUS_LIMIT = 512  # node records remembered for cached reruns

_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar("comfyfixer_capture_session", default=None)
_current_node: contextvars.ContextVar[str | None] = contextvars.ContextVar("comfyfixer_capture_node", default=None)


def summarize(value: Any, depth: int = 0) -> Any:
    """A JSON-safe picture of one resolved input value.

    Scalars stay as they are (long strings are cut), ComfyUI's one-element batch lists are unwrapped,
    tensors and arrays become ``{"type", "shape", "dtype"}`` (the shape is runtime-only knowledge: the
    parser cannot know the size of a loaded image), other objects their class name. Never raises.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + f"…[{len(value)} chars]"
    if isinstance(value, list | tuple):
        if depth > 3:
            return {"type": type(value).__name__, "len": len(value)}
        if len(value) == 1 and depth == 0:
            return summarize(value[0], depth + 1)
        return [summarize(v, depth + 1) for v in value[:16]]
    if isinstance(value, dict):
        if depth > 3:
            return {"type": "dict", "len": len(value)}
        return {str(k): summarize(v, depth + 1) for k, v in list(value.items())[:32]}
    shape = getattr(value, "shape", None)
    if shape is not None:
        try:
            return {"type": type(value).__name__, "shape": [int(s) for s in shape], "dtype": str(getattr(value, "dtype", ""))}
        except (TypeError, ValueError):
            pass
    return {"type": type(value).__qualname__}


def _is_link(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int)


@dataclass
class NodeRecord:
    """One node of one run: its class, the literal inputs of the prompt, what the run resolved them to,
    where the values came from (``runtime``, ``previous_run`` or ``parser``) and how long it took."""

    node_id: str
    class_type: str
    raw_inputs: dict[str, Any]
    source: str = "parser"
    cached: bool = False
    resolved: dict[str, Any] = field(default_factory=dict)
    linked: list[str] = field(default_factory=list)
    seconds: float | None = None
    display_node_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written into the image metadata."""
        out: dict[str, Any] = {"class_type": self.class_type, "source": self.source, "cached": self.cached,
                               "inputs": self.resolved, "linked": self.linked}
        if self.seconds is not None:
            out["seconds"] = round(self.seconds, 6)
        if self.display_node_id and self.display_node_id != self.node_id:
            out["display_node_id"] = self.display_node_id
        return out


@dataclass
class Session:
    """The capture of one ``prompt_id``: per-node records in the order seen (cached nodes first, then the
    executed ones in execution order), and whether recording stopped on an error (``error`` then says
    why; the records before it are kept)."""

    prompt_id: str
    started: float = field(default_factory=time.perf_counter)
    order: list[str] = field(default_factory=list)
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    error: str | None = None
    finished: bool = False
    seconds: float | None = None
    scanned: bool = False  # the cached nodes were recorded (at the first node)

    @property
    def active(self) -> bool:
        """Still recording: not finished and no hook error."""
        return self.error is None and not self.finished

    def as_dict(self) -> dict[str, Any]:
        """The runtime section of the metadata."""
        return {"prompt_id": self.prompt_id, "execution_order": [n for n in self.order if not self.nodes[n].cached],
                "cached_nodes": [n for n in self.order if self.nodes[n].cached],
                "nodes": {nid: rec.as_dict() for nid, rec in self.nodes.items()},
                "error": self.error, "finished": self.finished,
                "seconds": round(self.seconds, 6) if self.seconds is not None else None}


class _State:
    """Process-wide hook state: what was replaced, the sessions by prompt id, the last records."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.module: ModuleType | None = None
        self.originals: dict[str, Any] = {}
        self.installed: dict[str, Any] = {}
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.previous: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.wants: Any = None  # callable(prompt, extra_data) -> bool, or None = always


_state = _State()
_SESSIONS_KEPT = 64


def _fail(session: Session, where: str, exc: BaseException) -> None:
    """Log a hook failure once and stop recording this session; ComfyUI never sees the exception."""
    if session.error is None:
        session.error = f"{where}: {type(exc).__name__}: {exc}"
        log.warning("comfyfixer capture disabled for prompt %s after an error in %s", session.prompt_id, where,
                    exc_info=exc)


def _previous_key(node_id: str, class_type: str, raw: dict[str, Any]) -> str:
    try:
        return node_id + "\x00" + class_type + "\x00" + json.dumps(raw, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return node_id + "\x00" + class_type


def _begin_node(session: Session, dynprompt: Any, caches: Any, node_id: str) -> NodeRecord:
    # A lazy or async node goes through execute() more than once (PENDING, then resumed); the resumed
    # call may skip input gathering, so the first record stays.
    if node_id in session.nodes:
        return session.nodes[node_id]
    node = dynprompt.get_node(node_id)
    raw = dict(node.get("inputs", {}))
    rec = NodeRecord(node_id=node_id, class_type=str(node.get("class_type")), raw_inputs=raw)
    rec.linked = sorted(k for k, v in raw.items() if _is_link(v))
    get_display = getattr(dynprompt, "get_display_node_id", None)
    rec.display_node_id = str(get_display(node_id)) if callable(get_display) else None
    rec.cached = caches.outputs.get(node_id) is not None
    if rec.cached:
        prev = _state.previous.get(_previous_key(node_id, rec.class_type, raw))
        if prev is not None:
            rec.resolved, rec.source = dict(prev), "previous_run"
        else:
            rec.resolved = {k: summarize(v) for k, v in raw.items() if not _is_link(v) and k not in _NEVER_KEEP}
            rec.source = "parser"
    session.order.append(node_id)
    session.nodes[node_id] = rec
    return rec


def _scan_cached(session: Session, dynprompt: Any, caches: Any) -> None:
    """Record the prompt's nodes already in the output cache, once per session, before the first node
    runs: 0.3.64's ``ExecutionList`` never stages them, so ``execute`` is not even called for them (the
    same test ``execute_async`` makes for its ``execution_cached`` message)."""
    session.scanned = True
    prompt = getattr(dynprompt, "original_prompt", None) or {}
    for node_id in prompt:
        if caches.outputs.get(node_id) is not None:
            _begin_node(session, dynprompt, caches, str(node_id))


def _make_execute_wrapper(original: Any) -> Any:
    @functools.wraps(original)
    async def comfyfixer_execute(server: Any, dynprompt: Any, caches: Any, current_item: Any, *args: Any, **kw: Any) -> Any:
        session = _current.get()
        rec = None
        if session is not None and session.active:
            try:
                if not session.scanned:
                    _scan_cached(session, dynprompt, caches)
                rec = _begin_node(session, dynprompt, caches, str(current_item))
            except Exception as exc:  # a hook must never break a run
                _fail(session, "execute", exc)
        token = _current_node.set(str(current_item) if rec is not None else None)
        t0 = time.perf_counter()
        try:
            return await original(server, dynprompt, caches, current_item, *args, **kw)
        finally:
            _current_node.reset(token)
            if rec is not None and not rec.cached:
                rec.seconds = (rec.seconds or 0.0) + time.perf_counter() - t0

    return comfyfixer_execute


def _make_get_input_data_wrapper(original: Any) -> Any:
    @functools.wraps(original)
    def comfyfixer_get_input_data(inputs: Any, class_def: Any, unique_id: Any, *args: Any, **kw: Any) -> Any:
        result = original(inputs, class_def, unique_id, *args, **kw)
        session = _current.get()
        node_id = _current_node.get()
        if session is None or not session.active or node_id is None or str(unique_id) != node_id:
            return result
        try:
            rec = session.nodes[node_id]
            input_data_all = result[0]
            rec.resolved = {k: summarize(v) for k, v in input_data_all.items()
                            if k in inputs and k not in _NEVER_KEEP}
            rec.source = "runtime"
            _state.previous[_previous_key(node_id, rec.class_type, rec.raw_inputs)] = dict(rec.resolved)
            while len(_state.previous) > _PREVIOUS_LIMIT:
                _state.previous.popitem(last=False)
        except Exception as exc:
            _fail(session, "get_input_data", exc)
        return result

    return comfyfixer_get_input_data


def _make_execute_async_wrapper(original: Any) -> Any:
    @functools.wraps(original)
    async def comfyfixer_execute_async(self: Any, prompt: Any, prompt_id: Any, extra_data: Any = None,
                                       execute_outputs: Any = None, *args: Any, **kw: Any) -> Any:
        extra = extra_data if extra_data is not None else {}
        outputs = execute_outputs if execute_outputs is not None else []
        session = None
        try:
            if _state.wants is None or _state.wants(prompt, extra):
                session = open_session(str(prompt_id))
        except Exception:
            log.warning("comfyfixer capture could not open a session for %s", prompt_id, exc_info=True)
        token = _current.set(session)
        try:
            return await original(self, prompt, prompt_id, extra, outputs, *args, **kw)
        finally:
            _current.reset(token)
            if session is not None:
                session.finished = True
                session.seconds = time.perf_counter() - session.started

    return comfyfixer_execute_async


def open_session(prompt_id: str) -> Session:
    """Start (or restart) the session of ``prompt_id``; the oldest sessions are dropped past 64."""
    with _state.lock:
        session = Session(prompt_id=prompt_id)
        _state.sessions[prompt_id] = session
        _state.sessions.move_to_end(prompt_id)
        while len(_state.sessions) > _SESSIONS_KEPT:
            _state.sessions.popitem(last=False)
    return session


def current_session() -> Session | None:
    """The session of the prompt running in this context (what a save node reads), or None."""
    return _current.get()


def session_for(prompt_id: str) -> Session | None:
    """A session by prompt id, finished or not."""
    return _state.sessions.get(prompt_id)


def is_installed() -> bool:
    """The hooks are in place."""
    return bool(_state.installed)


def _looks_original(obj: Any, module_name: str, qualname: str) -> bool:
    """``obj`` is ComfyUI's own function: right module and name, and not a wrapper (no ``__wrapped__``)."""
    func = getattr(obj, "__func__", obj)
    return (getattr(func, "__module__", None) == module_name and getattr(func, "__qualname__", None) == qualname
            and not hasattr(func, "__wrapped__"))


def install(execution: ModuleType, *, wants: Any = None) -> bool:
    """Wrap the three executor functions of ``execution`` (ComfyUI's module, or a stand-in with the same
    names). Returns True when the hooks are in place (also when they already were).

    ``wants(prompt, extra_data) -> bool`` decides per prompt whether a session is recorded (None: every
    prompt). Any of the three missing or not ComfyUI's own (another extension wrapped it) → a warning
    naming it and nothing is patched at all.
    """
    with _state.lock:
        if _state.installed:
            _state.wants = wants
            return True
        executor = getattr(execution, "PromptExecutor", None)
        name = execution.__name__
        targets = {
            "get_input_data": (getattr(execution, "get_input_data", None), "get_input_data"),
            "execute": (getattr(execution, "execute", None), "execute"),
            "PromptExecutor.execute_async": (executor.__dict__.get("execute_async") if executor is not None else None,
                                             "PromptExecutor.execute_async"),
        }
        for label, (obj, qualname) in targets.items():
            if obj is None:
                log.warning("comfyfixer capture stays off: %s.%s does not exist in this ComfyUI", name, label)
                return False
            if not _looks_original(obj, name, qualname):
                owner = getattr(obj, "__module__", "?")
                log.warning("comfyfixer capture stays off: %s.%s is already wrapped (by %s); not stacking hooks",
                            name, label, owner)
                return False
        originals = {label: obj for label, (obj, _q) in targets.items()}
        wrappers = {
            "get_input_data": _make_get_input_data_wrapper(originals["get_input_data"]),
            "execute": _make_execute_wrapper(originals["execute"]),
            "PromptExecutor.execute_async": _make_execute_async_wrapper(originals["PromptExecutor.execute_async"]),
        }
        execution.get_input_data = wrappers["get_input_data"]  # type: ignore[attr-defined]
        execution.execute = wrappers["execute"]  # type: ignore[attr-defined]
        executor.execute_async = wrappers["PromptExecutor.execute_async"]  # type: ignore[union-attr]
        _state.module, _state.originals, _state.installed, _state.wants = execution, originals, wrappers, wants
        log.info("comfyfixer runtime capture installed on %s", name)
        return True


def uninstall() -> bool:
    """Put ComfyUI's original functions back. An attribute someone re-wrapped after us is left as it is
    (restoring ours would drop their wrapper) and reported; returns True when everything was restored."""
    with _state.lock:
        execution = _state.module
        if execution is None or not _state.installed:
            return True
        executor = execution.PromptExecutor
        clean = True
        current = {"get_input_data": getattr(execution, "get_input_data", None),
                   "execute": getattr(execution, "execute", None),
                   "PromptExecutor.execute_async": executor.__dict__.get("execute_async")}
        for label, obj in current.items():
            if obj is not _state.installed[label]:
                log.warning("comfyfixer capture: %s was re-wrapped by someone else; leaving it in place", label)
                clean = False
                continue
            if label == "PromptExecutor.execute_async":
                executor.execute_async = _state.originals[label]
            else:
                setattr(execution, label, _state.originals[label])
        _state.module, _state.originals, _state.installed, _state.wants = None, {}, {}, None
        return clean


def reset() -> None:
    """Forget every session and remembered record (tests; never needed in ComfyUI)."""
    with _state.lock:
        _state.sessions.clear()
        _state.previous.clear()
