"""One adapter from the project's registered capabilities to qwen-agent tools.

* :func:`tool_parameters` turns a pydantic input model into the schema qwen-agent accepts (its
  ``is_tool_schema`` wants exactly ``type``/``properties``/``required`` at the top, so titles go and
  ``$defs`` are inlined).
* :func:`make_qwen_tool` wraps a :class:`Capability`: qwen-agent's call goes straight to
  :meth:`Registry.call`, which parses and validates the arguments once and runs the capability —
  two of our frames between the model's call and the capability. The call is recorded in the run's
  trace and answered with compact JSON — a result or a short error the model can act on, never a
  traceback.
* A side-effect tool is never run from here: a call becomes a :class:`ProposedAction` that waits for
  the user's approval outside the model's reach.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from comfyfixer.agent.orchestrator.records import ProposedAction, ToolCallRecord
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.toolset import (
    Capability,
    Registry,
    ToolOutcome,
    compact_validation_errors,
    parse_arguments,
)

MAX_RESULT_CHARS = 6000
PROPOSAL_PREFIX = (
    "[Needs the user's approval: calling this only PROPOSES the action; it is not executed and you will "
    "not see its result.] "
)


def tool_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema in the shape qwen-agent accepts: no titles, no ``$ref``.

    Field descriptions and constraints are kept (the model reads them); only the top-level
    ``type``/``properties``/``required`` keys survive, which drops the model's own description.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any, depth: int = 0) -> Any:
        """Inline ``$ref`` targets and drop string-valued ``title`` keys (a property *named* "title" stays).
        Depth is capped at 12 so a recursive model cannot loop; deeper refs are left as they are.
        """
        if isinstance(node, dict):
            if "$ref" in node and depth < 12:
                target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
                extra = {k: v for k, v in node.items() if k != "$ref"}
                return resolve({**target, **extra}, depth + 1)
            return {k: resolve(v, depth) for k, v in node.items() if k != "title" or not isinstance(v, str)}
        if isinstance(node, list):
            return [resolve(v, depth) for v in node]
        return node

    body = resolve(schema)
    return {
        "type": "object",
        "properties": body.get("properties", {}),
        "required": list(body.get("required", [])),
    }


def compact(obj: Any, max_chars: int = MAX_RESULT_CHARS) -> Any:
    """Shrink JSON data until its text fits ``max_chars``, biggest parts first: long strings and lists
    are cut and deep bulky objects replaced by a marker saying what was left out. Small top-level
    facts (names, seeds, statuses) survive; the model knows the view is partial."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    if len(text) <= max_chars:
        return obj
    work = json.loads(text)  # a JSON-only deep copy we may edit
    # Each pass shrinks the largest part; the cap bounds the work on pathological data.
    for _ in range(500):
        found: list[tuple[int, int, Any, Any, Any]] = []
        total = _measure(work, None, None, 0, found, max_chars)
        if total <= max_chars:
            return work
        if not found:
            break
        _, _, parent, key, node = max(found, key=lambda f: (f[0], f[1]))
        parent[key] = _reduced(node)
    return {"truncated": True, "excerpt": json.dumps(work, ensure_ascii=False)[: max_chars - 100]}


