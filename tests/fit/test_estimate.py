"""The fit estimate on real templates: settings read through subgraphs, weights from real headers in a
ComfyUI folder, ComfyUI's memory formulas, and the three verdicts; the ``fit`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.fit.capability import estimate_fit
from comfyfixer.tools.fit.families import BY_KEY, MIN_INFERENCE_BYTES, family_for_name, latent_frames
from comfyfixer.tools.fit.models import FitInput, parse_vram
from comfyfixer.tools.fit.sizes import sizes_in_text

from .archs import clip_l, flux_dev, parameters, t5_xxl_encoder, write_sparse_safetensors

GiB = 1024**3


@pytest.fixture(scope="session")
def flux_comfyui(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ComfyUI folder holding the FLUX.1 [dev] template's files as sparse files with real headers."""
    base = tmp_path_factory.mktemp("ComfyUI")
    models = base / "models"
    for sub in ("diffusion_models", "text_encoders", "vae"):
        (models / sub).mkdir(parents=True)
    write_sparse_safetensors(models / "diffusion_models" / "flux1-dev.safetensors", [(n, "BF16", s) for n, s in flux_dev()])
    write_sparse_safetensors(models / "text_encoders" / "t5xxl_fp16.safetensors", [(n, "F16", s) for n, s in t5_xxl_encoder()])
    write_sparse_safetensors(models / "text_encoders" / "clip_l.safetensors", [(n, "F16", s) for n, s in clip_l()])
    write_sparse_safetensors(models / "vae" / "ae.safetensors", [("decoder.conv_in.weight", "F32", [512, 16, 3, 3]),
                                                                  ("encoder.conv_out.weight", "F32", [32, 512, 3, 3])])
    return base


def _ctx(tmp_path: Path, **kw: object) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "cache", state_dir=tmp_path / "state", offline=True, **kw)


def test_weights_come_from_the_headers_of_the_local_files(templates_dir: Path, flux_comfyui: Path, tmp_path: Path) -> None:
    wf = templates_dir / "flux_dev_full_text_to_image.json"
    report = estimate_fit(FitInput(path=str(wf), vram_gb=8), _ctx(tmp_path, comfyui_dir=flux_comfyui))
    by_name = {m.filename: m for m in report.models}
    assert {m.source for m in report.models} == {"header"}
    assert by_name["flux1-dev.safetensors"].bytes == 2 * parameters(flux_dev()) == 23_802_816_640
    sampling = next(st for st in report.stages if st.stage == "sampling")
    assert sampling.weights_bytes == 23_802_816_640
    cond = next(st for st in report.stages if st.stage == "conditioning")
    assert cond.weights_bytes == 2 * (parameters(t5_xxl_encoder()) + parameters(clip_l()))
    # Settings come from the EmptySD3LatentImage inside the template's subgraph.
    assert (report.family, report.width, report.height, report.batch) == ("flux", 1024, 1024, 1)
    # ComfyUI's working set: 128×128 latent × 2 bytes × 0.01 × 3.1 MiB, plus its 1.2 GiB reserve.
    working = int(128 * 128 * 2 * 0.01 * 3.1 * 1024 * 1024)
    assert sampling.bytes == 23_802_816_640 + working + MIN_INFERENCE_BYTES
    assert report.verdict == "FITS_OFFLOAD" and report.flag == "--lowvram"
    assert report.offloaded_bytes == sampling.bytes - 8 * GiB and 3 < report.slowdown < 4
    assert all(line.how for st in report.stages for line in st.lines)


def test_three_verdicts(templates_dir: Path, flux_comfyui: Path, tmp_path: Path) -> None:
    wf = str(templates_dir / "flux_dev_full_text_to_image.json")
    ctx = _ctx(tmp_path, comfyui_dir=flux_comfyui)
    assert estimate_fit(FitInput(path=wf, vram_gb=32), ctx).verdict == "FITS"
    tiny = estimate_fit(FitInput(path=wf, vram_gb=1.5), ctx)
    assert tiny.verdict == "DOES_NOT_FIT" and "lower the resolution" in tiny.summary


