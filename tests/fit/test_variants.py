"""Variants from ComfyUI-Manager's real model catalog: GGUF and fp8 files swapped in by ``tune`` so the
copy's own estimate fits 8 GB, validated against the real object_info plus ComfyUI-GGUF's loader
schema, and planned (pack + downloads) through the ordinary fix path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.tools.catalogs.manager import load_manager_catalog
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.fit.capability import estimate_fit
from comfyfixer.tools.fit.models import FitInput
from comfyfixer.tools.fit.tune import TuneInput, tune_workflow
from comfyfixer.tools.fit.variants import catalog_variants, gguf_schemas, precision_stem

REPO = Path(__file__).resolve().parents[2]


def test_precision_stems() -> None:
    assert {precision_stem(n) for n in ("flux1-dev.safetensors", "flux1-dev-Q4_K_S.gguf", "flux1-dev-Q8_0.gguf",
                                          "flux1-dev-fp8.safetensors", "flux1-dev-F16.gguf")} == {"flux1-dev"}
    assert precision_stem("t5xxl_fp8_e4m3fn_scaled.safetensors") == precision_stem("t5xxl_fp16.safetensors") == "t5xxl"
    assert precision_stem("umt5_xxl_fp16.safetensors") == "umt5_xxl" != precision_stem("t5xxl_fp16.safetensors")


def test_catalog_variants_are_real_files(manager_wheel: Path) -> None:
    catalog = load_manager_catalog(wheel_dirs=[manager_wheel.parent])
    names = [v.filename for v in catalog_variants(catalog, "flux1-dev.safetensors", 23_800_000_000)]
    assert names[0] == "flux1-dev-Q8_0.gguf" and names[-1] == "flux1-dev-Q2_K.gguf"  # best quality first
    assert {"flux1-dev-fp8.safetensors", "flux1-dev-Q4_K_S.gguf", "flux1-dev-Q5_1.gguf"} <= set(names)
    q4 = next(v for v in catalog_variants(catalog, "flux1-dev.safetensors", 23_800_000_000) if v.filename.endswith("Q4_K_S.gguf"))
    assert q4.gguf and q4.bytes == 6_810_000_000 and q4.url.startswith("https://huggingface.co/city96/") and q4.label == "GGUF Q4_K_S"
    assert gguf_schemas().get("UnetLoaderGGUF").outputs[0].type == "MODEL"


@pytest.fixture
def catalog_ctx(tmp_path: Path, shared_data: Path, manager_wheel: Path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", offline=True, manager_wheel_dirs=(manager_wheel.parent,),
                       object_info_file=shared_data / "comfyui" / "object_info.json")


@pytest.mark.parametrize("template", ["flux_dev_full_text_to_image.json", "flux_schnell_full_text_to_image.json"])
def test_tuned_flux_fits_8gb(template: str, templates_dir: Path, catalog_ctx: ToolContext, tmp_path: Path) -> None:
    result = tune_workflow(TuneInput(path=str(templates_dir / template), vram_gb=8), catalog_ctx, out_dir=tmp_path / "out")
    assert result.before.verdict == "FITS_OFFLOAD" and result.after.verdict == "FITS"
    assert result.validation_errors == [] and result.written
    swap = next(c for c in result.changes if c.input == "class_type")
    assert (swap.old, swap.new) == ("UNETLoader", "UnetLoaderGGUF")
    assert not any(c.input == "weight_dtype" for c in result.changes)  # superseded by the GGUF file
    t5 = next(c for c in result.changes if c.input == "clip_name2")
    assert t5.new == "t5xxl_fp8_e4m3fn_scaled.safetensors"
    # The copy, estimated on its own, fits; its files come with their catalog sizes and URLs.
    again = estimate_fit(FitInput(path=result.written, vram_gb=8), catalog_ctx)
    assert again.verdict == "FITS" and again.peak_bytes == result.after.peak_bytes
    gguf = next(m for m in again.models if m.filename.endswith(".gguf"))
    assert gguf.source == "catalog" and gguf.role == "diffusion"
    doc = json.loads(Path(result.written).read_text(encoding="utf-8"))
    nodes = doc["nodes"] + [n for sg in doc.get("definitions", {}).get("subgraphs", []) for n in sg["nodes"]]
    entries = [e for n in nodes for e in n.get("properties", {}).get("models", [])]
    assert any(e["name"] == gguf.filename and "city96" in e["url"] for e in entries)


def test_tune_plan_installs_gguf_and_downloads(templates_dir: Path, tmp_path: Path, installed_manager_catalogs: Path,
                                               capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["tune", str(templates_dir / "flux_dev_full_text_to_image.json"), "--vram", "8GB", "--out", str(tmp_path),
                "--comfyui", str(REPO / "demo" / "ComfyUI"), "--plan", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tune"]["after"]["verdict"] == "FITS" and doc["plan"]["plan_file"]
    items = [a.get("item", "") for a in doc["plan"]["actions"]]
    assert "pack:comfyui-gguf" in items and any(i.endswith(".gguf") for i in items)
