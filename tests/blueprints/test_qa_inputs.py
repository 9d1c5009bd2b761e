"""A demanding user's inputs to ``schema build``: values JSON cannot hold, ``--into`` an image or a
broken file, and an ``--out`` that is not a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.tools.blueprints.capability import SchemaBuildInput, build_schema
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError

IMAGE = "images/corpus/comfyui/ComfyUI_examples__text_to_video_wan.webp"


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "cache", state_dir=tmp_path / "state", offline=True)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_a_float_json_cannot_hold_is_refused(ctx: ToolContext, value: str) -> None:
    with pytest.raises(InputError, match="must be a finite number"):
        build_schema(SchemaBuildInput(name="auto-inpaint", choices={"mask_grow": "grow_mask_with_blur"},
                                      parameters={"blur": value}), ctx)


def test_an_int_parameter_error_reads_well(ctx: ToolContext) -> None:
    with pytest.raises(InputError, match="must be an integer, not abc"):
        build_schema(SchemaBuildInput(name="auto-inpaint", parameters={"grow": "abc"}), ctx)


def test_into_an_image_composes_the_workflow_it_embeds(shared_data: Path, ctx: ToolContext, tmp_path: Path) -> None:
    image = shared_data / IMAGE
    res = build_schema(SchemaBuildInput(name="auto-inpaint", into=str(image)), ctx, out_dir=tmp_path, write=True)
    assert res.status == "BUILT"
    assert res.written == [str(tmp_path / "ComfyUI_examples__text_to_video_wan.v2.json")]
    assert isinstance(json.loads(Path(res.written[0]).read_text(encoding="utf-8"))["nodes"], list)


def test_into_broken_json_says_where(ctx: ToolContext, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"nodes": [{"id": 1, "type": "LoadImage"', encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON at line 1"):
        build_schema(SchemaBuildInput(name="auto-inpaint", into=str(broken)), ctx)


def test_out_onto_a_file_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    a_file = tmp_path / "taken"
    a_file.write_text("x", encoding="utf-8")
    assert run(["schema", "build", "auto-inpaint", "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_plan_without_a_comfyui_folder_stops_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    monkeypatch.delenv("COMFYFIXER_COMFYUI_DIR", raising=False)
    monkeypatch.setenv("COMFYFIXER_HOME", str(tmp_path / "home"))
    assert run(["schema", "build", "auto-inpaint", "--out", str(tmp_path / "wf"), "--plan"]) == 2
    assert "--comfyui" in capsys.readouterr().err and not (tmp_path / "wf").exists()


def test_an_empty_choice_is_shown_as_empty(ctx: ToolContext) -> None:
    with pytest.raises(InputError, match=r"role detector has no candidate \(empty\)"):
        build_schema(SchemaBuildInput(name="auto-inpaint", choices={"detector": ""}), ctx)
