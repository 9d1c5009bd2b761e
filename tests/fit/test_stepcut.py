"""``tune --faster``: a distilled LoRA from the model catalog wired after the diffusion model (inside
the template's subgraph), the steps its card documents, and a copy that still validates and fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.fit.capability import estimate_fit
from comfyfixer.tools.fit.models import FitInput
from comfyfixer.tools.fit.tune import TuneInput, tune_workflow
from comfyfixer.tools.fit.variants import gguf_schemas
from comfyfixer.tools.workflow.convert import ui_to_api


@pytest.fixture
def ctx(tmp_path: Path, shared_data: Path, manager_wheel: Path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", offline=True, manager_wheel_dirs=(manager_wheel.parent,),
                       object_info_file=shared_data / "comfyui" / "object_info.json")


def test_flux_dev_gets_the_hyper_lora_and_8_steps(templates_dir: Path, ctx: ToolContext, tmp_path: Path) -> None:
    result = tune_workflow(TuneInput(path=str(templates_dir / "flux_dev_full_text_to_image.json"), vram_gb=8, faster=True), ctx,
                           out_dir=tmp_path)
    assert result.after.verdict == "FITS" and result.validation_errors == [] and result.written
    lora = next(c for c in result.changes if c.new == "LoraLoaderModelOnly")
    steps = next(c for c in result.changes if c.input == "steps")
    assert (steps.old, steps.new) == (20, 8) and "Hyper-SD" in lora.why
    doc = json.loads(Path(result.written).read_text(encoding="utf-8"))
    api = ui_to_api(doc, ctx.schemas().merged(gguf_schemas()))
    [lora_node] = [(k, v) for k, v in api.items() if v["class_type"] == "LoraLoaderModelOnly"]
    key, node = lora_node
    assert node["inputs"]["lora_name"] == "Hyper-FLUX.1-dev-8steps-lora.safetensors" and node["inputs"]["strength_model"] == 0.125
    assert api[node["inputs"]["model"][0]]["class_type"] == "UnetLoaderGGUF"
    assert any(v["class_type"] == "KSampler" and v["inputs"]["model"][0] == key and v["inputs"]["steps"] == 8 for v in api.values())
    ids = [n["id"] for g in [doc, *doc["definitions"]["subgraphs"]] for n in g["nodes"]]
    assert len(ids) == len(set(ids))  # the new node's id is free
    again = estimate_fit(FitInput(path=result.written, vram_gb=8), ctx)
    assert again.verdict == "FITS" and any(m.role == "lora" and "Hyper" in m.filename for m in again.models)
    entries = [e for g in [doc, *doc["definitions"]["subgraphs"]] for n in g["nodes"] for e in n.get("properties", {}).get("models", [])]
    assert any(e["name"].startswith("Hyper-FLUX") and e["url"].startswith("https://huggingface.co/ByteDance/Hyper-SD/") for e in entries)


def test_no_step_cut_for_a_model_it_was_not_trained_for(templates_dir: Path, ctx: ToolContext) -> None:
    result = tune_workflow(TuneInput(path=str(templates_dir / "flux_kontext_dev_basic.json"), vram_gb=8, faster=True, dry_run=True), ctx)
    assert not any(c.new == "LoraLoaderModelOnly" for c in result.changes)
    assert any("no distilled LoRA" in n for n in result.notes)
