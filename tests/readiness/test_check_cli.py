"""``comfyfixer check``: the demo, reports on disk, exit codes, live servers, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.agent.commands.check import demo_dir
from comfyfixer.evals.fakes.comfyui_server import FakeComfyUI

# What the demo was built to show (demo/SOURCES.md).
DEMO_EXPECTED = {
    "templates/image_sdxl_simple.json": "runnable",
    "templates/flux_schnell_full_text_to_image.json": "missing",
    "templates/utility-gan_upscaler.json": "missing",
    "community/use_everywhere_example.json": "runnable",
    "community/ultimate_sd_upscale_basic.json": "missing",
    "images/saveimage_probe.png": "runnable",
    "interrupted_download.json": "invalid",
}


def test_demo_json_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    assert run(["check", "--demo", "--out", str(out_dir), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    got = {w["name"]: w["status"] for w in doc["workflows"]}
    assert got == DEMO_EXPECTED
    by = {w["name"]: w for w in doc["workflows"]}
    flux = by["templates/flux_schnell_full_text_to_image.json"]
    assert flux["missing_models"] == []
    assert [(m["filename"], m["found_in"], m["expected_folder"]) for m in flux["misplaced_models"]] == [
        ("flux1-schnell.safetensors", "models/checkpoints/flux1-schnell.safetensors", "diffusion_models")
    ]
    assert flux["misplaced_models"][0]["move_to"].endswith("models/diffusion_models/flux1-schnell.safetensors")
    gan = by["templates/utility-gan_upscaler.json"]
    assert [(m["filename"], m["folder"]) for m in gan["missing_models"]] == [
        ("RealESRGAN_x4plus.safetensors", "upscale_models")
    ]
    assert gan["missing_models"][0]["url"].startswith("https://")  # the URL the workflow itself gives
    usdu = by["community/ultimate_sd_upscale_basic.json"]
    assert [n["class_type"] for n in usdu["missing_node_types"]] == ["UltimateSDUpscale"]
    assert usdu["missing_node_types"][0]["packs"][0]["id"]
    assert doc["summary"] == {"total": 7, "runnable": 3, "missing": 3, "invalid": 1}

    wf_dir = out_dir / "reports" / "workflows"
    index = json.loads((wf_dir / "index.json").read_text("utf-8"))
    assert index["summary"] == doc["summary"] and index["generated_at"] and index["inventory_source"]
    reports = [w["report"] for w in index["workflows"]]
    assert len(set(reports)) == len(reports)
    for stem in reports:
        assert (wf_dir / f"{stem}.md").is_file()
        one = json.loads((wf_dir / f"{stem}.json").read_text("utf-8"))
        assert one["generated_at"] == index["generated_at"] and one["inventory_source"]
    md = (wf_dir / "index.md").read_text("utf-8")
    assert "7 workflows: 3 runnable, 3 missing something, 1 invalid" in md
    flux_md = (wf_dir / "templates__flux_schnell_full_text_to_image.md").read_text("utf-8")
    assert "move models/checkpoints/flux1-schnell.safetensors to models/diffusion_models/" in flux_md
    html = (out_dir / "dashboard" / "index.html").read_text("utf-8")
    assert "<script src" not in html and "<link" not in html  # self-contained
    assert doc["reports"]["dashboard"].endswith("index.html")


def test_demo_terminal_output_and_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", "--demo", "--out", str(tmp_path / "o"), "--strict"]) == 1
    text = capsys.readouterr().out
    assert "7 workflows" in text and "3 runnable" in text and "UltimateSDUpscale" in text
    assert "Dashboard: file://" in text


def test_strict_is_zero_when_all_runnable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wf = demo_dir() / "workflows" / "templates" / "image_sdxl_simple.json"
    assert run(["check", str(wf), "--comfyui", str(demo_dir() / "ComfyUI"), "--strict", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["runnable"] == 1


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", str(tmp_path)]) == 2  # no ComfyUI given
    err = capsys.readouterr().err
    assert "no ComfyUI to check against" in err and "--comfyui DIR" in err
    assert run(["check", str(tmp_path / "nope.json"), "--comfyui", str(tmp_path)]) == 2
    assert f"not found: {tmp_path / 'nope.json'}" in capsys.readouterr().err
    assert run(["check", "--demo", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--demo checks the bundled demo" in err and "leave out PATHS" in err
    assert run(["check", str(tmp_path), "--comfyui", str(tmp_path / "no-such-dir")]) == 2
    err = capsys.readouterr().err
    assert "ComfyUI folder not found" in err and "models/ and custom_nodes/" in err


def test_one_broken_file_never_stops_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wf = tmp_path / "wf"
    wf.mkdir()
    (wf / "a_empty.json").write_text("", encoding="utf-8")
    (wf / "b_list.json").write_text("[1, 2, 3]", encoding="utf-8")
    (wf / "c_image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (wf / "d_good.json").write_bytes((demo_dir() / "workflows/templates/image_sdxl_simple.json").read_bytes())
    assert run(["check", str(wf), "--comfyui", str(demo_dir() / "ComfyUI"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    statuses = {Path(w["path"]).name: w["status"] for w in doc["workflows"]}
    assert statuses == {"a_empty.json": "invalid", "b_list.json": "invalid", "c_image.png": "invalid",
                        "d_good.json": "runnable"}
    assert all(w["error"] for w in doc["workflows"] if w["status"] == "invalid")


API_PROMPT = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dummy_ckpt.safetensors"}},
    "2": {"class_type": "ProbeV1Node", "inputs": {}},
    "3": {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["1", 0], "lora_name": "dummy_ckpt.safetensors",
                                                           "strength_model": 1.0}},
    "4": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
}


def test_live_server_is_authoritative(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wf = tmp_path / "api.json"
    wf.write_text(json.dumps(API_PROMPT), encoding="utf-8")
    empty = tmp_path / "ComfyUI"
    (empty / "models").mkdir(parents=True)
    # Statically the probe pack is not installed and the checkpoint is absent.
    assert run(["check", str(wf), "--comfyui", str(empty), "--json"]) == 0
    static = json.loads(capsys.readouterr().out)["workflows"][0]
    assert {n["class_type"] for n in static["missing_node_types"]} == {"ProbeV1Node"}
    with FakeComfyUI(data_dir=shared_data / "comfyui") as fake:
        assert run(["check", str(wf), "--comfyui-url", fake.url, "--json"]) == 0
    live = json.loads(capsys.readouterr().out)
    w = live["workflows"][0]
    assert live["inventory"]["method"] == "live"
    assert w["missing_node_types"] == []  # ProbeV1Node is installed on that server
    assert w["missing_models"] == []
    # The checkpoint exists, but not in loras: the lora loader will not find it there.
    assert [(m["filename"], m["found_in"], m["expected_folder"]) for m in w["misplaced_models"]] == [
        ("dummy_ckpt.safetensors", "checkpoints/dummy_ckpt.safetensors", "loras")
    ]
    assert w["status"] == "missing"


def test_warm_cache_gives_the_same_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "--demo", "--out", str(tmp_path / "o"), "--json"]
    assert run(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert run(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["cache"]["inspections_cached"] == first["cache"]["readiness_cached"] == 0
    assert second["cache"]["readiness_cached"] == second["summary"]["total"] == 7
    assert second["cache"]["model_dirs_from_cache"] == second["cache"]["model_dirs_scanned"] > 0
    assert first["workflows"] == second["workflows"]


def test_demo_with_manager_catalog(installed_manager_catalogs: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", "--demo", "--out", str(tmp_path / "o"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["catalog_source"] and "comfyui_manager" in doc["catalog_source"]
    assert not any("catalogs not loaded" in n for n in doc["notes"])
    usdu = next(w for w in doc["workflows"] if w["name"] == "community/ultimate_sd_upscale_basic.json")
    pack = usdu["missing_node_types"][0]["packs"][0]
    assert "github.com/ssitu/comfyui_ultimatesdupscale" in pack["reference"].lower()
    model = usdu["missing_models"][0]
    assert model["filename"] == "4x-UltraSharp.pth" and model["url"] is None
    assert model["catalog_url"] and model["catalog_url"].startswith("https://")  # from the Manager's model list
    assert model["catalog_url"] in model["fix"]
