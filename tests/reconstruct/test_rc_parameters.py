"""Generation parameters → API graph: field-by-field against the images, and valid against real schemas."""

from __future__ import annotations

import pytest
from rc_support import corpus_images, info_for, rel, schemas

from comfyfixer.tools.imagemeta import GenerationInfo, HiresInfo, LoraRef, ModelInfo, RefinerInfo
from comfyfixer.tools.reconstruct import build_from_parameters, validate_api
from comfyfixer.tools.reconstruct.api_to_ui import api_to_ui
from comfyfixer.tools.reconstruct.graph_builder import add_notes

SAMPLERS = ("KSampler", "KSamplerAdvanced")
LOADERS = ("CheckpointLoaderSimple", "UNETLoader")


def _stem(name: str) -> str:
    base = name.replace("\\", "/")
    for ext in (".safetensors", ".ckpt", ".pt", ".pth", ".sft", ".gguf"):
        if base.lower().endswith(ext):
            return base[: -len(ext)]
    return base


def _nodes(api: dict, *classes: str) -> list[tuple[str, dict]]:
    return sorted(((k, v) for k, v in api.items() if v["class_type"] in classes), key=lambda kv: int(kv[0]))


def _parameter_images() -> list:
    out = []
    for p in corpus_images():
        info = info_for(p)
        if info is None or info.workflow is not None or info.prompt_graph is not None:
            continue
        if info.prompt or info.seed is not None or info.steps:
            out.append(pytest.param(p, id=rel(p)))
    return out


@pytest.mark.parametrize("path", _parameter_images())
def test_corpus_fields_match_and_graph_validates(path) -> None:
    info = info_for(path)
    built = build_from_parameters(info, schemas())
    api = built.prompt
    report = validate_api(api, schemas())
    assert report.errors == [], [e.message for e in report.errors]

    first = _nodes(api, *SAMPLERS)[0][1]
    fi = first["inputs"]
    assert fi.get("seed", fi.get("noise_seed")) == (info.seed if info.seed is not None else 0)
    if info.steps:
        assert fi["steps"] == info.steps
    if info.cfg is not None:
        assert fi["cfg"] == pytest.approx(info.cfg)
    if info.sampler:
        assert fi["sampler_name"] == info.sampler
    else:
        assert any(i.what == "first pass sampler_name" for i in built.inferred)
    assert fi["scheduler"] == (info.scheduler or "normal")

    sized = _nodes(api, "EmptyLatentImage", "EmptySD3LatentImage") or _nodes(api, "ImageScale")  # txt2img / img2img
    if info.width and info.height:
        assert (sized[0][1]["inputs"]["width"], sized[0][1]["inputs"]["height"]) == (info.width, info.height)

    hires = info.hires if info.hires and (info.hires.scale or info.hires.upscaler) else None
    if "denoise" in fi:
        expected = info.denoise if info.denoise is not None and hires is None and info.denoise < 1 else 1.0
        assert fi["denoise"] == pytest.approx(expected)
    if hires is not None:
        second = _nodes(api, "KSampler")[-1][1]["inputs"]
        assert second["denoise"] == pytest.approx(hires.denoise if hires.denoise is not None else info.denoise or 0.7)
        assert second["seed"] == fi["seed"]

    loader = _nodes(api, *LOADERS)[0][1]["inputs"]
    if info.model and info.model.name:
        assert _stem(loader.get("ckpt_name") or loader["unet_name"]) == _stem(info.model.name.strip())
    got = sorted((_stem(n["inputs"]["lora_name"]), n["inputs"]["strength_model"])
                 for _, n in _nodes(api, "LoraLoader", "LoraLoaderModelOnly"))
    want = sorted((_stem(lo.name), lo.weight if lo.weight is not None else 1.0) for lo in info.loras)
    assert got == want


def _info(**kw) -> GenerationInfo:
    base = dict(generator="A1111", prompt="a cat", negative_prompt="blurry", seed=5, steps=20, cfg=7.0,
                sampler_raw="DPM++ 2M", scheduler_raw="Karras", sampler="dpmpp_2m", scheduler="karras",
                width=512, height=768, model=ModelInfo(name="dream", hashes={"AutoV2": "0123456789"}))
    base.update(kw)
    return GenerationInfo(**base)


def _ok(api: dict) -> None:
    assert validate_api(api, schemas()).errors == []


