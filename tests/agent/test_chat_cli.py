"""``comfyfixer ask`` and ``comfyfixer chat`` in-process, against the scripted server."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.evals.fakes.chat_server import ScriptedChatServer

KNOWLEDGE_THEN_ANSWER = [
    {"tool_calls": [{"name": "search_knowledge", "arguments": {"query": "flux vae folder"}}]},
    {"content": "Put ae.safetensors in models/vae (model-family-flux#FLUX.1 files and folders).\nSTATUS: OK"},
]


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_ask_json_prints_one_document(capsys) -> None:
    with ScriptedChatServer(KNOWLEDGE_THEN_ANSWER) as srv:
        rc = run(["ask", "where does the flux vae go?", "--json", "--base-url", srv.base_url, "--model", "m"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert rc == 0
    assert {"status", "answer", "candidates", "tool_calls", "usage"} <= set(doc)
    assert doc["status"] == "OK" and "models/vae" in doc["answer"]
    assert doc["tool_calls"][0]["tool"] == "search_knowledge" and doc["tool_calls"][0]["status"] == "OK"
    assert doc["usage"]["llm_calls"] == 2 and doc["conversation_id"]
    # every registered tool was offered to the model
    offered = {t["function"]["name"] for t in srv.requests[0]["tools"]}
    assert {"search_knowledge", "inspect_workflow", "resolve_model", "plan_fix"} <= offered


def test_ask_streams_and_shows_tool_calls(capsys) -> None:
    with ScriptedChatServer(KNOWLEDGE_THEN_ANSWER) as srv:
        rc = run(["ask", "where does the flux vae go?", "--base-url", srv.base_url, "--prompt-tools"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "→ search_knowledge" in out and "← OK" in out
    assert "Put ae.safetensors in models/vae" in out and "STATUS:" not in out
    assert "tools" not in srv.requests[0], "--prompt-tools uses nous prompts, no native tools field"


def test_ask_strict_exits_1_when_uncertain(capsys) -> None:
    with ScriptedChatServer([{"content": "Maybe A or B.\nSTATUS: UNCERTAIN"}]) as srv:
        rc = run(["ask", "which?", "--strict", "--json", "--base-url", srv.base_url])
    assert rc == 1 and json.loads(capsys.readouterr().out)["status"] == "UNCERTAIN"


def test_no_server_gives_one_clear_message(capsys) -> None:
    rc = run(["ask", "hello", "--base-url", _dead_url()])
    err = capsys.readouterr().err
    assert rc == 2
    assert "No model server answered" in err and "ollama run qwen2.5:7b-instruct" in err
    assert "`comfyfixer inspect`" in err and "`comfyfixer chat`" not in err
    assert "Traceback" not in err


def test_no_server_json_is_still_one_document(capsys) -> None:
    rc = run(["ask", "hello", "--json", "--base-url", _dead_url()])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 2 and doc["status"] == "FAILED" and "ollama run" in doc["answer"]


def test_missing_file_is_a_usage_error(capsys, tmp_path) -> None:
    rc = run(["ask", "inspect it", "--file", str(tmp_path / "nope.json"), "--base-url", _dead_url()])
    assert rc == 2 and "no such file" in capsys.readouterr().err


@pytest.fixture
def scripted_toolbox(monkeypatch, toolbox):
    """Make the CLI's orchestrator use the test tools (including a side-effect tool)."""
    import comfyfixer.agent.services as services

    monkeypatch.setattr(services, "registry", toolbox.registry)
    return toolbox


def _chat(monkeypatch, capsys, script: Any, lines: list[str], *extra: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
    with ScriptedChatServer(script) as srv:
        rc = run(["chat", "--base-url", srv.base_url, *extra])
    return rc, capsys.readouterr().out


DELETE_SCRIPT = [
    {"tool_calls": [{"name": "delete_models", "arguments": {"pattern": "*.ckpt"}}]},
    {"content": "I proposed deleting the .ckpt files.\nSTATUS: OK"},
]


def test_chat_asks_before_running_a_proposal_and_no_means_no(monkeypatch, capsys, scripted_toolbox) -> None:
    rc, out = _chat(monkeypatch, capsys, DELETE_SCRIPT, ["clean up my old ckpt files", "n", "/trace", "/exit"])
    assert rc == 0
    assert "Proposed action p1: delete_models" in out and "not run." in out
    assert scripted_toolbox.calls.get("delete_models", 0) == 0
    assert "delete_models PROPOSED" in out  # /trace shows the recorded call
    assert "saved as" in out


def test_chat_runs_an_approved_proposal_and_resumes(monkeypatch, capsys, scripted_toolbox) -> None:
    rc, out = _chat(monkeypatch, capsys, DELETE_SCRIPT, ["clean up my old ckpt files", "y", "/exit"])
    assert rc == 0 and scripted_toolbox.calls["delete_models"] == 1 and "APPROVED" in out
    follow_up = {"clean up": DELETE_SCRIPT, "and now?": [{"content": "Done earlier.\nSTATUS: OK"}]}
    rc, out = _chat(monkeypatch, capsys, follow_up, ["and now?", "/exit"], "--resume", "last")
    assert rc == 0 and "resumed" in out and "Done earlier." in out


def test_ask_prints_the_approval_step_for_a_saved_plan(capsys, templates_dir, monkeypatch) -> None:
    from pathlib import Path

    demo = Path(__file__).resolve().parents[2] / "demo" / "ComfyUI"
    if not demo.is_dir():
        pytest.skip("demo ComfyUI not present")
    monkeypatch.setenv("COMFYFIXER_COMFYUI_DIR", str(demo))
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    wf = str(templates_dir / "hidream_i1_dev.json")
    # Turns 0 and 1 are the orchestrator's own first steps (inspect_workflow, check_workflows): the
    # scripted model's first reply is turn 2.
    first_steps = [{"content": "(turn taken by the orchestrator's first step)"}] * 2
    script = [*first_steps, {"tool_calls": [{"name": "plan_fix", "arguments": {"paths": [wf]}}]},
              {"content": "I made a plan.\nSTATUS: OK"}]
    with ScriptedChatServer(script) as srv:
        rc = run(["ask", "make it runnable", "--file", wf, "--base-url", srv.base_url])
    out = capsys.readouterr().out
    assert rc == 0 and "Fix plan saved:" in out and "comfyfixer approve " in out


def test_chat_end_of_input_at_the_approval_prompt_means_no(monkeypatch, capsys, scripted_toolbox) -> None:
    rc, out = _chat(monkeypatch, capsys, DELETE_SCRIPT, ["clean up my old ckpt files"])
    assert rc == 0 and scripted_toolbox.calls.get("delete_models", 0) == 0 and "not run." in out
