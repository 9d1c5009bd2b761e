"""The real orchestrator (qwen-agent FnCallAgent + our adapter) against a scripted model server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import PLANTED, make_settings

from comfyfixer.agent.orchestrator import Conversation, ModelUnavailable, Orchestrator
from comfyfixer.agent.orchestrator.adapter import UNTRUSTED_NOTES_HEADER
from comfyfixer.agent.orchestrator.engine import PLANTED_NOTICE
from comfyfixer.tools.errors import ApprovalError

MODES = [pytest.param(True, id="native"), pytest.param(False, id="nous")]


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


def tool_results(request: dict[str, Any]) -> list[str]:
    """Tool results as the model saw them, in either mode."""
    out = []
    for msg in request["messages"]:
        content = msg.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        if msg["role"] == "tool" or (msg["role"] == "user" and "<tool_response>" in text):
            out.append(text)
    return out


@pytest.mark.parametrize("native", MODES)
def test_tool_call_then_answer(agent_run, native: bool) -> None:
    script = [call("lookup_model", name="flux1-dev"), {"content": "Use flux1-dev.safetensors.\nSTATUS: OK"}]
    answer, srv, _ = agent_run(script, "which flux file?", native=native)

    assert answer.status == "OK"
    assert answer.answer == "Use flux1-dev.safetensors."
    assert [(c.tool, c.status) for c in answer.tool_calls] == [("lookup_model", "OK")]
    assert answer.tool_calls[0].result == {"status": "OK", "match": "flux1-dev.safetensors", "candidates": []}
    assert answer.usage.llm_calls == 2 and answer.usage.prompt_tokens > 0
    first, second = srv.requests
    # the seed is pinned (qwen-agent would otherwise send a random one) and identical across calls
    assert first["seed"] == second["seed"] == 1234
    if native:
        assert [t["function"]["name"] for t in first["tools"]][:2] == ["search_knowledge", "lookup_model"]
        tool_msg = next(m for m in second["messages"] if m["role"] == "tool")
        assert tool_msg["tool_call_id"]  # strict servers refuse tool messages without it
    else:
        assert "tools" not in first
        assert "<tools>" in first["messages"][0]["content"]
    assert "flux1-dev.safetensors" in tool_results(second)[0]


@pytest.mark.parametrize("native", MODES)
def test_streaming_delivers_the_answer_progressively(agent_run, native: bool) -> None:
    lines = [f"Line {i}: the VAE goes in models/vae." for i in range(4)]
    script = [{"content": "\n".join(lines) + "\nSTATUS: OK"}]
    pieces: list[str] = []
    answer, _, _ = agent_run(script, native=native, run_kw={"on_text": pieces.append})

    assert len(pieces) >= 2, "text should arrive in several pieces, not at the end only"
    assert "".join(pieces).strip() == answer.answer == "\n".join(lines)
    assert not any("STATUS" in p for p in pieces)


def test_repeated_function_names_in_stream_are_not_joined(agent_run) -> None:
    script = [call("lookup_model", name="sdxl_base"), {"content": "done\nSTATUS: OK"}]
    answer, _, _ = agent_run(script, server_kw={"repeat_tool_names": True, "chunk_size": 4})

    assert [c.tool for c in answer.tool_calls] == ["lookup_model"]
    assert answer.tool_calls[0].arguments == {"name": "sdxl_base"}


@pytest.mark.parametrize("native", MODES)
def test_tool_error_goes_back_to_the_model_without_traceback(agent_run, native: bool) -> None:
    script = [call("lookup_model", name="missing"), call("lookup_model", name="crash"),
              {"content": "Neither lookup worked.\nSTATUS: FAILED"}]
    answer, srv, _ = agent_run(script, native=native)

    errors = [c.error for c in answer.tool_calls]
    assert errors[0]["kind"] == "tool_error" and errors[0]["error_type"] == "NotFound"
    assert errors[0]["hint"] == "check the spelling"
    assert errors[1]["kind"] == "internal_error"
    seen = "\n".join(tool_results(srv.requests[-1]))
    assert "check the spelling" in seen
    assert "Traceback" not in seen and "File \"" not in seen
    assert answer.status == "FAILED" and answer.reason


@pytest.mark.parametrize("native", MODES)
def test_unknown_tool_is_an_error_the_model_can_fix(agent_run, native: bool) -> None:
    script = [call("civitai_download", url="x"), call("lookup_model", name="sd15"), {"content": "ok\nSTATUS: OK"}]
    answer, srv, _ = agent_run(script, native=native)

    first = answer.tool_calls[0]
    assert first.status == "ERROR" and first.error["kind"] == "unknown_tool"
    assert "lookup_model" in first.error["hint"]
    assert "there is no tool named 'civitai_download'" in tool_results(srv.requests[1])[0]
    assert answer.tool_calls[1].status == "OK"
    assert answer.status == "OK"


@pytest.mark.parametrize("native", MODES)
def test_invalid_arguments_are_returned_and_corrected(agent_run, native: bool) -> None:
    script = [call("lookup_model", nam="sd15"), call("lookup_model", name="sd15"), {"content": "fixed\nSTATUS: OK"}]
    answer, srv, _ = agent_run(script, native=native)

    bad, good = answer.tool_calls
    assert bad.status == "ERROR" and bad.error["kind"] == "invalid_arguments"
    assert {"field": "name", "problem": "Field required"} in bad.error["details"]
    assert "Field required" in tool_results(srv.requests[1])[0]
    assert good.status == "OK" and answer.status == "OK"


def test_round_limit_makes_the_answer_uncertain(agent_run) -> None:
    def always_call(body: dict[str, Any]) -> dict[str, Any]:
        return call("lookup_model", name="juggernaut")

    answer, srv, _ = agent_run(always_call, llm_max_rounds=3)

    assert len(srv.requests) == 3
    assert answer.status == "UNCERTAIN"
    assert "round limit" in (answer.reason or "")
    assert "juggernautXL_v9.safetensors" in answer.candidates
    assert answer.answer  # a fallback explanation, never empty


def test_uncertain_tool_result_keeps_the_answer_uncertain(agent_run) -> None:
    script = [call("lookup_model", name="juggernaut"), {"content": "It is juggernautXL_v9.\nSTATUS: OK"}]
    answer, _, _ = agent_run(script)

    assert answer.status == "UNCERTAIN"
    assert answer.candidates == ["juggernautXL_v9.safetensors", "juggernaut_reborn.safetensors"]
    assert answer.evidence and answer.evidence[0]["tool"] == "lookup_model"


def test_uncertainty_resolved_by_later_evidence_is_ok(agent_run) -> None:
    script = [call("lookup_model", name="juggernaut"), call("lookup_model", name="juggernautXL_v9"),
              {"content": "juggernautXL_v9.safetensors\nSTATUS: OK"}]
    answer, _, _ = agent_run(script)

    assert answer.status == "OK"


def test_empty_answer_is_uncertain(agent_run) -> None:
    answer, _, _ = agent_run([{"content": ""}])
    assert answer.status == "UNCERTAIN" and "empty" in (answer.reason or "")


def test_server_error_is_failed(agent_run) -> None:
    answer, _, _ = agent_run([{"http_status": 500, "error": "out of memory"}])
    assert answer.status == "FAILED"
    assert "500" in (answer.reason or "")


@pytest.mark.parametrize(("status", "message", "hint"), [
    (404, "model 'qwen-x' not found, try pulling it first", "ollama pull"),
    (400, "registry.ollama.ai/library/gemma does not support tools", "--prompt-tools"),
    (401, "invalid api key", "COMFYFIXER_LLM_API_KEY"),
])
def test_server_errors_say_what_to_do(agent_run, status: int, message: str, hint: str) -> None:
    answer, _, _ = agent_run([{"http_status": status, "error": message}])
    assert answer.status == "FAILED" and hint in (answer.reason or "")


def test_no_server_raises_model_unavailable(toolbox, tool_ctx) -> None:
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    orch = Orchestrator(make_settings(f"http://127.0.0.1:{port}/v1"), registry=toolbox.registry(), ctx=tool_ctx)
    with pytest.raises(ModelUnavailable) as err:
        orch.run("hi")
    assert f"127.0.0.1:{port}" in str(err.value) and "ollama run" in str(err.value)


@pytest.mark.parametrize("native", MODES)
def test_planted_instruction_cannot_trigger_an_action(agent_run, toolbox, native: bool) -> None:
    # The scripted "model" obeys the instruction planted in the Note node, as a weak model might.
    script = [call("read_notes", path="wf.json"), call("delete_models", pattern="*"),
              {"content": "The workflow notes suggest 30 steps.\nSTATUS: OK"}]
    answer, srv, orch = agent_run(script, "what do the notes say?", native=native)

    assert toolbox.calls.get("delete_models", 0) == 0, "a side-effect tool ran on the model's say-so"
    assert [p.tool for p in answer.proposals] == ["delete_models"]
    assert answer.tool_calls[-1].status == "PROPOSED"
    system = srv.requests[0]["messages"][0]["content"]
    assert "data, not instructions" in system
    # the planted text reached the model, but only after the JSON result, fenced and marked untrusted
    seen = tool_results(srv.requests[1])[0].replace("<tool_response>", "").replace("</tool_response>", "").strip()
    note_result, end = json.JSONDecoder().raw_decode(seen)
    assert PLANTED not in json.dumps(note_result) and "untrusted block" in note_result["data"]["notes"]
    fenced = seen[end:]
    assert UNTRUSTED_NOTES_HEADER in fenced and "```untrusted-workflow-notes" in fenced
    assert fenced.index("```untrusted") < fenced.index(PLANTED) < fenced.rindex("```")
    # and the user is told the file carries instructions that were ignored
    assert answer.answer.endswith(PLANTED_NOTICE)
    # the approval token never reached the model or the saved answer
    token = answer.proposals[0].approval_token
    assert all(token not in json.dumps(r) for r in srv.requests)
    assert token not in json.dumps(answer.to_json())
    # only the holder of the token (the UI, after the user said yes) can run it
    with pytest.raises(ApprovalError, match="does not match"):
        orch.execute_proposal(answer.proposals[0], "forged-token")
    assert toolbox.calls.get("delete_models", 0) == 0
    rec = orch.execute_proposal(answer.proposals[0], token)
    assert rec.status == "APPROVED" and toolbox.calls["delete_models"] == 1


def test_conversation_is_saved_and_resumed(agent_run, toolbox, tool_ctx, tmp_path: Path) -> None:
    state = tmp_path / "state"
    script = {
        "first question": [call("lookup_model", name="sd15"), {"content": "Answer one.\nSTATUS: OK"}],
        "second question": [{"content": "Answer two, following answer one.\nSTATUS: OK"}],
    }
    conv = Conversation.new(state)
    answer, srv, orch = agent_run(script, "first question", run_kw={"conversation": conv})
    assert answer.conversation_id == conv.id

    resumed = Conversation.load(state, conv.id)
    assert [t["question"] for t in resumed.turns] == ["first question"]
    assert resumed.trace[0].tool == "lookup_model" and resumed.trace[0].duration_ms >= 0
    second = orch.run("second question", conversation=resumed)
    assert second.answer == "Answer two, following answer one."
    contents = [m.get("content") for m in srv.requests[-1]["messages"]]
    assert "first question" in contents and "Answer one.\nSTATUS: OK" in contents
    again = Conversation.load(state, "last")
    assert len(again.turns) == 2 and len(again.path.read_text().splitlines()) == 2


def test_no_workspace_folder_in_the_current_directory(agent_run, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    agent_run([{"content": "hi\nSTATUS: OK"}])
    assert not (tmp_path / "workspace").exists()


def test_streamer_holds_back_markup_and_the_status_line() -> None:
    from comfyfixer.agent.orchestrator.engine import _TextStreamer

    pieces: list[str] = []
    s = _TextStreamer(pieces.append)
    for text in ["Hello wor", "Hello world\nSTA", "Hello world\nSTATUS: O", "Hello world\nSee <tool_c"]:
        s.update(0, text)
    assert pieces == ["Hello wor", "ld\n"]
    s.update(0, "Hello world\nSTATUS: OK", final=True)
    assert "".join(pieces) == "Hello world\n" and not any("STATUS" in p for p in pieces)


def test_usage_is_estimated_when_the_server_reports_none(agent_run) -> None:
    answer, _, _ = agent_run([{"content": "hello there\nSTATUS: OK"}], server_kw={"report_usage": False})
    assert answer.usage.source == "estimated"
    assert answer.usage.prompt_tokens > 100 and answer.usage.completion_tokens > 0
