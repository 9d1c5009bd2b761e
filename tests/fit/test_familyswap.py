"""Wan 14B text-to-video → the official Wan 2.2 TI2V 5B template with the workflow's prompts, when no
file or setting makes the 14B graph fit; refused when something in the workflow is made for 14B."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.fit.capability import estimate_fit
from comfyfixer.tools.fit.models import FitInput
from comfyfixer.tools.fit.tune import TuneInput, tune_workflow


@pytest.fixture
def ctx(tmp_path: Path, shared_data: Path, manager_wheel: Path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", offline=True, manager_wheel_dirs=(manager_wheel.parent,),
                       object_info_file=shared_data / "comfyui" / "object_info.json")


def _texts(doc: dict) -> list[str]:
    nodes = doc["nodes"] + [n for sg in doc.get("definitions", {}).get("subgraphs", []) for n in sg["nodes"]]
    return [n["widgets_values"][0] for n in nodes if n["type"] == "CLIPTextEncode"]


def test_wan_14b_t2v_becomes_the_5b_template_with_its_prompts(templates_dir: Path, ctx: ToolContext, tmp_path: Path) -> None:
    src = templates_dir / "video_wan2_2_14B_t2v.json"
    result = tune_workflow(TuneInput(path=str(src), vram_gb=8), ctx, out_dir=tmp_path)
    assert (result.before.verdict, result.after.verdict, result.validation_errors) == ("FITS_OFFLOAD", "FITS", [])
    swap = result.changes[0]
    assert (swap.input, swap.new) == ("graph", "video_wan2_2_5B_ti2v.json") and "14B" in swap.old and "knowledge/model-family-wan.md" in swap.why
    assert result.after.family == "wan22_5b" and any(m.filename == "wan2.2_vae.safetensors" for m in result.after.models)
    copy_texts = _texts(json.loads(Path(result.written or "").read_text(encoding="utf-8")))
    original = _texts(json.loads(src.read_text(encoding="utf-8")))
    assert sorted(copy_texts) == sorted(original)  # the 14B workflow's own positive and negative prompts
    assert not any("14B" in n for n in result.notes[1:])  # what was said about the 14B graph is gone with it
    assert estimate_fit(FitInput(path=result.written or "", vram_gb=8), ctx).verdict == "FITS"


def test_no_rebuild_when_a_lora_is_made_for_14b(templates_dir: Path, ctx: ToolContext) -> None:
    result = tune_workflow(TuneInput(path=str(templates_dir / "video_wan2.1_alpha_t2v_14B.json"), vram_gb=8, dry_run=True), ctx)
    assert not any(c.input == "graph" for c in result.changes)
    assert any("wan_alpha_2.1_rgba_lora" in n and "not done" in n for n in result.notes)
