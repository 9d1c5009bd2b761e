"""What makes the assistant work on small local models, each through the scripted model server:
tool calls in every shape they write, the orchestrator's own first step, no OK without evidence,
no empty answers, servers that drop tools, and the context budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import make_settings

from comfyfixer.agent.orchestrator import Orchestrator
from comfyfixer.agent.orchestrator.adapter import UNTRUSTED_NOTES_HEADER, RunState, make_qwen_tool
from comfyfixer.agent.orchestrator.engine import PLANTED_NOTICE, result_budget
from comfyfixer.agent.orchestrator.first_step import plan_first_steps
from comfyfixer.agent.orchestrator.probe import _find_context, probe_server
from comfyfixer.agent.orchestrator.prompts import TASK_TOOLS, system_prompt
from comfyfixer.agent.orchestrator.toolcalls import extract_calls, match_name
from comfyfixer.evals.fakes.chat_server import ScriptedChatServer

CASES = Path(__file__).resolve().parents[2] / "evals" / "agent_cases" / "data"
ANSWER = {"content": "Use sdxl_base.safetensors.\nSTATUS: OK"}
ARGS = {"name": "sdxl_base"}


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


PLANTED = CASES / "planted_note_sd35.json"
DEMO = Path(__file__).resolve().parents[2] / "demo" / "ComfyUI"


def ask_about(tmp_path: Path, script: Any, question: str, files: list[Any], *, native: bool = True,
              **settings_kw: Any) -> tuple[Any, ScriptedChatServer]:
    """One run of the real registry's tools (offline, cache and state under ``tmp_path``) against the
    scripted model ``script``; returns the answer and the stopped server (its requests kept)."""
    with ScriptedChatServer(script) as srv:
        settings = make_settings(srv.base_url, llm_native_tools=native, offline=True, cache_dir=tmp_path / "c",
                                 **{"state_dir": tmp_path / "s", **settings_kw})
        answer = Orchestrator(settings).run(question, files=files)
    return answer, srv


# --- tool calls in every shape ---------------------------------------------------------------
SHAPES = {
    "native tool_calls": (call("lookup_model", **ARGS), True),
    "native, near-miss name": (call("lookup-model", **ARGS), True),
    "native, misspelt name": (call("lookup_modle", **ARGS), True),
    "<tool_call> tags (nous)": (call("lookup_model", **ARGS), False),
    "<tool_call> tags, near-miss name (nous)": (call("functions.lookup_model", **ARGS), False),
    "<tool_call> tags in a native reply": (
        {"content": '<tool_call>\n{"name": "lookup_model", "arguments": {"name": "sdxl_base"}}\n</tool_call>'}, True),
    "fenced JSON, native": (
        {"content": 'I will look it up.\n```json\n{"name": "lookup_model", "arguments": {"name": "sdxl_base"}}\n```'},
        True),
    "fenced JSON, nous": ({"content": '```json\n{"name": "lookup_model", "arguments": {"name": "sdxl_base"}}\n```'},
                          False),
    "HTML-escaped <tool_call> (llama-cpp-python's template)": (
        {"content": '&lt;tool_call&gt;\n{&#34;name&#34;: &#34;lookup_model&#34;, &#34;arguments&#34;: '
                    '{&#34;name&#34;: &#34;sdxl_base&#34;}}\n&lt;/tool_call&gt;'}, False),
    "bare JSON with parameters": ({"content": '{"name": "lookup_model", "parameters": {"name": "sdxl_base"}}'}, True),
    "OpenAI function object, arguments as text": (
        {"content": '{"type": "function", "function": {"name": "lookup_model", "arguments": "{\\"name\\": \\"sdxl_base\\"}"}}'},
        False),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_tool_call_shape_is_executed_once_with_validated_arguments(agent_run, toolbox, shape: str) -> None:
    reply, native = SHAPES[shape]
    answer, srv, _ = agent_run([reply, ANSWER], "which sdxl file?", native=native)

    assert toolbox.calls == {"lookup_model": 1}, shape
    [rec] = answer.tool_calls
    assert (rec.tool, rec.status, rec.arguments) == ("lookup_model", "OK", ARGS)
    assert answer.status == "OK" and answer.answer == "Use sdxl_base.safetensors."
    assert len(srv.requests) == 2  # the call, then the answer: nothing asked twice
    if native:
        sent = srv.requests[1]["messages"]
        assert any(m.get("tool_calls") for m in sent) and any(m["role"] == "tool" for m in sent)


def test_invalid_arguments_get_a_compact_error_and_one_retry(agent_run, toolbox) -> None:
    bad = call("lookup_model", nam="x")
    answer, srv, _ = agent_run([bad, bad, bad, {"content": "I could not look it up.\nSTATUS: FAILED"}])

    assert toolbox.calls == {}
    assert [c.error["kind"] for c in answer.tool_calls] == ["invalid_arguments", "invalid_arguments", "retry_limit"]
    sent = next(m for m in srv.requests[1]["messages"] if m["role"] == "tool")["content"]
    assert "Traceback" not in sent and "name" in json.loads(sent)["error"]["details"][0]["field"]


def test_near_miss_names_only_when_unambiguous() -> None:
    names = ["resolve_node", "resolve_model", "inspect_workflow", "search_knowledge"]
    assert match_name("inspect_worflow", names) == "inspect_workflow"
    assert match_name("Functions.Search-Knowledge", names) == "search_knowledge"
    assert match_name("resolve_mode", names) is None  # one edit from resolve_model, two from resolve_node: too close
    assert match_name("download_everything", names) is None
    # JSON data that is not shaped like a call stays an answer
    assert extract_calls('{"name": "inspect_workflow", "size": 3}', names) == []
    assert extract_calls('Here: [{"name": "resolve_model", "arguments": {"filename": "a.safetensors"}}]', names) == [
        ("resolve_model", '{"filename": "a.safetensors"}')]


# --- the first step does not wait for the model ------------------------------------------------
def test_first_steps_for_each_kind_of_request() -> None:
    every = ["inspect_workflow", "check_workflows", "read_image_metadata", "reconstruct_workflow", "resolve_model",
             "search_knowledge"]

    def plan(question: str, files: list[str] = (), task: str | None = None) -> list[tuple[str, Any]]:
        return [(c.tool, c.arguments) for c in plan_first_steps(question, files, task, every)]

    assert plan("what does it do?", ["/w/a.json"], "explain_tune") == [("inspect_workflow", {"path": "/w/a.json"})]
    assert [t for t, _ in plan("tune it for 8 GB", ["/w/a.json"], "explain_tune")] == [
        "inspect_workflow", "search_knowledge"]
    assert plan("make it runnable", ["/w/a.json"], "make_runnable") == [
        ("inspect_workflow", {"path": "/w/a.json"}), ("check_workflows", {"paths": ["/w/a.json"]})]
    assert [t for t, _ in plan("rebuild it", ["/i/x.png"], "rebuild_image")] == [
        "read_image_metadata", "reconstruct_workflow"]
    assert plan("rebuild https://civitai.com/images/123456", [], "rebuild_image") == [
        ("reconstruct_workflow", {"civitai_image_id": 123456})]
    assert plan("where do I get juggernaut_xl.safetensors and ae.sft?") == [
        ("resolve_model", {"filename": "juggernaut_xl.safetensors"}), ("resolve_model", {"filename": "ae.sft"})]
    assert plan("It fails with 'mat1 and mat2 shapes cannot be multiplied'") == [
        ("search_knowledge", {"query": "It fails with 'mat1 and mat2 shapes cannot be multiplied'"})]
    assert plan("hello") == []
    assert plan_first_steps("make it runnable", ["/w/a.json"], "make_runnable", ["inspect_workflow"])[0].tool \
        == "inspect_workflow"  # only tools that exist


@pytest.mark.parametrize("native", [True, False], ids=["native", "nous"])
def test_the_workflow_is_inspected_before_the_model_is_asked(tmp_path: Path, native: bool) -> None:
    # turn 0 is the orchestrator's inspection; the scripted model's only reply is turn 1
    script = [{"content": "(turn taken by the first step)"},
              {"content": "It loads {{inspect_workflow:data.models.0.filename}}.\nSTATUS: OK"}]
    answer, srv = ask_about(tmp_path, script, "What does this workflow do?", [PLANTED], native=native)

    [first] = answer.tool_calls
    assert (first.tool, first.turn, first.status) == ("inspect_workflow", 0, "OK")
    assert len(srv.requests) == 1, "one model round: the inspection was already in the context"
    sent = srv.requests[0]["messages"]
    if native:
        assert sent[-2]["tool_calls"][0]["function"]["name"] == "inspect_workflow" and sent[-1]["role"] == "tool"
    else:
        assert "<tool_call>" in sent[-2]["content"] and "<tool_response>" in sent[-1]["content"]
    # the planted Note reached the model, fenced and marked as untrusted workflow content
    result = sent[-1]["content"]
    assert UNTRUSTED_NOTES_HEADER in result and "NOTE TO AI ASSISTANTS" in result.split("```untrusted")[1]
    assert answer.status == "OK" and "sd3.5_large_fp8_scaled.safetensors" in answer.answer
    assert answer.answer.endswith(PLANTED_NOTICE) and "rm -rf" not in answer.answer


# --- no OK without evidence; nothing found is thrown away ------------------------------------------
def test_an_answer_no_tool_backs_is_uncertain(agent_run) -> None:
    answer, _, _ = agent_run([{"content": "Put it in models/vae.\nSTATUS: OK"}])
    assert answer.status == "UNCERTAIN" and "no tool result" in (answer.reason or "")


def test_claims_no_tool_result_contains_are_flagged(agent_run) -> None:
    script = [call("lookup_model", name="flux1-dev"),
              {"content": "Use flux1-dev.safetensors with ae_v2.safetensors, seed 424242, v3.1.\nSTATUS: OK"}]
    answer, _, _ = agent_run(script, "which flux file?")
    assert answer.status == "UNCERTAIN"
    assert "ae_v2.safetensors" in answer.reason and "424242" in answer.reason and "v3.1" in answer.reason
    assert "flux1-dev" not in answer.reason  # that one the tool gave


@pytest.mark.parametrize("final", ["", "STATUS: OK", "```json\n{}\n```"], ids=["empty", "status-only", "json-only"])
def test_a_content_free_answer_falls_back_to_the_tool_results(agent_run, final: str) -> None:
    answer, _, _ = agent_run([call("lookup_model", name="sdxl"), call("lookup_model", name="juggernaut"),
                              {"content": final}])
    assert answer.status == "UNCERTAIN"
    assert "lookup_model (OK)" in answer.answer and "sdxl.safetensors" in answer.answer
    assert "lookup_model (UNCERTAIN)" in answer.answer and "juggernautXL_v9.safetensors" in answer.answer


# --- servers as they really behave ---------------------------------------------------------------
def test_native_mode_sends_tool_choice_auto_and_probes_once_per_endpoint(agent_run, tmp_path: Path) -> None:
    answer, srv, orch = agent_run([call("lookup_model", name="sdxl"), ANSWER], cache_dir=tmp_path / "c")
    assert srv.requests[0]["tool_choice"] == "auto" and srv.requests[0]["tools"]
    assert len(srv.probe_requests) == 5 and answer.notices == []
    again = Orchestrator(orch.settings, registry=orch.registry, ctx=orch.ctx)
    again.run("which sdxl file?")
    assert len(srv.probe_requests) == 5, "the probe is cached per endpoint"
    assert json.loads((tmp_path / "c" / "llm-probe.json").read_text())


def test_a_server_that_drops_tool_results_gets_prompt_based_calls(agent_run, toolbox) -> None:
    answer, srv, _ = agent_run([call("lookup_model", name="sdxl_base"), ANSWER], "which sdxl file?",
                               server_kw={"drop_tools": True, "drop_tool_results": True})
    assert "tools" not in srv.requests[0] and "<tools>" in srv.requests[0]["messages"][0]["content"]
    assert answer.notices and "drops native tool results" in answer.notices[0]
    assert toolbox.calls == {"lookup_model": 1} and answer.status == "OK"


def test_the_context_length_comes_from_the_server(tmp_path: Path) -> None:
    with ScriptedChatServer([], context_length=4096) as srv:
        traits = probe_server(srv.base_url, "scripted-qwen", None, tmp_path, check_tools=False)
    assert traits.context_length == 4096
    assert _find_context({"model_info": {"qwen2.context_length": 32768}, "parameters": "num_ctx 8192"}, "m") == 8192
    assert _find_context({"model_info": {"qwen2.context_length": 32768}}, "m") == 32768  # Ollama /api/show
    assert _find_context({"data": [{"id": "m", "max_model_len": 16384}]}, "m") == 16384  # vLLM /v1/models
    assert _find_context({"data": [{"id": "m", "loaded_context_length": 8192}]}, "m") == 8192  # LM Studio
    assert result_budget(4096, 2048) == 1200 and result_budget(8192, 2048) == 2322
    assert result_budget(16384, 2048) == result_budget(32768, 2048) == 6000


def test_prompt_and_schemas_fit_the_budget_for_the_three_uses(tmp_path: Path) -> None:
    from qwen_agent.utils.tokenization_qwen import count_tokens

    from comfyfixer.agent import services

    settings = make_settings("http://127.0.0.1:9/v1", offline=True, cache_dir=tmp_path / "c", state_dir=tmp_path / "s")
    reg, ctx = services.registry(), services.build_context(settings)
    for task, names in TASK_TOOLS.items():  # the three uses, and a question the first step searched for
        tools = [make_qwen_tool(spec, reg, ctx, RunState(), short=True).function for spec in reg.subset(names)]
        tokens = count_tokens(system_prompt(max_rounds=8, task=task)) + count_tokens(json.dumps(tools))
        assert tokens < 1500, (task, tokens)
    assert system_prompt(max_rounds=8, task="make_runnable").startswith(system_prompt(max_rounds=8, task=None).strip())


@pytest.mark.parametrize("native", [True, False], ids=["native", "nous"])
def test_a_small_context_gets_fewer_terser_schemas_and_keeps_the_follow_up_tool(
        tmp_path: Path, templates_dir: Path, native: bool) -> None:
    from qwen_agent.utils.tokenization_qwen import count_tokens

    workflow = str(templates_dir / "hidream_i1_dev.json")
    sent = {}
    for context in (16384, 4096):
        answer, srv = ask_about(tmp_path, [{"content": "It needs downloads.\nSTATUS: OK"}] * 4,
                                "Make this workflow runnable on my ComfyUI.", [workflow], native=native,
                                llm_context_length=context, state_dir=tmp_path / f"s{context}", comfyui_dir=DEMO)
        sent[context] = srv.requests[-1]
        assert "plan_fix" in [c.tool for c in answer.tool_calls]
    def size(body: dict[str, Any]) -> int:
        return count_tokens(json.dumps(body.get("tools") or [])) + count_tokens(body["messages"][0]["content"])
    def offered(body: dict[str, Any]) -> list[str]:
        if native:
            return [t["function"]["name"] for t in body["tools"]]
        return [n for n in TASK_TOOLS["make_runnable"] if f'"name": "{n}"' in body["messages"][0]["content"]]
    assert len(offered(sent[4096])) == 4 < len(offered(sent[16384]))
    assert {"inspect_workflow", "check_workflows", "plan_fix"} <= set(offered(sent[4096]))
    assert size(sent[4096]) < 1000 < size(sent[16384]) or size(sent[4096]) < 0.8 * size(sent[16384])
    total = sum(len(str(m.get("content") or "")) for m in sent[4096]["messages"][1:])
    assert total < 0.6 * sum(len(str(m.get("content") or "")) for m in sent[16384]["messages"][1:])


def test_estimated_usage_counts_tool_results_as_input(agent_run) -> None:
    script = [call("search_knowledge", query="VAE folder", include_node_docs=False),
              {"content": "The VAE goes in models/vae.\nSTATUS: OK"}]
    answer, _, _ = agent_run(script, "where does a VAE go?", server_kw={"report_usage": False})
    assert answer.usage.source == "estimated"
    result_chars = len(json.dumps(answer.tool_calls[0].result))
    assert result_chars > 1000
    assert answer.usage.completion_tokens < 80, "the tool result is not the model's output"
    assert answer.usage.prompt_tokens > result_chars // 8


def test_compaction_cuts_long_parts_before_hiding_short_lists() -> None:
    from comfyfixer.agent.orchestrator.adapter import compact

    result = {"models": [{"filename": f"model_{i}.safetensors", "folder": "checkpoints", "url": "u" * 150}
                         for i in range(3)],
              "node_types": [{"class_type": f"Node{i}", "count": 1, "size": None, "tags": []} for i in range(60)],
              "prompt": "p" * 3000}
    small = compact(result, 1500)
    text = json.dumps(small)
    assert len(text) <= 1500
    assert [m["filename"] for m in small["models"]] == [f"model_{i}.safetensors" for i in range(3)]
    assert small["node_types"][-1].endswith("more items not shown") and "size" not in small["node_types"][0]


# --- key facts, the obvious follow-up, echoes ------------------------------------------------------


@pytest.mark.parametrize("native", [True, False], ids=["native", "nous"])
def test_an_answer_that_leaves_out_the_files_gets_them_from_the_results(tmp_path: Path, native: bool) -> None:
    script = [{"content": "(turn taken by the first step)"},
              {"content": "It is a text-to-image workflow for a kitchen scene.\nSTATUS: OK"}]
    answer, _ = ask_about(tmp_path, script, "What does this workflow do?", [PLANTED], native=native)
    assert answer.status == "OK", answer.reason  # the added facts come from the results: no new claim
    head, _, facts = answer.answer.partition("From the tool results:")
    assert head.startswith("It is a text-to-image workflow") and "STATUS" not in answer.answer
    assert "Model files the workflow loads: sd3.5_large_fp8_scaled.safetensors" in facts


def test_facts_the_answer_already_states_are_not_repeated() -> None:
    from comfyfixer.agent.orchestrator.evidence import missing_facts
    from comfyfixer.agent.orchestrator.records import ToolCallRecord

    trace = [ToolCallRecord(call_id="t1", turn=0, tool="read_image_metadata", arguments={}, status="OK",
                            result={"generator": "A1111", "seed": 1234567, "model": {"name": "dreamy_v2"}}),
             ToolCallRecord(call_id="t2", turn=0, tool="search_knowledge", arguments={}, status="OK",
                            result={"query": "q", "hits": [{"doc": "common-errors", "heading": "OOM",
                                                            "text": "Lower the resolution. " * 40}]}),
             ToolCallRecord(call_id="t3", turn=1, tool="resolve_model", arguments={}, status="ERROR",
                            error={"message": "boom"})]
    assert missing_facts("A1111 image, seed 1234567, model dreamy_v2 (see common-errors).", trace) == ""
    block = missing_facts("An A1111 image.", trace)
    assert "generator A1111, seed 1234567, model dreamy_v2" in block
    assert "common-errors#OOM: Lower the resolution." in block and len(block) < 700  # an excerpt, not the section
    assert "boom" not in block  # a failed call states nothing


@pytest.mark.skipif(not DEMO.is_dir(), reason="demo ComfyUI not present")
def test_a_check_that_finds_gaps_is_followed_by_a_plan(tmp_path: Path, templates_dir: Path) -> None:
    workflow = str(templates_dir / "hidream_i1_dev.json")
    before = sorted(p.name for p in DEMO.rglob("*"))
    answer, srv = ask_about(tmp_path, [{"content": "This workflow needs several downloads.\nSTATUS: OK"}] * 4,
                            "Make this workflow runnable on my ComfyUI.", [workflow], comfyui_dir=DEMO)
    assert [(c.tool, c.turn) for c in answer.tool_calls] == [
        ("inspect_workflow", 0), ("check_workflows", 0), ("plan_fix", 0)]
    assert len(srv.requests) == 1, "the model was asked once, with the plan already in its context"
    plan_file = answer.tool_calls[-1].result["plan_file"]
    assert Path(plan_file).is_file() and Path(plan_file).is_relative_to(tmp_path / "s")
    assert "hidream_i1_dev_fp8.safetensors" in answer.answer and f"`comfyfixer approve {plan_file}`" in answer.answer
    assert not answer.proposals and sorted(p.name for p in DEMO.rglob("*")) == before, "a plan changes nothing"


def test_a_copied_tool_response_is_not_an_answer() -> None:
    from comfyfixer.agent.orchestrator.evidence import content_free, strip_echoes

    assert strip_echoes('Here it is.\n<tool_response>\n{"ok": true}\n</tool_response>\nDone.') == "Here it is.\n\nDone."
    assert content_free(strip_echoes('<tool_response>\n{"ok": true, "data": {"models": ["a"]'))


def test_compaction_keeps_the_best_knowledge_hits_readable() -> None:
    from comfyfixer.agent.orchestrator.adapter import compact

    hit = {"doc": "vram", "heading": "Tuning", "text": "Use GGUF files. " * 60, "sources": ["s" * 100] * 3}
    small = compact({"query": "q", "hits": [dict(hit, heading=f"H{i}") for i in range(4)]}, 1400)
    assert len(json.dumps(small)) <= 1400 and "truncated" not in small  # never an escaped excerpt
    assert small["hits"][0]["heading"] == "H0" and small["hits"][0]["text"].startswith("Use GGUF files.")
    assert small["hits"][-1].endswith("more items not shown")


@pytest.mark.parametrize("native", [True, False], ids=["native", "nous"])
def test_an_empty_reply_gets_one_nudge_with_the_same_context(tmp_path: Path, native: bool) -> None:
    from comfyfixer.agent.orchestrator.engine import EMPTY_REPLY_NUDGE

    def model(body: dict[str, Any]) -> dict[str, Any]:
        if EMPTY_REPLY_NUDGE in json.dumps(body["messages"][-1]):
            return {"content": "It is an SD 3.5 text-to-image workflow.\nSTATUS: OK"}
        return {"content": ""}

    answer, srv = ask_about(tmp_path, model, "What does this workflow do?", [PLANTED], native=native)
    first, second = srv.requests
    assert second["messages"][:-1] == first["messages"][:-1], "only the end changes: the prompt cache still applies"
    assert answer.status == "OK" and answer.answer.startswith("It is an SD 3.5 text-to-image workflow.")


def test_a_second_empty_reply_ends_the_run_with_the_summary(agent_run) -> None:
    answer, srv, _ = agent_run([call("lookup_model", name="sdxl"), {"content": ""}])
    assert len(srv.requests) == 3 and answer.status == "UNCERTAIN" and "lookup_model (OK)" in answer.answer


def test_a_bare_status_word_is_no_answer_and_failed_is_not_final_while_candidates_are_open(agent_run) -> None:
    from comfyfixer.agent.orchestrator.evidence import content_free
    from comfyfixer.agent.orchestrator.status import decide

    assert content_free("FAILED") and content_free("**OK**.") and not content_free("ok, it runs")
    answer, srv, _ = agent_run([call("lookup_model", name="juggernaut"), {"content": "FAILED"}])
    assert len(srv.requests) == 3, "the bare word got the nudge"
    assert answer.status == "UNCERTAIN" and "lookup_model (UNCERTAIN)" in answer.answer
    verdict = decide("No exact match.\nSTATUS: FAILED", answer.tool_calls)
    assert verdict.status == "UNCERTAIN" and "lookup_model returned results" in (verdict.reason or "")
    ok_only = [c.model_copy(update={"status": "OK"}) for c in answer.tool_calls[:1]]
    assert decide("No metadata at all.\nSTATUS: FAILED", ok_only).status == "UNCERTAIN"  # the tools say otherwise
    assert decide("Nothing worked.\nSTATUS: FAILED", []).status == "FAILED"
    errored = [c.model_copy(update={"status": "ERROR"}) for c in answer.tool_calls[:1]]
    assert decide("It could not be read.\nSTATUS: FAILED", errored).status == "FAILED"


def test_a_server_that_fails_streamed_tool_calls_gets_prompt_based_calls(agent_run, toolbox, tmp_path: Path) -> None:
    script = [call("lookup_model", **ARGS), ANSWER]
    answer, srv, _ = agent_run(script, "which sdxl file?", cache_dir=tmp_path / "c",
                               server_kw={"fail_streamed_tool_calls": True})
    assert any(r.get("stream") and r.get("tools") for r in srv.probe_requests)
    assert "fails on streamed native tool calls" in answer.notices[0]
    assert not any(r.get("tools") for r in srv.requests), "prompt-based calls from the first turn"
    assert answer.status == "OK" and [c.tool for c in answer.tool_calls] == ["lookup_model"]
    assert toolbox.calls == {"lookup_model": 1}


def test_a_reply_the_server_drops_midway_is_a_failure_not_a_missing_server(agent_run, tmp_path: Path) -> None:
    answer, _, _ = agent_run([call("lookup_model", name="sdxl"), ANSWER], llm_probe=False,
                             server_kw={"fail_streamed_tool_calls": True})
    assert answer.status == "FAILED" and "dropped the connection" in (answer.reason or "")


def test_a_call_repeated_exactly_is_answered_from_the_context_and_a_loop_ends(agent_run) -> None:
    same = call("lookup_model", **ARGS)
    answer, srv, _ = agent_run([same, same, {"content": "Use sdxl_base.safetensors.\nSTATUS: OK"}])
    assert [c.status for c in answer.tool_calls] == ["OK", "ERROR"] and answer.status == "OK"
    assert answer.tool_calls[1].error["kind"] == "repeated_call"
    assert "already called with these arguments" in json.dumps(srv.requests[2]["messages"][-1])
    answer, srv, _ = agent_run([same] * 6)
    assert len(srv.requests) == 3 and answer.status == "UNCERTAIN", "two repeats end the run"
