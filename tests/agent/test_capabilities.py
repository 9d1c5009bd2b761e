"""The capability contract end to end: every registered capability is reached by both surfaces (the
CLI and the assistant), no model-facing schema carries a caller-only field, and a model's tool call
reaches the capability through at most three of our frames with its arguments validated once."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from agent_testkit import make_settings
from pydantic import BaseModel, Field, field_validator

from comfyfixer.agent import services
from comfyfixer.agent.cli import run
from comfyfixer.agent.orchestrator import Orchestrator
from comfyfixer.agent.orchestrator.adapter import RunState, make_qwen_tool, tool_parameters
from comfyfixer.evals.fakes.chat_server import ScriptedChatServer
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.toolset import CALLER_ONLY_FIELD, Registry, capability

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo"


def _cli_calls(templates: Path, shared: Path, tmp: Path) -> dict[str, list[str]]:
    """For each capability, a CLI invocation that must reach it (offline, on real files)."""
    wf = str(templates / "sd3.5_simple_example.json")
    image = str(next((shared / "images" / "corpus").rglob("*.png")))
    return {
        "search_knowledge": ["knowledge", "flux", "vae", "--json"],
        "inspect_workflow": ["inspect", wf, "--json"],
        "check_workflows": ["check", "--demo", "--out", str(tmp / "reports"), "--json"],
        "resolve_model": ["resolve", "sd3.5_large_fp8_scaled.safetensors", "--sources", "catalogs", "--json"],
        "resolve_node": ["resolve", "--node", "VHS_VideoCombine", "--json"],
        "resolve_workflow": ["resolve", "--workflow", wf, "--sources", "catalogs", "--json"],
        "read_image_metadata": ["image", image, "--json"],
        "reconstruct_workflow": ["reconstruct", image, "--dry-run", "--no-resolve", "--json"],
        "hardware_profile": ["hardware", "--json"],
        "estimate_fit": ["fit", wf, "--vram", "8GB", "--json"],
        "tune_workflow": ["tune", wf, "--vram", "8GB", "--out", str(tmp / "tuned"), "--json"],
        "review_workflow": ["review", wf, "--json"],
        "diff_workflows": ["diff", wf, wf, "--json"],
        "identify_model": ["identify", "sd3.5_large_fp8_scaled.safetensors", "--json"],
        "workflows_for_model": ["workflows-for", "sd3.5_large_fp8_scaled.safetensors", "--source", "templates", "--json"],
        "build_workflow": ["build", "sd3.5_large_fp8_scaled.safetensors", "--json"],
        "list_schemas": ["schema", "list", "--json"],
        "build_schema": ["schema", "build", "auto-inpaint", "--with", "detector=grounding_dino_sam", "--json"],
        "plan_fix": ["fix", wf, "--comfyui", str(DEMO / "ComfyUI"), "--no-resolve", "--no-pin", "--dry-run", "--json"],
        "prepare_runpod_job": ["runpod", "prepare", wf, "--endpoint", "ep1", "--json"],
        "plan_undo": ["undo", _applied_plan(), "--dry-run", "--json"],
        "list_snapshots": ["snapshots", "--json"],
        "plan_install_nodes": ["comfyui", "install-nodes", "--comfyui", str(DEMO / "ComfyUI"), "--dry-run", "--json"],
    }


def _applied_plan() -> str:
    """The id of a plan as `apply` leaves it (a snapshot of the demo ComfyUI), so `undo` has one to revert."""
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.plan import Plan, PlanPolicy, finalize
    from comfyfixer.agent.snapshots import take_snapshot

    plan = finalize(Plan(comfyui_dir=str(DEMO / "ComfyUI"), policy=PlanPolicy(max_download_bytes=1, max_total_bytes=1)))
    return take_snapshot(plan, None, load_settings().state_dir).plan_id


def test_every_capability_is_reached_by_the_cli_and_the_assistant(
    templates_dir: Path, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    reg = services.registry()
    calls = _cli_calls(templates_dir, shared_data, tmp_path)
    assert sorted(calls) == sorted(reg.names()), "each registered capability needs a CLI invocation here"
    seen: list[str] = []
    reg.observers.append(seen.append)
    try:
        for name, argv in calls.items():
            seen.clear()
            code = run(argv)
            out = capsys.readouterr().out
            assert code == 0, (name, argv, out[-500:])
            assert name in seen, f"`comfyfixer {' '.join(argv[:2])}` did not reach {name}"
            json.loads(out)  # --json printed one document
            assert reg.get(name).command.split()[0] == argv[0]  # type: ignore[union-attr]
    finally:
        reg.observers.remove(seen.append)

    # The assistant offers every capability as a tool, built from the same declarations; the explicit-only
    # ones (workflow schemas) only to a request that asks for them.
    from comfyfixer.agent.orchestrator.prompts import EXPLICIT_ONLY_TOOLS

    offered = {}
    for question in ("hello", "build the auto-inpaint schema"):
        with ScriptedChatServer([{"content": "Nothing to do.\nSTATUS: OK"}]) as srv:
            orch = Orchestrator(make_settings(srv.base_url, offline=True, llm_probe=False))
            orch.run(question)
            offered[question] = {t["function"]["name"] for t in srv.requests[0]["tools"]}
    assert offered["hello"] == set(reg.names()) - set(EXPLICIT_ONLY_TOOLS)
    assert set(EXPLICIT_ONLY_TOOLS) <= offered["build the auto-inpaint schema"]
    assert orch.registry is reg


def _walk_keys(schema: Any) -> list[str]:
    keys: list[str] = []
    if isinstance(schema, dict):
        for key, value in (schema.get("properties") or {}).items():
            keys.append(key)
            keys += _walk_keys(value)
        for value in schema.values():
            if isinstance(value, dict | list):
                keys += _walk_keys(value)
    elif isinstance(schema, list):
        for item in schema:
            keys += _walk_keys(item)
    return keys


def test_no_model_facing_schema_carries_a_place_to_write_a_cache_or_a_secret() -> None:
    for spec in services.registry():
        keys = _walk_keys(tool_parameters(spec.input_model))
        assert keys, spec.name
        bad = [k for k in keys if CALLER_ONLY_FIELD.search(k)]
        assert bad == [], f"{spec.name} lets the model choose {bad}"


class CountedInput(BaseModel):
    """Input whose validation is counted."""

    validations: ClassVar[list[str]] = []
    name: str = Field(description="Any name.")

    @field_validator("name")
    @classmethod
    def _count(cls, value: str) -> str:
        cls.validations.append(value)
        return value


class FramesResult(BaseModel):
    """Which of our frames stood between qwen-agent and the capability."""

    ours: list[str] = Field(description="Our frames, outermost first.")


@capability()
def frames_probe(inp: CountedInput, ctx: ToolContext) -> FramesResult:
    """Report the call stack between qwen-agent and this capability."""
    stack = inspect.stack()[1:]  # callers, innermost first
    ours: list[str] = []
    for frame in stack:
        path = Path(frame.filename).resolve()
        if "qwen_agent" in path.parts:
            break
        if REPO in path.parents:
            ours.append(f"{path.relative_to(REPO)}:{frame.function}")
    return FramesResult(ours=[*reversed(ours), "capability"])


def test_a_model_tool_call_reaches_the_capability_through_three_of_our_frames(tmp_path: Path) -> None:
    reg = Registry([frames_probe])
    script = [{"tool_calls": [{"name": "frames_probe", "arguments": {"name": "x"}}]}, {"content": "Done.\nSTATUS: OK"}]
    with ScriptedChatServer(script) as srv:
        ctx = ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s")
        orch = Orchestrator(make_settings(srv.base_url), registry=reg, ctx=ctx)
        CountedInput.validations.clear()
        answer = orch.run("probe")
    [rec] = answer.tool_calls
    assert rec.status == "OK", rec.error
    ours = rec.result["ours"]  # type: ignore[index]
    assert len(ours) <= 3, ours
    assert ours[-2].endswith("toolset.py:call") and ours[0].endswith("adapter.py:call")
    assert CountedInput.validations == ["x"], "the arguments are parsed and validated exactly once"
    assert rec.arguments == {"name": "x"}

    # The same adapter directly: the raw JSON text from the model is parsed once, here too.
    CountedInput.validations.clear()
    tool = make_qwen_tool(reg.get("frames_probe"), reg, ctx, RunState())  # type: ignore[arg-type]
    assert json.loads(tool.call('{"name": "y"}'))["ok"] is True
    assert CountedInput.validations == ["y"]