def test_lora_chain_clip_skip_and_prompt_tags() -> None:
    info = _info(prompt="a cat <lora:fluffy:0.6>, <lora:style:1.1> [red:blue:0.5]", clip_skip=2,
                 loras=[LoraRef(name="fluffy", weight=0.6), LoraRef(name="style", weight=1.1, clip_weight=0.5)])
    built = build_from_parameters(info, schemas())
    api = built.prompt
    _ok(api)
    loras = _nodes(api, "LoraLoader")
    assert [(n["inputs"]["lora_name"], n["inputs"]["strength_model"], n["inputs"]["strength_clip"]) for _, n in loras] == [
        ("fluffy.safetensors", 0.6, 0.6), ("style.safetensors", 1.1, 0.5)]
    # the second LoRA is fed by the first; clip skip sits after the chain
    assert loras[1][1]["inputs"]["model"] == [loras[0][0], 0]
    skip = _nodes(api, "CLIPSetLastLayer")[0]
    assert skip[1]["inputs"] == {"clip": [loras[1][0], 1], "stop_at_clip_layer": -2}
    pos = next(n for n in api.values() if n.get("_meta", {}).get("title") == "Positive prompt")
    assert "<lora:" not in pos["inputs"]["text"] and "[red:blue:0.5]" in pos["inputs"]["text"]
    assert any(i.what == "positive prompt syntax" and i.confidence < 0.5 for i in built.inferred)


def test_hires_latent_upscale_makes_a_second_pass() -> None:
    info = _info(denoise=0.55, hires=HiresInfo(upscaler="Latent (nearest-exact)", scale=1.5, steps=12, denoise=0.55))
    api = build_from_parameters(info, schemas()).prompt
    _ok(api)
    up = _nodes(api, "LatentUpscale")[0][1]["inputs"]
    assert (up["width"], up["height"], up["upscale_method"]) == (768, 1152, "nearest-exact")
    k1, k2 = (n["inputs"] for _, n in _nodes(api, "KSampler"))
    assert k1["denoise"] == 1.0 and k2["denoise"] == 0.55 and k2["steps"] == 12
    assert k2["latent_image"][0] == _nodes(api, "LatentUpscale")[0][0]


def test_hires_model_upscale_uses_the_upscaler_file() -> None:
    info = _info(denoise=0.3, hires=HiresInfo(upscaler="R-ESRGAN 4x+ Anime6B", scale=2, denoise=0.3))
    built = build_from_parameters(info, schemas())
    _ok(built.prompt)
    assert _nodes(built.prompt, "UpscaleModelLoader")[0][1]["inputs"]["model_name"] == "RealESRGAN_x4plus_anime_6B.pth"
    scale = _nodes(built.prompt, "ImageScale")[0][1]["inputs"]
    assert (scale["width"], scale["height"]) == (1024, 1536)
    assert any(m.role == "upscaler" for m in built.models)


def test_flux_family_uses_separate_loaders_and_guidance() -> None:
    info = _info(model=ModelInfo(name="flux1-dev-fp8"), cfg=1.0, sampler="euler", scheduler="simple",
                 sampler_raw="Euler", scheduler_raw="Simple", extra={"Distilled CFG Scale": "3.5"},
                 loras=[LoraRef(name="detail", weight=0.8)])
    built = build_from_parameters(info, schemas())
    api = built.prompt
    _ok(api)
    assert built.family == "flux"
    assert _nodes(api, "UNETLoader")[0][1]["inputs"]["unet_name"] == "flux1-dev-fp8.safetensors"
    assert _nodes(api, "DualCLIPLoader")[0][1]["inputs"]["type"] == "flux"
    assert _nodes(api, "FluxGuidance")[0][1]["inputs"]["guidance"] == 3.5
    assert _nodes(api, "LoraLoaderModelOnly") and not _nodes(api, "CheckpointLoaderSimple")
    assert _nodes(api, "EmptySD3LatentImage")
    assert any(i.what == "text encoders" for i in built.inferred)


def test_refiner_becomes_a_second_model_pass() -> None:
    info = _info(refiner=RefinerInfo(model=ModelInfo(name="sdxl_refiner"), switch_at=0.75),
                 extra={"Refiner": "sdxl_refiner [7440042bbd]"})
    built = build_from_parameters(info, schemas())
    api = built.prompt
    assert next(m for m in built.models if m.role == "refiner").hashes == {"AutoV2": "7440042bbd"}
    _ok(api)
    base, ref = (n["inputs"] for _, n in _nodes(api, "KSamplerAdvanced"))
    assert base["end_at_step"] == 15 == ref["start_at_step"]
    assert base["return_with_leftover_noise"] == "enable" and ref["add_noise"] == "disable"
    assert [n["inputs"]["ckpt_name"] for _, n in _nodes(api, "CheckpointLoaderSimple")] == [
        "dream.safetensors", "sdxl_refiner.safetensors"]


