"""Recorded model traffic replayed with vcrpy: the real orchestrator, no model server running.

Matching adds the request body to the suite's default (``tests/recorded.py``), so any change to the system
prompt, a tool schema or a tool result makes the replay fail loudly instead of passing quietly. Re-record
after such a change with ``python tests/agent/cassettes/build_agent_cassette.py`` (it runs ``SCRIPT`` and
``QUESTION`` below against the scripted loopback server); tests themselves never record.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from agent_testkit import make_settings
from recorded import MATCH_ON, Replayer, locate
from vcr.errors import CannotOverwriteExistingCassetteException

from comfyfixer.agent.orchestrator import ModelUnavailable, Orchestrator

CASSETTE = "agent_lookup_then_answer.yaml"
MATCH_BODY = (*MATCH_ON, "body")
QUESTION = "which juggernaut file do I need?"
SCRIPT = [
    {"tool_calls": [{"name": "lookup_model", "arguments": {"name": "juggernaut"}}]},
    {"tool_calls": [{"name": "lookup_model", "arguments": {"name": "juggernautXL_v9"}}]},
    {"content": "Use juggernautXL_v9.safetensors in models/checkpoints.\nSTATUS: OK"},
]


def recorded_base_url() -> str:
    """The ``/v1`` base URL the recording talked to (the scripted server's loopback port, long gone).

    Port and host are matched like every cassette; nothing listens there, and with ``record_mode="none"``
    vcrpy answers every request itself, so no connection is ever made.
    """
    doc = yaml.safe_load(locate(CASSETTE, Path(__file__).parent).read_text(encoding="utf-8"))
    url = urlsplit(doc["interactions"][0]["request"]["uri"])
    return f"{url.scheme}://{url.netloc}/v1"


def test_replayed_session_gives_the_same_answer(toolbox, tool_ctx, replay: Replayer) -> None:
    orch = Orchestrator(make_settings(recorded_base_url(), llm_probe=False), registry=toolbox.registry(), ctx=tool_ctx)
    with replay(CASSETTE, match_on=MATCH_BODY) as cassette:
        answer = orch.run(QUESTION)
    assert answer.status == "OK"
    assert answer.answer == "Use juggernautXL_v9.safetensors in models/checkpoints."
    assert [c.status for c in answer.tool_calls] == ["UNCERTAIN", "OK"]
    assert toolbox.calls["lookup_model"] == 2, "tools really run during replay; only the model is canned"
    assert cassette.play_count == 3


def test_changed_prompt_does_not_match_the_cassette(toolbox, tool_ctx, replay: Replayer) -> None:
    orch = Orchestrator(make_settings(recorded_base_url(), llm_probe=False), registry=toolbox.registry(), ctx=tool_ctx)
    with replay(CASSETTE, match_on=MATCH_BODY, partial="proves a different question matches nothing") as cassette, \
            pytest.raises(ModelUnavailable, match="no model server answered at") as err:
        orch.run("a different question")
    assert cassette.play_count == 0  # the very first request already differs in its body
    # the openai client wraps transport errors; the cassette mismatch is the root cause
    causes = []
    exc: BaseException | None = err.value
    while exc is not None:
        causes.append(type(exc))
        exc = exc.__cause__
    assert CannotOverwriteExistingCassetteException in causes
    assert "COMFYFIXER_LLM_BASE_URL" in (err.value.hint or "")  # what to do next
