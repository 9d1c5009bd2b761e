"""What a run produces: tool-call records, proposed actions, usage and the final answer.

These are plain pydantic models (no qwen-agent import) so the CLI, the conversation journal and the
evals can use them without loading the LLM stack.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

AnswerStatus = Literal["OK", "UNCERTAIN", "FAILED"]


class ToolCallRecord(BaseModel):
    """One tool call as it happened: kept in the trace and saved with the conversation.

    Filled by the adapter (``adapter.py``) and by :meth:`Orchestrator.execute_proposal`. ``call_id`` is
    ``t<n>`` within a run or ``approved-<proposal>`` for an approved call; ``arguments`` are the validated
    arguments as JSON, or the model's raw text when they could not be parsed. ``status`` is the
    capability's OK/UNCERTAIN, ERROR (bad arguments, unknown tool, or the capability failed), PROPOSED (a
    side-effect call waiting for the user), APPROVED, or REFUSED (not set today: a declined proposal is
    saved as a ``refused`` conversation event). ``duration_ms`` is the call's wall time in milliseconds;
    ``result`` is its full result (the model saw a compacted copy) and ``error`` the short error it was
    told.
    """

    call_id: str
    turn: int = Field(description="Which LLM round asked for it (1-based).")
    tool: str
    arguments: dict[str, Any] | str
    status: Literal["OK", "UNCERTAIN", "ERROR", "PROPOSED", "APPROVED", "REFUSED"]
    duration_ms: float = 0.0
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class ProposedAction(BaseModel):
    """A side-effect tool call the model asked for. It runs only after the user approves it.

    ``approval_token`` never reaches the model: it lives in this object (held by the UI) and is
    excluded from every serialisation, so no text in the conversation can approve an action.
    """

    proposal_id: str
    tool: str
    arguments: dict[str, Any]
    summary: str
    approval_token: str = Field(exclude=True, repr=False)


class Usage(BaseModel):
    """LLM calls and tokens for one run.

    ``source`` says where the token counts come from: ``server`` (reported by the server), ``estimated``
    (counted with qwen-agent's tokenizer when the server reported none) or ``none`` (no call was made).
    ``seconds`` is the wall time of the whole run, tools included.
    """

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    source: Literal["server", "estimated", "none"] = "none"
    seconds: float = 0.0


class AgentAnswer(BaseModel):
    """The result of one question: status, answer text, candidates and the evidence behind them.

    Built by ``Orchestrator.run`` from the ``status.decide`` verdict. ``answer`` is never empty: when the
    model gave none it says why and lists the tool calls made. ``candidates`` are the choices left open
    (trimmed tool-result entries), ``evidence`` the tool calls the status rests on, ``tool_calls`` the
    full trace and ``proposals`` the side-effect calls awaiting approval (tokens excluded).
    ``conversation_id`` is set when the run continued a saved conversation.
    """

    status: AnswerStatus
    answer: str
    reason: str | None = Field(default=None, description="Why the status is UNCERTAIN or FAILED.")
    candidates: list[Any] = Field(default_factory=list)
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    proposals: list[ProposedAction] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    notices: list[str] = Field(default_factory=list, description="One-line notices about the server or mode.")
    conversation_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``ask --json`` document: every field as JSON, proposals without their approval tokens."""
        return {
            "status": self.status,
            "answer": self.answer,
            "reason": self.reason,
            "candidates": self.candidates,
            "evidence": self.evidence,
            "tool_calls": [c.model_dump(mode="json") for c in self.tool_calls],
            "proposals": [p.model_dump(mode="json") for p in self.proposals],
            "usage": self.usage.model_dump(mode="json"),
            "notices": self.notices,
            "conversation_id": self.conversation_id,
        }