def _measure(node: Any, parent: Any, key: Any, depth: int, found: list[Any], max_chars: int) -> int:
    """Approximate JSON size of ``node``; collect the parts that can be reduced."""
    if isinstance(node, dict):
        size = 2 + sum(len(json.dumps(k)) + 2 + _measure(v, node, k, depth + 1, found, max_chars) for k, v in node.items())
        if parent is not None and size > max_chars // 4:
            found.append((size, depth, parent, key, node))
    elif isinstance(node, list):
        size = 2 + sum(1 + _measure(v, node, i, depth + 1, found, max_chars) for i, v in enumerate(node))
        if parent is not None and (len(node) > 3 or size > max_chars // 4):
            found.append((size, depth, parent, key, node))
    else:
        size = len(json.dumps(node, ensure_ascii=False, default=str))
        if parent is not None and isinstance(node, str) and len(node) > 160:
            found.append((size, depth, parent, key, node))
    return size


def _reduced(node: Any) -> Any:
    if isinstance(node, str):
        return node[:120] + f"... ({len(node) - 120} more characters)"
    if isinstance(node, list) and len(node) > 3:
        return [*node[:3], f"... {len(node) - 3} more items not shown"]
    if isinstance(node, dict):
        return f"{{... object with {len(node)} keys not shown}}"
    return f"[... {len(node)} items not shown]"


def outcome_for_model(outcome: ToolOutcome) -> str:
    """The text the model reads for one tool call."""
    if outcome.ok:
        payload: dict[str, Any] = {"ok": True, "status": outcome.status, "data": compact(outcome.result)}
    else:
        assert outcome.error is not None
        payload = {"ok": False, "error": outcome.error.model_dump(exclude_none=True, exclude_defaults=True)}
        payload["error"]["kind"] = outcome.error.kind
    return json.dumps(payload, ensure_ascii=False, default=str)


@dataclass
class RunState:
    """What one run accumulates; tools append to it as they are called.

    ``turn`` is the number of LLM calls made so far (the engine increments it and stops at the budget);
    ``last_reply_empty`` is set after an LLM reply with no text and no tool call, which ends the run
    instead of letting qwen-agent ask again. ``trace`` holds every call (including refused and unknown
    tools) and ``proposals`` the side-effect calls waiting for the user. The two callbacks feed the CLI's
    live display.
    """

    turn: int = 0
    last_reply_empty: bool = False
    trace: list[ToolCallRecord] = field(default_factory=list)
    proposals: list[ProposedAction] = field(default_factory=list)
    on_tool_start: Callable[[str, Any], None] | None = None
    on_tool_end: Callable[[ToolCallRecord], None] | None = None

    def next_call_id(self) -> str:
        """``t1``, ``t2``, …: ids in call order, unique within one run only."""
        return f"t{len(self.trace) + 1}"

    def record(self, rec: ToolCallRecord) -> None:
        """Append ``rec`` to the trace and tell the ``on_tool_end`` callback, if any."""
        self.trace.append(rec)
        if self.on_tool_end:
            self.on_tool_end(rec)


def _propose(spec: Capability, state: RunState, call_id: str, args: Any) -> str:
    """A side-effect call becomes a proposal the user approves outside the model's reach."""
    try:
        parsed = parse_arguments(spec.input_model, args)
    except (ValidationError, ValueError) as exc:
        details = compact_validation_errors(exc) if isinstance(exc, ValidationError) else [{"problem": str(exc)}]
        error = {"kind": "invalid_arguments", "message": f"the arguments for {spec.name} do not match its schema",
                 "details": details}
        state.record(ToolCallRecord(call_id=call_id, turn=state.turn, tool=spec.name, arguments=args,
                                    status="ERROR", error=error))
        return json.dumps({"ok": False, "error": error})
    data = parsed.model_dump(mode="json")
    proposal = ProposedAction(
        proposal_id=f"p{len(state.proposals) + 1}",
        tool=spec.name,
        arguments=data,
        summary=f"{spec.name}({json.dumps(data, ensure_ascii=False)[:200]})",
        # Held by the UI only: the model sees the proposal id, so no text it writes can approve anything.
        approval_token=secrets.token_urlsafe(16),
    )
    state.proposals.append(proposal)
    state.record(ToolCallRecord(call_id=call_id, turn=state.turn, tool=spec.name, arguments=data,
                                status="PROPOSED", result={"proposal_id": proposal.proposal_id}))
    return json.dumps({
        "ok": True,
        "status": "PROPOSED",
        "data": {"proposal_id": proposal.proposal_id, "executed": False,
                 "note": "Not executed. The user decides outside this conversation; describe the proposal."},
    })


def make_qwen_tool(spec: Capability, registry: Registry, ctx: ToolContext, state: RunState) -> Any:
    """A qwen-agent ``BaseTool`` instance for ``spec``, bound to one run's state.

    The tool's ``description`` is the capability's docstring (prefixed with the approval notice for
    side-effect tools) and its ``parameters`` the input model's inlined schema. Each run builds its own
    instances, so the trace and proposals of one run never leak into another.
    """
    from qwen_agent.tools.base import BaseTool

    description = (PROPOSAL_PREFIX if spec.side_effects else "") + spec.description
    name = spec.name

    class TypedTool(BaseTool):
        """The qwen-agent tool class for one capability; name, description and parameters are set per
        capability, so every capability gets its own class.
        """
        parameters = tool_parameters(spec.input_model)

        def call(self, params: str | dict[str, Any], **kwargs: Any) -> str:
            """qwen-agent's entry point: ``params`` is the model's raw JSON string (or a dict). Returns the
            JSON text the model reads; never raises for bad arguments or a failing capability, which come back
            as ``{"ok": false, "error": ...}`` so the model can correct itself.
            """
            if state.on_tool_start:
                state.on_tool_start(name, params)
            call_id = state.next_call_id()
            if spec.side_effects:
                return _propose(spec, state, call_id, params)
            outcome = registry.call(name, params, ctx)
            state.record(ToolCallRecord(
                call_id=call_id, turn=state.turn, tool=name, arguments=outcome.arguments, status=outcome.status,
                duration_ms=outcome.duration_ms, result=outcome.result,
                error=outcome.error.model_dump(exclude_none=True) if outcome.error else None))
            return outcome_for_model(outcome)

    TypedTool.name = name
    TypedTool.description = description
    return TypedTool()
