"""Recorded model traffic replayed with vcrpy: the real orchestrator, no model server running.

Matching is on method, path and body, so any change to the system prompt, a tool schema or a tool
result makes the replay fail loudly instead of passing quietly. Re-record after such a change with
``COMFYFIXER_RECORD_CASSETTES=1 pytest tests/agent/test_vcr_replay.py`` (it records against the
scripted loopback server).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import vcr
from agent_testkit import make_settings

from comfyfixer.agent.orchestrator import ModelUnavailable, Orchestrator
from comfyfixer.evals.fakes.chat_server import ScriptedChatServer

CASSETTE = Path(__file__).parent / "cassettes" / "agent_lookup_then_answer.yaml"
RECORD = os.environ.get("COMFYFIXER_RECORD_CASSETTES") == "1"
SCRIPT = [
    {"tool_calls": [{"name": "lookup_model", "arguments": {"name": "juggernaut"}}]},
    {"tool_calls": [{"name": "lookup_model", "arguments": {"name": "juggernautXL_v9"}}]},
    {"content": "Use juggernautXL_v9.safetensors in models/checkpoints.\nSTATUS: OK"},
]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_replayed_session_gives_the_same_answer(toolbox, tool_ctx) -> None:
    recorder = vcr.VCR(
        record_mode="all" if RECORD else "none",
        match_on=["method", "path", "body"],
        filter_headers=["authorization", "x-api-key", "cookie"],
        filter_query_parameters=["token"],
        decode_compressed_response=True,
    )
    if RECORD:
        CASSETTE.unlink(missing_ok=True)  # "all" would append to the old recording
    server = ScriptedChatServer(SCRIPT).start() if RECORD else None
    base_url = server.base_url if server else f"http://127.0.0.1:{_dead_port()}/v1"
    orch = Orchestrator(make_settings(base_url), toolset=toolbox.toolset(), ctx=tool_ctx)
    try:
        with recorder.use_cassette(str(CASSETTE)) as cassette:
            answer = orch.run("which juggernaut file do I need?")
    finally:
        if server:
            server.stop()
    assert answer.status == "OK"
    assert answer.answer == "Use juggernautXL_v9.safetensors in models/checkpoints."
    assert [c.status for c in answer.tool_calls] == ["UNCERTAIN", "OK"]
    assert toolbox.calls["lookup_model"] == 2, "tools really run during replay; only the model is canned"
    if not RECORD:
        assert cassette.play_count == 3 and cassette.all_played


@pytest.mark.skipif(RECORD, reason="recording")
def test_changed_prompt_does_not_match_the_cassette(toolbox, tool_ctx) -> None:
    from vcr.errors import CannotOverwriteExistingCassetteException

    recorder = vcr.VCR(record_mode="none", match_on=["method", "path", "body"])
    orch = Orchestrator(make_settings(f"http://127.0.0.1:{_dead_port()}/v1"), toolset=toolbox.toolset(), ctx=tool_ctx)
    with recorder.use_cassette(str(CASSETTE)), pytest.raises(ModelUnavailable) as err:
        orch.run("a different question")
    # the openai client wraps transport errors; the cassette mismatch is the root cause
    causes = []
    exc: BaseException | None = err.value
    while exc is not None:
        causes.append(type(exc))
        exc = exc.__cause__
    assert CannotOverwriteExistingCassetteException in causes
