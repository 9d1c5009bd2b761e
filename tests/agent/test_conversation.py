"""Conversation journals: append-only, resumable, no approval tokens stored."""

from __future__ import annotations

import json

import pytest

from comfyfixer.agent.orchestrator import AgentAnswer, Conversation, ProposedAction, ToolCallRecord
from comfyfixer.agent.orchestrator.status import STATUS_LINE, decide, split_status
from comfyfixer.tools.errors import InputError


def test_bad_or_missing_ids_are_input_errors(tmp_path) -> None:
    with pytest.raises(InputError, match="no saved conversation to resume"):
        Conversation.load(tmp_path, "last")
    with pytest.raises(InputError, match="not a conversation id"):
        Conversation.load(tmp_path, "../../etc/passwd")
    with pytest.raises(InputError, match="no saved conversation"):
        Conversation.load(tmp_path, "20260101-000000-abcdef")


def test_turns_are_appended_and_tokens_never_written(tmp_path) -> None:
    conv = Conversation.new(tmp_path)
    proposal = ProposedAction(proposal_id="p1", tool="delete_models", arguments={"pattern": "*"},
                              summary="delete_models(*)", approval_token="TOKEN-123")
    big = {"blob": "x" * 50_000}
    answer = AgentAnswer(status="OK", answer="done", proposals=[proposal], tool_calls=[
        ToolCallRecord(call_id="t1", turn=1, tool="inspect_workflow", arguments={"path": "a.json"}, status="OK",
                       duration_ms=12.5, result=big)])
    conv.append_turn("q1", [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "done"}], answer)
    first = conv.path.read_text()
    conv.append_event("refused", {"proposal": proposal.model_dump(mode="json")})
    text = conv.path.read_text()
    assert text.startswith(first), "the journal is only appended to"
    assert "TOKEN-123" not in text
    saved = json.loads(text.splitlines()[0])
    assert saved["tool_calls"][0]["result"]["truncated"] is True
    again = Conversation.load(tmp_path, conv.id)
    assert [m["content"] for m in again.messages] == ["q1", "done"]
    assert again.trace[0].duration_ms == 12.5


@pytest.mark.parametrize(("text", "status"), [
    ("All good.\nSTATUS: OK", "OK"),
    ("Two files fit.\n**STATUS: UNCERTAIN**", "UNCERTAIN"),
    ("UNCERTAIN: either A or B", "UNCERTAIN"),
    ("Could not read it.\nstatus: failed", "FAILED"),
    ("No status line at all", None),
])
def test_status_line_parsing(text: str, status: str | None) -> None:
    cleaned, declared = split_status(text)
    assert declared == status
    assert not STATUS_LINE.search(cleaned)


def test_model_cannot_talk_its_way_out_of_a_tool_uncertainty() -> None:
    rec = ToolCallRecord(call_id="t1", turn=1, tool="resolve_model", arguments={}, status="UNCERTAIN",
                         result={"status": "UNCERTAIN", "candidates": [{"filename": "a.safetensors", "url": "u",
                                                                        "reasons": ["long"] * 20}]})
    verdict = decide("It is a.safetensors.\nSTATUS: OK", [rec])
    assert verdict.status == "UNCERTAIN" and verdict.candidates == [{"filename": "a.safetensors", "url": "u"}]