def test_optional_parts_become_flagged_notes_with_packs() -> None:
    info = _info(adetailer={"ADetailer model": "face_yolov8n.pt", "ADetailer denoising strength": "0.4"},
                 subseed=77, subseed_strength=0.3)
    built = build_from_parameters(info, schemas())
    titles = [n.title for n in built.notes]
    assert "ADetailer (not rebuilt)" in titles and "Variation seed (not rebuilt)" in titles
    assert {c.pack for c in built.custom_nodes if c.optional} >= {"ComfyUI-Impact-Pack", "ComfyUI-Inspire-Pack"}
    assert not any(n["class_type"] == "FaceDetailer" for n in built.prompt.values())
    wf = api_to_ui(built.prompt, schemas()).workflow
    add_notes(wf, built.notes)
    notes = [n for n in wf["nodes"] if n["type"] == "Note"]
    assert len(notes) == 2 and "face_yolov8n.pt" in notes[0]["widgets_values"][0]
    assert len({n["id"] for n in wf["nodes"]}) == len(wf["nodes"])


def test_missing_values_are_inferred_not_invented_silently() -> None:
    info = GenerationInfo(generator="A1111", prompt="x", sampler_raw="Restart Plus", sampler=None)
    built = build_from_parameters(info, schemas())
    _ok(built.prompt)
    what = {i.what for i in built.inferred}
    assert {"seed", "steps", "latent size", "first pass sampler_name", "checkpoint file"} <= what
    assert all(0.0 <= i.confidence <= 1.0 for i in built.inferred)


def test_img2img_loads_a_source_image() -> None:
    info = _info(denoise=0.45)
    built = build_from_parameters(info, schemas())
    report = validate_api(built.prompt, schemas())
    assert report.errors == []
    assert [n.folder for n in report.needs_models if n.class_type == "LoadImage"] == ["input"]
    assert _nodes(built.prompt, "KSampler")[0][1]["inputs"]["denoise"] == 0.45
    assert not _nodes(built.prompt, "EmptyLatentImage")  # the latent comes from the source image
    scale = _nodes(built.prompt, "ImageScale")[0][1]["inputs"]
    assert (scale["width"], scale["height"]) == (512, 768)


def test_embeddings_are_models_and_novelai_is_flagged() -> None:
    from comfyfixer.tools.imagemeta import EmbeddingRef

    info = _info(prompt="easynegative? no: a cat", negative_prompt="easynegative, blurry",
                 embeddings=[EmbeddingRef(name="easynegative", hashes={"AutoV2": "c74b4e810b"})])
    built = build_from_parameters(info, schemas())
    emb = [m for m in built.models if m.role == "embedding"]
    assert [(m.file, m.folder, m.hashes) for m in emb] == [("easynegative.safetensors", "embeddings", {"AutoV2": "c74b4e810b"})]
    neg = next(n for n in built.prompt.values() if n.get("_meta", {}).get("title") == "Negative prompt")
    assert neg["inputs"]["text"] == "embedding:easynegative, blurry"

    nai = build_from_parameters(_info(generator="NovelAI", model=ModelInfo(name="NovelAI Diffusion V4.5"),
                                      extra={"character_prompts": "['girl']"}), schemas())
    assert next(m for m in nai.models if m.role == "checkpoint").verdict == "NOT_FOUND"
    assert {"checkpoint", "NovelAI character prompts"} <= {i.what for i in nai.inferred}


def test_webui_noise_source_is_flagged_unless_cpu() -> None:
    gpu = build_from_parameters(_info(extra={"ENSD": "31337"}), schemas())
    assert {"initial noise", "eta noise seed delta"} <= {i.what for i in gpu.inferred}
    assert any(c.pack == "ComfyUI_smZNodes" and c.optional for c in gpu.custom_nodes)
    cpu = build_from_parameters(_info(generator="Forge", extra={"RNG": "CPU"}), schemas())
    assert "initial noise" not in {i.what for i in cpu.inferred}


def test_video_models_are_not_passed_off_as_image_checkpoints() -> None:
    built = build_from_parameters(_info(model=ModelInfo(name="Wan2_1-T2V-14B_fp8_e4m3fn")), schemas())
    assert built.family == "video"
    assert any(i.what == "model family" and i.confidence < 0.5 for i in built.inferred)
