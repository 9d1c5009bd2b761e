"""``comfyfixer image read`` in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> Path:
    return shared_data / "images" / "corpus"


def test_json_single_file(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["image", "read", str(corpus / "a1111" / "sd-metadata__sd-webui.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["generator"] == "A1111" and out["seed"] == 3782896554 and out["sampler"] == "dpmpp_2m"
    assert out["model"] == {"name": "waiIllustriousSDXL_v160", "hashes": {"AutoV2": "45a21ea00a"}}
    assert set(out) >= {"path", "prompt", "negative_prompt", "steps", "cfg", "scheduler", "width", "height", "loras",
                        "has_workflow", "has_prompt_graph", "raw", "error"}


def test_json_folder_is_a_list_and_bad_files_do_not_stop_it(corpus: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    good = (corpus / "comfyui" / "sd-metadata__comfyui.png").read_bytes()
    (tmp_path / "good.png").write_bytes(good)
    (tmp_path / "cut.png").write_bytes(good[:200])
    (tmp_path / "noext").write_bytes(good)  # found by magic bytes
    (tmp_path / "notes.txt").write_text("not an image")
    assert run(["image", "read", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {Path(r["path"]).name: r for r in rows}
    assert set(by_name) == {"good.png", "cut.png", "noext"}
    assert by_name["good.png"]["generator"] == "ComfyUI" and by_name["good.png"]["has_workflow"] is True
    assert by_name["noext"]["seed"] == 422847914351919
    assert by_name["cut.png"]["error"]


def test_negative_control_human_output(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["image", "read", str(corpus / "none" / "sd-metadata__gimp.png"), str(corpus / "novelai" / "sd-metadata__novelai-full.png")]) == 0
    out = capsys.readouterr().out
    assert "no metadata" in out and "NovelAI" in out and "2043807047" in out


def test_missing_path_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["image", "read", str(tmp_path / "nope.png")]) == 2
    assert "not found" in capsys.readouterr().err


def test_graph_import_stays_light() -> None:
    code = ("import sys, comfyfixer.tools.imagemeta as m; m.read_embedded_graphs; "
            "print(sorted(x for x in ('numpy', 'PIL', 'comfyfixer.tools.imagemeta.reader') if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