def test_video_template_sizes_frames_and_two_experts(templates_dir: Path, tmp_path: Path) -> None:
    report = estimate_fit(FitInput(path=str(templates_dir / "video_wan2_2_14B_t2v.json"), vram_gb=24), _ctx(tmp_path))
    assert (report.family, report.width, report.height, report.frames) == ("wan_14b", 640, 640, 81)
    assert latent_frames(BY_KEY["wan_14b"], 81) == 21
    sampling = next(st for st in report.stages if st.stage == "sampling")
    working = next(line for line in sampling.lines if line.what == "sampling working set")
    assert working.bytes == int(21 * 80 * 80 * 2 * 0.01 * (5120 / 2222) * 1024 * 1024)
    # fp8 14B expert, size from the template's own notes (GiB)
    assert next(m for m in report.models if "low_noise_14B" in m.filename).source == "workflow-note"
    assert any("one at a time" in n for n in report.notes)


def test_families_by_name() -> None:
    assert family_for_name("wan2.2_ti2v_5B_fp16.safetensors").key == "wan22_5b"
    assert family_for_name("wan2.1_t2v_1.3B_fp16.safetensors").key == "wan_1_3b"
    assert family_for_name("sd3.5_large_fp8_scaled.safetensors").key == "sd35_large"
    assert family_for_name("flux1-dev-kontext_fp8_scaled.safetensors").key == "flux"
    assert family_for_name("hunyuan_video_t2v_720p_bf16.safetensors").key == "hunyuan_video"


def test_sizes_printed_in_notes() -> None:
    line = ("- [t5xxl_fp16.safetensors](https://h/t5xxl_fp16.safetensors) (9.12 GB) or "
            "[t5xxl_fp8_e4m3fn_scaled.safetensors](https://h/x) (4.8 GB)\n- [clip_l.safetensors](https://h/c)")
    assert sizes_in_text(line) == {"t5xxl_fp16.safetensors": 9_120_000_000, "t5xxl_fp8_e4m3fn_scaled.safetensors": 4_800_000_000}
    assert sizes_in_text(line, binary=True)["t5xxl_fp16.safetensors"] == int(9.12 * GiB)


def test_parse_vram() -> None:
    assert parse_vram("8GB") == 8 and parse_vram("12") == 12 and parse_vram("6144MB") == 6 and parse_vram(None) is None
    with pytest.raises(InputError):
        parse_vram("lots")


def test_fit_command_json(templates_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["fit", str(templates_dir / "sd3.5_simple_example.json"), "--vram", "8GB", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] in ("FITS", "FITS_OFFLOAD") and data["vram_bytes"] == 8 * GiB and data["stages"]
    assert run(["fit", str(templates_dir / "sd3.5_simple_example.json"), "--vram", "8GB"]) == 0
    out = capsys.readouterr().out
    assert "sampling" in out and "working set" in out


def test_a_model_under_an_extra_model_path_is_read_by_its_header(templates_dir: Path, tmp_path: Path) -> None:
    """A user who keeps models on another disk (ComfyUI's extra_model_paths.yaml) gets their headers read,
    as ComfyUI finds them, not a default size."""
    comfy = tmp_path / "ComfyUI"
    (comfy / "models" / "diffusion_models").mkdir(parents=True)
    elsewhere = tmp_path / "disk2" / "unet"
    elsewhere.mkdir(parents=True)
    write_sparse_safetensors(elsewhere / "flux1-dev.safetensors", [(n, "BF16", s) for n, s in flux_dev()])
    wf = templates_dir / "flux_dev_full_text_to_image.json"
    without = estimate_fit(FitInput(path=str(wf), vram_gb=8), _ctx(tmp_path / "a", comfyui_dir=comfy))
    assert next(m for m in without.models if m.filename == "flux1-dev.safetensors").source != "header"
    yaml = tmp_path / "extra_model_paths.yaml"
    yaml.write_text(f"disk2:\n  base_path: {tmp_path / 'disk2'}\n  diffusion_models: unet\n", encoding="utf-8")
    report = estimate_fit(FitInput(path=str(wf), vram_gb=8),
                          _ctx(tmp_path / "b", comfyui_dir=comfy, extra_model_paths=(yaml,)))
    unet = next(m for m in report.models if m.filename == "flux1-dev.safetensors")
    assert unet.source == "header" and unet.bytes == 23_802_816_640
    assert unet.local_path == str(elsewhere / "flux1-dev.safetensors")
