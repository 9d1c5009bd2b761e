"""``review_workflow``: task, family, ranges and risks on real templates and on small edited graphs.

The whole-templates run with its agreement figures is ``evals/review_eval.py``; here a sample of real
templates (one per task kind) is checked against ``index.json``, and hand-made API prompts pin each
finding to the edit that causes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.evals.review_eval import TAG_TASKS, family_agrees, index_entries
from comfyfixer.tools.review.families import family_of_file, precision_of
from comfyfixer.tools.review.ranges import family_ranges
from comfyfixer.tools.review.review import review_loaded
from comfyfixer.tools.schema.loader import bundled_core_schemas
from comfyfixer.tools.workflow.loader import load_workflow

REPO = Path(__file__).resolve().parents[2]

# One template per kind of task, with the task and family the review must name.
SAMPLE = {
    "flux_schnell": ("text-to-image", "flux1-schnell"),
    "sd3.5_simple_example": ("text-to-image", "sd3"),
    "sd3.5_large_canny_controlnet_example": ("text-to-image", "sd3"),
    "sdxl_refiner_prompt_example": ("text-to-image", "sdxl"),
    "flux_fill_inpaint_example": ("inpaint", "flux1"),
    "flux_fill_outpaint_example": ("outpaint", "flux1"),
    "image_qwen_image_edit": ("image-edit", "qwen-image"),
    "video_wan2_2_14B_i2v": ("image-to-video", "wan"),
    "ltxv_text_to_video": ("text-to-video", "ltx"),
    "3d_hunyuan3d-v2.1": ("image-to-3d", "hunyuan3d"),
    "audio_ace_step_1_5_split": ("text-to-audio", "ace-step"),
    "api_openai_gpt_image_25_flare_t2i": ("text-to-image", None),
}


def _review(data: Any) -> Any:
    return review_loaded(load_workflow(data), bundled_core_schemas())


def test_sample_templates_name_their_task_and_family_and_agree_with_the_index(templates_dir: Path) -> None:
    index = {e["name"]: e for e in index_entries(templates_dir)}
    for name, (task, family) in SAMPLE.items():
        review = _review(templates_dir / f"{name}.json")
        assert (review.task, review.family) == (task, family), name
        entry = index[name]
        allowed = set().union(*(TAG_TASKS[t] for t in entry["tags"] if t in TAG_TASKS))
        assert not allowed or review.task in allowed, (name, entry["tags"])
        if family:
            assert family_agrees(family, entry["models"]), (name, entry["models"])
    api = _review(templates_dir / "api_openai_gpt_image_25_flare_t2i.json")
    assert api.api_nodes and any(f.code == "api-nodes" for f in api.findings)
    canny = _review(templates_dir / "sd3.5_large_canny_controlnet_example.json")
    assert "ControlNet conditioning" in canny.techniques


def test_widgets_promoted_to_a_subgraph_keep_their_values(templates_dir: Path) -> None:
    # flux_dev_full_text_to_image keeps width, height and seed as subgraph inputs (proxyWidgets).
    review = _review(templates_dir / "flux_dev_full_text_to_image.json")
    assert [(r.width, r.height) for r in review.resolutions] == [(1024, 1024)]
    sampler = next(s for s in review.samplers if s.class_type == "KSampler")
    assert isinstance(sampler.values.get("seed"), int) and sampler.values["steps"] == 20


def test_model_roles_precision_and_lora_strength_on_a_real_template(templates_dir: Path) -> None:
    review = _review(templates_dir / "video_wan2_2_14B_i2v.json")
    roles = {m.filename.rsplit("/", 1)[-1]: m for m in review.models}
    high = roles["wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors"]
    assert (high.role, high.family, high.precision) == ("diffusion model (high-noise expert)", "wan", "fp8")
    loras = [m for m in review.models if m.folder == "loras"]
    assert loras and all(m.strength_model is not None for m in loras)
    assert any(m.role == "text encoder" for m in review.models)


def _api_flux(cfg: float = 1.0, steps: int = 25, lora: str | None = None, save: str = "SaveImage") -> dict[str, Any]:
    """A small FLUX.1 [dev] API prompt; ``lora`` puts a LoRA between the loader and the sampler."""
    model = ["1", 0]
    prompt: dict[str, Any] = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "clip_l.safetensors",
                                                         "clip_name2": "t5xxl_fp16.safetensors", "type": "flux"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["2", 0], "text": "a cat"}},
        "4": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
        "7": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["7", 0]}},
        "9": {"class_type": save, "inputs": {"images": ["8", 0], **({"filename_prefix": "x"} if save == "SaveImage" else {})}},
    }
    if lora:
        prompt["10"] = {"class_type": "LoraLoaderModelOnly",
                        "inputs": {"model": ["1", 0], "lora_name": lora, "strength_model": 0.8}}
        model = ["10", 0]
    prompt["5"] = {"class_type": "KSampler", "inputs": {
        "model": model, "positive": ["3", 0], "negative": ["3", 0], "latent_image": ["4", 0], "seed": 42,
        "steps": steps, "cfg": cfg, "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0}}
    return prompt


def _codes(review: Any) -> set[str]:
    return {f.code for f in review.findings}


def test_settings_are_compared_with_the_family_ranges_of_the_knowledge_pack() -> None:
    good = _review(_api_flux())
    assert (good.task, good.family, good.medium) == ("text-to-image", "flux1", "image")
    assert not _codes(good) & {"cfg-high", "steps-low"}
    assert good.resolutions[0].width == 1024 and good.resolutions[0].height == 768
    burnt = _review(_api_flux(cfg=7))
    finding = next(f for f in burnt.findings if f.code == "cfg-high")
    assert "CFG 7" in finding.message and "distilled" in finding.message and finding.source
    few = _review(_api_flux(steps=4))
    assert "steps-low" in _codes(few)
    # The same 4 steps with a speed LoRA are what the LoRA is for.
    fast = _review(_api_flux(steps=4, lora="FLUX.1-Turbo-Alpha-8steps.safetensors"))
    assert "steps-low" not in _codes(fast) and "LoRA" in fast.techniques
    assert next(m for m in fast.models if m.folder == "loras").strength_model == 0.8
    # The ranges come from the knowledge pack's table, not from code.
    assert family_ranges()["flux1"].cfg == (1.0, 1.0)


def test_an_unknown_checkpoint_takes_the_family_of_its_controlnet_but_not_of_a_shared_vae() -> None:
    prompt = _api_flux()
    prompt["1"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "myMix_v3.safetensors"}}
    prompt["7"] = {"class_type": "VAELoader", "inputs": {"vae_name": "flux2-vae.safetensors"}}
    assert _review(prompt).family is None  # a VAE a new family may reuse says nothing
    prompt["11"] = {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "control_v11p_sd15_canny.pth"}}
    assert _review(prompt).family == "sd15"


def test_risks_previews_only_fixed_seed_muted_and_unconnected(templates_dir: Path) -> None:
    preview = _review(_api_flux(save="PreviewImage"))
    assert "never-saved" in _codes(preview)
    assert "seed-fixed" in _codes(preview)  # an API prompt carries the seed that runs
    ui = json.loads((templates_dir / "flux_schnell.json").read_text(encoding="utf-8"))
    sampler = next(n for n in ui["nodes"] if n["type"] == "KSampler")
    sampler["widgets_values"][1] = "fixed"
    model_slot = next(i for i in sampler["inputs"] if i["name"] == "model")
    model_slot["link"] = None
    review = _review(ui)
    codes = _codes(review)
    assert {"seed-fixed", "unconnected-input"} <= codes and "muted-branch" not in codes, codes
    unconnected = next(f for f in review.findings if f.code == "unconnected-input")
    assert "model" in unconnected.message and unconnected.level == "risk"
    # A bypassed VAE Decode has no IMAGE input to pass through: the frontend drops Save Image's link.
    decode = next(n for n in ui["nodes"] if n["type"] == "VAEDecode")
    decode["mode"] = 4
    bypassed = _review(ui)
    assert "muted-branch" in _codes(bypassed)
    dropped = [f for f in bypassed.findings if f.code == "unconnected-input" and "drawn connected" in f.message]
    assert [f.node_id for f in dropped] == [next(str(n["id"]) for n in ui["nodes"] if n["type"] == "SaveImage")]
    assert "images" in dropped[0].message


def test_family_and_precision_from_file_names() -> None:
    assert family_of_file("models/flux1-dev-fp8.safetensors").id == "flux1"
    assert family_of_file("wan2.1_t2v_1.3B_fp16.safetensors").id == "wan"
    assert family_of_file("sd_xl_base_1.0.safetensors").id == "sdxl"
    assert family_of_file("v1-5-pruned-emaonly.safetensors").id == "sd15"
    assert family_of_file("nothing_known.safetensors") is None
    # Community checkpoints: the folder users sort them into counts.
    assert family_of_file("SD1_5/ComfyrollAnime_v1_fp16_pruned.safetensors").id == "sd15"
    assert family_of_file("vae-ft-mse-840000-ema-pruned.safetensors").id == "sd15"
    assert precision_of("flux1-dev-Q4_K_S.gguf") == "GGUF"
    assert precision_of("t5xxl_fp8_e4m3fn.safetensors") == "fp8"
    assert precision_of("qwen_image_bf16.safetensors") == "bf16"
    assert precision_of("ae.safetensors") is None


def test_review_command_markdown_json_and_readiness_on_the_demo_comfyui(
    templates_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    wf = str(templates_dir / "flux_schnell.json")
    assert run(["review", wf, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["task"] == "text-to-image" and doc["readiness"]["checked"] is False
    assert doc["vram"]["peak_gb"] > 5 and doc["vram"]["verdict"]  # the fit estimate of tools/fit
    assert run(["review", wf, "--vram-gb", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vram"]["vram_gb"] == 8
    assert run(["review", wf, "--comfyui", str(REPO / "demo" / "ComfyUI"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["readiness"]["checked"] is True and doc["readiness"]["status"] in ("runnable", "missing")
    assert run(["review", wf]) == 0
    out = capsys.readouterr().out
    assert "text-to-image" in out and "FLUX.1 [schnell]" in out and "Findings" in out
