""""I downloaded this LoRA, how do I use it?": the request gets the identify / build / workflows-for tools and
identify_model runs first on the attached model file (before, it got the knowledge subset, without them)."""

from __future__ import annotations

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
