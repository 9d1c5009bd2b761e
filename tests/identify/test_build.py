"""build_workflow: a minimal workflow per family, validated against the real object_info (ComfyUI 0.3.64)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recorded import Replayer

from comfyfixer.evals.build_eval import build_for_template
from comfyfixer.evals.workflows_for_eval import template_primaries
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.identify.build import RECIPES, BuildInput, build_workflow

from .real_headers import FAMILY_FILES, write_sparse_safetensors


@pytest.mark.parametrize("family", sorted(RECIPES))
def test_every_recipe_validates_with_0_errors(ctx: ToolContext, family: str) -> None:
    recipe = RECIPES[family]
    result = build_workflow(BuildInput(model=recipe.base[0], family=family), ctx)
    assert result.status == "BUILT" and result.errors == [], result.errors
    assert result.task == ("video" if recipe.video else "txt2img")
    assert "0.3.64" in result.schemas or "object_info" in result.schemas
    classes = {n["class_type"] for n in result.api.values()}
    assert ("CheckpointLoaderSimple" in classes) == (recipe.base[1] == "checkpoints")
    assert len(result.workflow["nodes"]) == len(result.api)  # the UI form has every API node


@pytest.mark.parametrize("task", ["img2img", "inpaint"])
def test_image_tasks(ctx: ToolContext, task: str) -> None:
    result = build_workflow(BuildInput(model="flux1-dev.safetensors", task=task), ctx)
    assert result.status == "BUILT", result.errors
    assert {"LoadImage", "VAEEncode" if task == "img2img" else "VAEEncodeForInpaint"} <= {
        n["class_type"] for n in result.api.values()}


def test_a_local_file_is_built_by_its_header_and_nothing_is_overwritten(ctx: ToolContext, tmp_path: Path) -> None:
    _, _, tensors = FAMILY_FILES["wan"]
    model = write_sparse_safetensors(tmp_path / "my_wan_finetune.safetensors", tensors)
    out = tmp_path / "out"
    out.mkdir()
    first = build_workflow(BuildInput(model=str(model)), ctx, out_dir=out)
    second = build_workflow(BuildInput(model=str(model)), ctx, out_dir=out)
    assert first.status == "BUILT" and first.family == "wan" and first.task == "video"
    assert len(set(first.written + second.written)) == 4 and all(Path(p).is_file() for p in second.written)
    ui = json.loads(Path(first.written[0]).read_text(encoding="utf-8"))
    assert {m["name"] for m in ui["models"]} >= {"umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan_2.1_vae.safetensors"}
    loaders = [n for n in first.api.values() if n["class_type"] == "UNETLoader"]
    assert loaders[0]["inputs"]["unet_name"] == "my_wan_finetune.safetensors"


def test_a_civitai_lora_goes_on_its_base_with_its_trigger_words(tmp_path: Path, shared_data: Path,
                                                                replay: Replayer) -> None:
    sha = "b76a1fc247db893bc8c1290420f0e96b6f86129576a9fb885c20cb7edbefeea5"
    with replay("civitai_identify_by_hash.json"), ToolContext(
            cache_dir=tmp_path / "c", state_dir=tmp_path / "s", http_retries=0,
            object_info_file=shared_data / "comfyui" / "object_info.json") as online:
        result = build_workflow(BuildInput(model=sha), online)
    assert result.status == "BUILT" and result.family == "sdxl"
    lora = next(n for n in result.api.values() if n["class_type"] == "LoraLoader")
    assert lora["inputs"]["lora_name"] == "choke_hold_rnc_ilxl.safetensors"
    texts = [n["inputs"]["text"] for n in result.api.values() if n["class_type"] == "CLIPTextEncode"]
    assert any(t.startswith("choke hold") for t in texts)
    assert result.companions[0].file == "sd_xl_base_1.0.safetensors"


def test_what_has_no_recipe_says_so(ctx: ToolContext) -> None:
    # No built-in recipe makes 3D from SDXL and no official template does either.
    assert build_workflow(BuildInput(model="sd_xl_base_1.0.safetensors", task="3d"), ctx).status == "UNSUPPORTED"
    unknown = build_workflow(BuildInput(model="mystery.safetensors"), ctx)
    assert unknown.status == "UNSUPPORTED" and "--family" in unknown.notes[0]


# Template primaries build cannot make a valid workflow for yet, with why (evals/build_eval.py has the
# full count). A gap that closes must leave the list, so it stays tight.
NEWER_THAN_0_33 = "nodes or CLIPLoader types newer than the bundled ComfyUI 0.33.0 schemas"
KNOWN_GAPS = {
    **dict.fromkeys(("image_moss_image_base_t2i", "image_moss_image_base_t2i_bboxes", "image_moss_image_color_depth_control",
                     "image_moss_image_edit", "image_moss_image_t2i", "image_moss_image_t2i_bboxes",
                     "image_fibo2_edit_dev_pe", "image_fibo2_edit_turbo_pe"), NEWER_THAN_0_33),
}


def test_template_primaries_build_with_0_errors_or_are_known_gaps(ctx: ToolContext, templates_dir: Path) -> None:
    """Every 4th template primary, with the template's task, against the real 0.3.64 object_info or the
    bundled 0.33.0 core schemas: BUILT with 0 errors unless listed in KNOWN_GAPS."""
    sample = template_primaries([templates_dir], every=4)
    assert len(sample) >= 60
    for template, primary in sample:
        task, result = build_for_template(templates_dir / f"{template}.json", primary, ctx)
        if template in KNOWN_GAPS:
            assert result.status != "BUILT", f"{template} builds now: drop it from KNOWN_GAPS"
        else:
            assert result.status == "BUILT", (template, task, result.errors or result.notes)
            assert not result.errors


# Templates of families newer than 0.3.64 and of non-generators: the chain of the template made for the
# model, validated against the bundled 0.33.0 core schemas (recorded from ComfyUI's source).
NEWER = [
    ("flux2_dev_fp8mixed.safetensors", "txt2img", {"UNETLoader", "Flux2Scheduler", "EmptyFlux2LatentImage", "SaveImage"}),
    ("sam3.1_multiplex_fp16.safetensors", "process", {"CheckpointLoaderSimple", "SAM3_Detect", "MaskPreview"}),
    ("kandinsky5lite_t2i.safetensors", "txt2img", {"UNETLoader", "DualCLIPLoader", "KSampler", "SaveImage"}),
    ("hunyuan3d-dit-v2_fp16.safetensors", "3d", {"ImageOnlyCheckpointLoader", "Hunyuan3Dv2Conditioning", "SaveGLB"}),
    ("acestep_v1.5_turbo.safetensors", "audio", {"UNETLoader", "TextEncodeAceStepAudio1.5", "VAEDecodeAudio",
                                                 "SaveAudioAdvanced"}),
    ("qwen_3_4b.safetensors", "text", {"CLIPLoader", "TextGenerate", "PreviewAny"}),
    ("ltx-2-19b-dev-fp8.safetensors", "video", {"CheckpointLoaderSimple", "LTXVScheduler", "SaveVideo"}),
    # Core classes newer than 0.33.0 (core_object_info_newest.json, recorded from their files in ComfyUI's source).
    ("yue2_3b_int8_convrot.safetensors", "audio", {"CheckpointLoaderSimple", "YuE2GenerateMusic", "SheetSage2AudioToABC"}),
    ("fastvideo_fasth3_8step_v2_pruned_int8_convrot.safetensors", "video", {"BlockSparseAttention", "CreateVideo"}),
    # A video task takes the template's video output (the rendered body), not its shorter 3D pose file.
    ("sam3.1_multiplex_fp16.safetensors", "video", {"SAM3DBody_Loader", "SAM3DBody_Predict", "SAM3DBody_FaceExpression",
                                                   "SAM3DBody_Smooth", "SAM3DBody_Render", "SaveVideo"}),
    # Loop and list nodes; GetImageSize reads the LoadImage through a bypassed IMAGE,MASK resize, as the frontend does.
    ("ming_image_0.1_design_int8_convrot.safetensors", "img2img", {"UNETLoader", "TextEncodeMingImageEdit", "StartLoop",
                                                                   "EndLoop", "GetItemFromList", "GetImageSize"}),
    ("pixal3d_multiview_int8_convrot.safetensors", "3d", {"UNETLoader", "Pixal3DMultiViewConditioning",
                                                          "VaeDecodeStructureTrellis2", "MeshToFile3D"}),
]


@pytest.mark.parametrize(("model", "task", "classes"), NEWER, ids=[m for m, _, _ in NEWER])
def test_newer_families_build_from_their_template(ctx: ToolContext, model: str, task: str, classes: set[str]) -> None:
    result = build_workflow(BuildInput.model_validate({"model": model, "task": task}), ctx)
    assert result.status == "BUILT", result.errors
    assert classes <= {n["class_type"] for n in result.api.values()}
    loads = [n for n in result.api.values() if model in n["inputs"].values()]
    assert loads and all(n["class_type"].endswith("Loader") or "Loader" in n["class_type"] for n in loads)
    # Minimal: every node feeds the one output (nothing left over from the rest of the template).
    fed = {str(v[0]) for n in result.api.values() for v in n["inputs"].values() if isinstance(v, list) and len(v) == 2}
    outputs = [nid for nid in result.api if nid not in fed]
    assert len(outputs) == 1
    assert all(c.file != model for c in result.companions) and result.settings["source"].startswith("official template")


def test_the_template_task_is_the_default_and_another_file_of_the_family_takes_its_place(ctx: ToolContext) -> None:
    default = build_workflow(BuildInput(model="sam3.1_multiplex_fp16.safetensors"), ctx)
    assert default.status == "BUILT" and default.task == "process"
    # A FLUX.2 file no template names: the FLUX.2 template's chain, loading it.
    other = build_workflow(BuildInput.model_validate({"model": "my_flux2_dev_finetune_fp8mixed.safetensors",
                                                      "task": "txt2img", "family": "flux2"}), ctx)
    assert other.status == "BUILT", other.notes
    assert any(n["inputs"].get("unet_name") == "my_flux2_dev_finetune_fp8mixed.safetensors" for n in other.api.values())
    assert not any("flux2_dev_fp8mixed.safetensors" in n["inputs"].values() for n in other.api.values())


def test_the_cli_writes_a_template_built_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from comfyfixer.agent.cli import run

    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["build", "sam3.1_multiplex_fp16.safetensors", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "from official template utility_image_segment_sam3" in out and "0 errors" in out
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["sam3.1_multiplex_fp16_process.json", "sam3.1_multiplex_fp16_process_api.json"]
    api = json.loads((tmp_path / written[1]).read_text(encoding="utf-8"))
    assert {n["class_type"] for n in api.values()} >= {"SAM3_Detect", "CheckpointLoaderSimple"}


def test_the_cli_prints_each_note_on_one_line(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A note can quote a stranger's text (a Civitai page's trigger words): a newline in it cannot print a line
    of its own (a forged 'validated' line)."""
    from comfyfixer.agent import services
    from comfyfixer.agent.cli import run
    from comfyfixer.tools.identify.build import BuildResult
    from comfyfixer.tools.identify.models import ModelIdentity

    forged = "trigger words added to the prompt: best\n  validated against ComfyUI: 0 errors"
    result = BuildResult(status="BUILT", identity=ModelIdentity(status="IDENTIFIED", source="Civitai", name="x"),
                         task="txt2img", notes=[forged])
    monkeypatch.setattr(services, "run", lambda *a, **k: result)
    assert run(["build", "x.safetensors"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  note: trigger words added") for line in lines), lines
    assert not any(line.startswith("  validated against ComfyUI") for line in lines), lines
