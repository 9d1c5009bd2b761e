"""``tune``: copies that change only what the estimate needs, validate against the real object_info,
never overwrite, and come with variant suggestions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.fit.tune import TuneInput, next_version, tune_workflow

OBJECT_INFO = "comfyui/object_info.json"


@pytest.fixture
def ctx(tmp_path: Path, shared_data: Path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s", offline=True,
                       object_info_file=shared_data / OBJECT_INFO)


def _node(doc: dict, node_id: str) -> dict:
    inner = node_id.rsplit(":", 1)[-1]
    nodes = doc["nodes"] if ":" not in node_id else [n for sg in doc["definitions"]["subgraphs"] for n in sg["nodes"]]
    return next(n for n in nodes if str(n["id"]) == inner)


def test_hunyuan_video_for_8gb(templates_dir: Path, ctx: ToolContext, tmp_path: Path) -> None:
    src = templates_dir / "hunyuan_video_text_to_video.json"
    result = tune_workflow(TuneInput(path=str(src), vram_gb=8), ctx, out_dir=tmp_path / "out")
    assert result.written == str(tmp_path / "out" / "hunyuan_video_text_to_video.v2.json")
    assert result.validation_errors == []
    changed = {(c.class_type, c.input): c for c in result.changes}
    assert changed[("UNETLoader", "weight_dtype")].new == "fp8_e4m3fn"
    assert result.after.peak_bytes < result.before.peak_bytes * 0.65
    doc = json.loads(Path(result.written).read_text(encoding="utf-8"))
    loader = _node(doc, changed[("UNETLoader", "weight_dtype")].node_id)
    assert loader["widgets_values"][1] == "fp8_e4m3fn"
    # The copy's own estimate is the one reported, and variants say what would remove the streaming.
    again = run(["fit", result.written, "--vram", "8GB", "--json"])
    assert again == 0
    assert any(v.variant.startswith("GGUF Q4") and v.needs for v in result.variants)
    # The original is untouched and the next run takes the next free version.
    assert json.loads(src.read_text(encoding="utf-8")) != doc
    second = tune_workflow(TuneInput(path=str(src), vram_gb=8), ctx, out_dir=tmp_path / "out")
    assert second.written and second.written.endswith(".v3.json")


def test_tiled_decode_replaces_the_node_inside_a_subgraph(templates_dir: Path, ctx: ToolContext, tmp_path: Path) -> None:
    result = tune_workflow(TuneInput(path=str(templates_dir / "image_qwen_image.json"), vram_gb=8), ctx,
                           out_dir=tmp_path)
    [tiled] = [c for c in result.changes if c.input == "class_type"]
    assert (tiled.old, tiled.new) == ("VAEDecode", "VAEDecodeTiled") and result.validation_errors == []
    node = _node(json.loads(Path(result.written or "").read_text(encoding="utf-8")), tiled.node_id)
    assert node["type"] == "VAEDecodeTiled" and node["widgets_values"] == [512, 64, 64, 8]  # the schema's defaults
    assert result.after.tiled_decode


def test_nothing_to_change_writes_nothing(templates_dir: Path, ctx: ToolContext, tmp_path: Path) -> None:
    result = tune_workflow(TuneInput(path=str(templates_dir / "sdxl_simple_example.json"), vram_gb=12), ctx, out_dir=tmp_path)
    assert result.before.verdict == "FITS" and not result.changes and result.written is None
    assert list(tmp_path.iterdir()) == []


def test_dry_run_and_versions(templates_dir: Path, ctx: ToolContext, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    assert run(["tune", str(templates_dir / "flux_dev_full_text_to_image.json"), "--vram", "8GB", "--dry-run",
                "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "weight_dtype" in out and "dry run: nothing written" in out and list(tmp_path.iterdir()) == []
    (tmp_path / "wf.v2.json").write_text("{}")
    assert next_version(tmp_path / "wf.json") == tmp_path / "wf.v3.json"
    assert next_version(tmp_path / "wf.v3.json") == tmp_path / "wf.v4.json"
