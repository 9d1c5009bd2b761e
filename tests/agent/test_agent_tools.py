"""Agent-side planning tools: they save a plan or job file and change nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfyfixer.agent.config import load_settings
from comfyfixer.agent.services import build_context, registry

DEMO = Path(__file__).resolve().parents[2] / "demo" / "ComfyUI"


def _tools(**kw):
    settings = load_settings(offline=True, **kw)
    ctx = build_context(settings)
    return settings, ctx, registry()


@pytest.mark.skipif(not DEMO.is_dir(), reason="demo ComfyUI not present")
def test_plan_fix_saves_a_plan_and_downloads_nothing(templates_dir) -> None:
    settings, ctx, ts = _tools(comfyui_dir=DEMO)
    before = sorted(p.name for p in DEMO.rglob("*"))
    out = ts.call("plan_fix", {"paths": [str(templates_dir / "hidream_i1_dev.json")]}, ctx)
    assert out.ok, out.error
    plan_file = Path(out.result["plan_file"])
    assert plan_file.is_file() and plan_file.is_relative_to(settings.state_dir)
    names = {a.get("name") for a in out.result["actions"]}
    assert "hidream_i1_dev_fp8.safetensors" in names
    assert "comfyfixer approve" in out.result["next_step"]
    assert sorted(p.name for p in DEMO.rglob("*")) == before, "planning must not touch ComfyUI"


def test_plan_fix_without_comfyui_is_a_clear_error(templates_dir) -> None:
    _, ctx, ts = _tools()
    out = ts.call("plan_fix", {"paths": [str(templates_dir / "hidream_i1_dev.json")]}, ctx)
    assert out.error and out.error.kind == "tool_error" and "COMFYFIXER_COMFYUI_DIR" in (out.error.hint or "")


def test_prepare_runpod_job_saves_a_job_and_sends_nothing(templates_dir) -> None:
    settings, ctx, ts = _tools(runpod_endpoint_id="ep123")
    assert settings.runpod_endpoint_id == "ep123"
    out = ts.call("prepare_runpod_job", {"workflow": str(templates_dir / "sd3.5_simple_example.json")}, ctx)
    assert out.ok, out.error
    assert out.result["endpoint_id"] == "ep123"
    assert out.result["models_needed"] == ["sd3.5_large_fp8_scaled.safetensors"]
    assert Path(out.result["job_file"]).is_file() and "runpod approve" in out.result["next_step"]
    missing = ts.call("prepare_runpod_job", {"workflow": "x.json"}, build_context(load_settings(offline=True)))
    assert missing.error is not None
