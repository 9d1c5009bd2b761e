""""I downloaded this LoRA, how do I use it?": the request gets the identify / build / workflows-for tools and
identify_model runs first on the attached model file (before, it got the knowledge subset, without them)."""

from __future__ import annotations

from pathlib import Path

from comfyfixer.agent.orchestrator.first_step import plan_first_steps
from comfyfixer.agent.orchestrator.prompts import TASK_TOOLS, guess_task

TOOLS = ["identify_model", "build_workflow", "workflows_for_model", "search_knowledge", "resolve_model",
         "inspect_workflow", "check_workflows"]


def test_a_request_to_use_a_model_gets_the_model_tools() -> None:
    for question in ("I downloaded this LoRA. How do I use it?", "how do I use this checkpoint?",
                     "find workflows that use this model"):
        assert guess_task(question) == "use_model", question
    assert {"identify_model", "build_workflow", "workflows_for_model"} <= set(TASK_TOOLS["use_model"])
    # Making a workflow runnable still wins when both are asked.
    assert guess_task("I downloaded this LoRA but my workflow is missing a file") == "make_runnable"


def test_an_attached_model_file_is_identified_first() -> None:
    calls = plan_first_steps("How do I use it?", ["/x/my_style.safetensors", "/x/wf.json"], "use_model", TOOLS)
    assert [(c.tool, c.arguments) for c in calls] == [("inspect_workflow", {"path": "/x/wf.json"}),
                                                      ("identify_model", {"model": "/x/my_style.safetensors"})]
    named = plan_first_steps("I downloaded foo_lora.safetensors, how do I use it?", [], "use_model", TOOLS)
    assert [(c.tool, c.arguments) for c in named] == [("identify_model", {"model": "foo_lora.safetensors"})]
    wanted = plan_first_steps("my workflow wants juggernaut.safetensors", [], None, TOOLS)
    assert [c.tool for c in wanted] == ["resolve_model"]


def test_an_identified_lora_is_built_before_the_model_is_asked(tmp_path: Path) -> None:
    """A small model that only says "it is a LoRA" still ends with a workflow: identify_model runs first,
    build_workflow follows it (writing nothing), and the answer gets the loader, the base it needs and the
    command that writes the workflow from the tool results."""
    from agent_testkit import make_settings

    from comfyfixer.agent.orchestrator import Orchestrator
    from comfyfixer.evals.fakes.chat_server import ScriptedChatServer

    lora = Path(__file__).resolve().parents[2] / "evals" / "agent_cases" / "data" / "sdxl_style_lora.safetensors"
    with ScriptedChatServer([{"content": "It is a LoRA.\nSTATUS: OK"}] * 3) as srv:
        settings = make_settings(srv.base_url, offline=True, cache_dir=tmp_path / "c", state_dir=tmp_path / "s")
        answer = Orchestrator(settings).run("I downloaded this LoRA. How do I use it?", files=[str(lora)])
    assert [(c.tool, c.turn) for c in answer.tool_calls] == [("identify_model", 0), ("build_workflow", 0)]
    assert answer.tool_calls[-1].result["status"] == "BUILT"
    assert len(srv.requests) == 1, "the model was asked once, with the workflow already in its context"
    for fact in ("Stable Diffusion XL", "models/loras", "LoraLoader", "sd_xl_base_1.0.safetensors", "comfyfixer build"):
        assert fact in answer.answer, fact
    assert not list((tmp_path).rglob("*_txt2img*.json")), "the assistant writes no workflow file"


def test_an_unidentified_model_is_not_built() -> None:
    from comfyfixer.agent.orchestrator.first_step import FirstCall, follow_up_steps

    call = FirstCall("identify_model", {"model": "x.safetensors"})
    assert follow_up_steps(call, {"status": "UNCERTAIN", "role": "lora"}, "use_model", TOOLS) == []
    assert follow_up_steps(call, {"status": "IDENTIFIED", "role": "unknown"}, "use_model", TOOLS) == []
    assert follow_up_steps(call, {"status": "IDENTIFIED", "role": "lora"}, "explain_tune", TOOLS) == []
    assert follow_up_steps(call, {"status": "IDENTIFIED", "role": "lora"}, "use_model", TOOLS) == [
        FirstCall("build_workflow", {"model": "x.safetensors"})]
