from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run


def test_inspect_json_shape(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wf = shared_data / "comfyui" / "template_image_qwen_image_edit_2509_subgraph.json"
    assert run(["inspect", str(wf), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"path", "format", "node_types", "models", "custom_nodes", "parameters", "warnings"}
    assert out["format"] == "ui"
    assert all(set(m) >= {"filename", "folder", "node_id", "input", "url"} for m in out["models"])
    assert any(m["url"] for m in out["models"])


def test_inspect_with_object_info_file(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wf = shared_data / "comfyui" / "template_2_pass_pose_worship.json"
    oi = shared_data / "comfyui" / "object_info.json"
    assert run(["inspect", str(wf), "--object-info", str(oi), "--json"]) == 0
    assert "object_info file" in json.loads(capsys.readouterr().out)["schema_source"]


def test_inspect_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{")
    assert run(["inspect", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert "invalid JSON" in captured.err
    # --json still prints one JSON document: the error, its kind and the exit code.
    doc = json.loads(captured.out)
    assert doc["status"] == "ERROR" and doc["kind"] == "WorkflowFormatError" and doc["exit_code"] == 2
    assert "invalid JSON" in doc["error"]


def test_a_usage_error_with_json_is_a_json_document_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inspect", "--json", "--no-such-flag"]) == 2
    captured = capsys.readouterr()
    assert "No such option" in captured.err
    assert json.loads(captured.out) == {"status": "ERROR", "error": "No such option: --no-such-flag", "hint": None,
                                        "kind": "UsageError", "exit_code": 2}


def test_inspect_against_a_live_comfyui(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from comfyfixer.evals.fakes.comfyui_server import FakeComfyUI

    wf = shared_data / "comfyui" / "template_2_pass_pose_worship.json"
    with FakeComfyUI(data_dir=shared_data / "comfyui") as server:
        assert run(["inspect", str(wf), "--object-info", server.url, "--json"]) == 0
        paths = [r[1] if isinstance(r, tuple) else r for r in server.requests]
    out = json.loads(capsys.readouterr().out)
    assert out["schema_source"].startswith("live ComfyUI")
    assert any("/object_info" in str(p) for p in paths)


def test_unreachable_comfyui_is_a_clear_error(capsys: pytest.CaptureFixture[str], shared_data: Path) -> None:
    wf = shared_data / "comfyui" / "template_2_pass_pose_worship.json"
    assert run(["inspect", str(wf), "--object-info", "http://127.0.0.1:9", "--json"]) == 2
    assert "did not answer" in capsys.readouterr().err
