"""The owner's guardrail: workflow schemas are offered to the model only when the user asks for one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import make_settings

from comfyfixer.agent.orchestrator import Orchestrator
from comfyfixer.agent.orchestrator.prompts import EXPLICIT_ONLY_TOOLS, guess_task
from comfyfixer.evals.fakes.chat_server import ScriptedChatServer

SCHEMA_TOOLS = {"list_schemas", "build_schema"}
INPAINT_SIMPLE = "workflows/corpus/Acly__comfyui-inpaint-nodes/workflows__inpaint-simple.json"


def _offered(body: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools") or []}


def _ask(tmp_path: Path, question: str, files: list[str], script: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
    with ScriptedChatServer(script) as srv:
        settings = make_settings(srv.base_url, llm_native_tools=True, llm_probe=False, offline=True,
                                 cache_dir=tmp_path / "c",
                                 state_dir=tmp_path / "s")
        answer = Orchestrator(settings).run(question, files=files)
    return answer, srv.requests


def test_the_schema_tools_are_explicit_only() -> None:
    assert set(EXPLICIT_ONLY_TOOLS) == SCHEMA_TOOLS
    assert guess_task("add auto-inpainting to this workflow") == "build_schema"
    assert guess_task("build me the image cycling frontend") == "build_schema"
    for question in ("check this workflow", "why is my inpaint blurry?", "make this workflow runnable"):
        assert guess_task(question) != "build_schema", question


@pytest.mark.parametrize(("question", "with_file"), [
    ("check this workflow", True),
    ("what does this workflow need?", True),
    ("hello, what can you do?", False),  # no task and no first step: the full tool set, still without them
])
def test_a_generic_turn_neither_offers_nor_uses_schema_tools(tmp_path: Path, shared_data: Path, question: str,
                                                            with_file: bool) -> None:
    files = [str(shared_data / INPAINT_SIMPLE)] if with_file else []
    answer, requests = _ask(tmp_path, question, files, [{"content": "It inpaints a bear.\nSTATUS: OK"}] * 3)
    assert requests and all(not _offered(r) & SCHEMA_TOOLS for r in requests)
    assert len(_offered(requests[0])) > 2
    assert not {c.tool for c in answer.tool_calls} & SCHEMA_TOOLS


def test_asked_for_auto_inpainting_the_assistant_builds_it_into_a_copy_it_does_not_write(
        tmp_path: Path, shared_data: Path) -> None:
    workflow = tmp_path / "inpaint-simple.json"
    shutil.copy(shared_data / INPAINT_SIMPLE, workflow)
    before = workflow.read_bytes()
    answer_text = {"content": f"Built auto-inpaint into a copy; `comfyfixer schema build auto-inpaint --into {workflow}` "
                              "writes it.\nSTATUS: OK"}
    answer, requests = _ask(tmp_path, "Add auto-inpainting to this workflow", [str(workflow)], [answer_text] * 3)
    assert _offered(requests[0]) >= SCHEMA_TOOLS
    built = next(c for c in answer.tool_calls if c.tool == "build_schema")  # the first step, before the model
    assert built.turn == 0 and built.arguments["into"] == str(workflow) and built.arguments["name"] == "auto-inpaint"
    assert built.status == "OK" and built.result["status"] == "BUILT"
    assert built.result["target"] == str(tmp_path / "inpaint-simple.v2.json")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".json") == ["inpaint-simple.json"]
    assert workflow.read_bytes() == before


def test_first_steps_for_schema_requests() -> None:
    from comfyfixer.agent.orchestrator.first_step import plan_first_steps

    tools = ["inspect_workflow", "list_schemas", "build_schema"]

    def steps(question: str, files: list[str]) -> list[tuple[str, dict[str, Any]]]:
        return [(c.tool, c.arguments) for c in plan_first_steps(question, files, guess_task(question), tools)]

    assert steps("build me the image cycling frontend", []) == [("build_schema", {"name": "image-cycling"})]
    assert steps("which workflow schemas are there?", []) == [("list_schemas", {})]
    assert steps("show me the dynamic prompts schema for wf.json", ["wf.json"]) == [
        ("inspect_workflow", {"path": "wf.json"}), ("build_schema", {"name": "dynamic-prompts"})]
    assert steps("check this workflow", ["wf.json"]) == [("inspect_workflow", {"path": "wf.json"})]
