"""Lighter files from recorded real Hugging Face file lists: ``tune --vram 8`` swaps them in for the
templates the Manager's catalog has no GGUF for, each file exists on a Hub imitation serving the
recorded lists, and at least ten official templates over 8 GB get a copy that validates and fits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from comfyfixer.evals.fakes.hf_server import FakeHfFile, FakeHfRepo, HfFakeServer
from comfyfixer.evals.fit_eval import run_eval, run_tune_eval
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.fit.capability import estimate_fit
from comfyfixer.tools.fit.models import FitInput
from comfyfixer.tools.fit.recorded import lighter_files, recorded_repos, recorded_variants
from comfyfixer.tools.fit.tune import TuneInput, tune_workflow
from comfyfixer.tools.huggingface.client import HuggingFaceClient, parse_hf_url


@pytest.fixture
def ctx(tmp_path: Path, shared_data: Path, manager_wheel: Path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", offline=True, manager_wheel_dirs=(manager_wheel.parent,),
                       object_info_file=shared_data / "comfyui" / "object_info.json")


def test_recorded_lists_name_their_pages_and_the_template_files_they_convert(templates_dir: Path) -> None:
    names = " ".join(p.read_text(encoding="utf-8") for p in sorted(templates_dir.glob("*.json"))
                     if "krea" in p.name or "kontext" in p.name or "5B_ti2v" in p.name)
    for repo in recorded_repos():
        assert repo.listing == f"https://huggingface.co/{repo.repo}/tree/main" and repo.files
        assert any(v in names for v in repo.variant_of), repo.repo  # converts a file the templates load
        assert all(size > 1e9 and name.endswith(".gguf") for name, size, _ in repo.files)
    q4 = next(v for v in recorded_variants("flux1-krea-dev_fp8_scaled.safetensors", 12 * 10**9) if v.filename.endswith("Q4_K_S.gguf"))
    assert q4.bytes == 6_800_000_000 and q4.url == "https://huggingface.co/QuantStack/FLUX.1-Krea-dev-GGUF/resolve/main/flux1-krea-dev-Q4_K_S.gguf"
    assert recorded_variants("wan2.2_ti2v_5B_fp16.safetensors", 5 * 10**9)[0].filename == "Wan2.2-TI2V-5B-Q6_K.gguf"  # 3.92 GiB
    assert recorded_variants("flux1-dev.safetensors", 10**11) == []  # that one comes from the Manager's catalog
    assert lighter_files(None, "flux1-dev-kontext_fp8_scaled.safetensors", 10**11)[0].filename == "flux1-kontext-dev-Q5_1.gguf"


@pytest.mark.parametrize(("template", "gguf"), [("flux1_krea_dev.json", "flux1-krea-dev-"),
                                                ("flux_kontext_dev_basic.json", "flux1-kontext-dev-"),
                                                ("video_wan2_2_5B_ti2v.json", "Wan2.2-TI2V-5B-")])
def test_tuned_copy_uses_a_recorded_file_that_the_hub_serves(template: str, gguf: str, templates_dir: Path, ctx: ToolContext,
                                                             tmp_path: Path) -> None:
    result = tune_workflow(TuneInput(path=str(templates_dir / template), vram_gb=8), ctx, out_dir=tmp_path)
    assert result.before.verdict == "FITS_OFFLOAD" and result.after.verdict == "FITS" and result.validation_errors == []
    swap = next(c for c in result.changes if c.input == "unet_name")
    assert swap.new.startswith(gguf) and "file list (https://huggingface.co/" in swap.why
    again = estimate_fit(FitInput(path=result.written or "", vram_gb=8), ctx)
    assert again.verdict == "FITS"
    weight = next(m for m in again.models if m.filename == swap.new)
    assert weight.source == "catalog" and "hf-listing" in weight.detail
    # The copy's download entry points at the recorded repository; a Hub imitation serving the recorded
    # lists answers for exactly that file, with the recorded size.
    doc = json.loads(Path(result.written or "").read_text(encoding="utf-8"))
    nodes = doc["nodes"] + [n for sg in doc.get("definitions", {}).get("subgraphs", []) for n in sg["nodes"]]
    [entry] = [e for n in nodes for e in n.get("properties", {}).get("models", []) if e["name"] == swap.new]
    repo_id, revision, path = parse_hf_url(entry["url"]) or ("", "", "")
    repos = [FakeHfRepo(r.repo, [FakeHfFile(f, size, hashlib.sha256(f.encode()).hexdigest()) for f, size, _ in r.files])
             for r in recorded_repos()]
    with HfFakeServer(repos) as hub, HuggingFaceClient(endpoint=hub.url, retries=0, timeout=5) as hf:
        meta = hf.file_metadata(repo_id, path, revision=revision)
        assert not hf.file_exists(repo_id, path.replace(".gguf", "-missing.gguf"))
    assert meta.size == weight.bytes and entry["directory"] == "diffusion_models"


def test_ten_templates_over_8gb_tune_to_fit(templates_dir: Path, ctx: ToolContext) -> None:
    reports = run_eval(templates_dir, ctx, vram_gb=8)["reports"]
    tuned = run_tune_eval(reports, templates_dir, ctx, 8)
    assert tuned["invalid"] == [] and len(tuned["fitted"]) >= 10, tuned["fitted"]
    assert {"flux", "wan22_5b"} <= set(tuned["fitted_families"])
    assert all(lines and lines[0].startswith("peak ") and len(lines) > 1 for lines in tuned["changes"].values())


def test_tune_plan_downloads_the_recorded_gguf(templates_dir: Path, tmp_path: Path, installed_manager_catalogs: Path,
                                               capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from comfyfixer.agent.cli import run

    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    demo = Path(__file__).resolve().parents[2] / "demo" / "ComfyUI"
    assert run(["tune", str(templates_dir / "flux1_krea_dev.json"), "--vram", "8GB", "--out", str(tmp_path),
                "--comfyui", str(demo), "--plan", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tune"]["after"]["verdict"] == "FITS" and doc["plan"]["plan_file"]
    actions = {a.get("item", ""): a for a in doc["plan"]["actions"]}
    assert "pack:comfyui-gguf" in actions
    gguf = next(a for item, a in actions.items() if item.endswith(".gguf"))
    assert "QuantStack/FLUX.1-Krea-dev-GGUF" in json.dumps(gguf)


def test_sd35_large_becomes_medium_unless_a_large_only_controlnet_is_loaded(templates_dir: Path, ctx: ToolContext,
                                                                            tmp_path: Path) -> None:
    result = tune_workflow(TuneInput(path=str(templates_dir / "sd3.5_simple_example.json"), vram_gb=8), ctx, out_dir=tmp_path)
    assert (result.before.verdict, result.after.verdict, result.validation_errors) == ("FITS_OFFLOAD", "FITS", [])
    [swap] = result.changes
    assert (swap.old, swap.new) == ("sd3.5_large_fp8_scaled.safetensors", "sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors")
    assert "Comfy-Org/stable-diffusion-3.5-fp8" in swap.why and "Medium (2.5B" in swap.why
    medium = result.after.models[0]
    assert medium.source == "catalog" and medium.bytes == 11_600_000_000 and result.after.family == "sd3"
    # Its diffusion part is the 2.5B model at 16 bits ("t5xxlfp8scaled" names the bundled encoder, not the model).
    sampling = next(st for st in result.after.stages if st.stage == "sampling")
    assert sampling.weights_bytes == 5_000_000_000
    canny = tune_workflow(TuneInput(path=str(templates_dir / "sd3.5_large_canny_controlnet_example.json"), vram_gb=8,
                                    dry_run=True), ctx)
    assert not canny.changes and any("made for the larger model" in n for n in canny.notes)
