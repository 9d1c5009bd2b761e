"""prepare → approve → submit: nothing is sent without a token, a token works once, all is journaled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recorded import Replayer

from comfyfixer.agent.cli import run
from comfyfixer.agent.journal import read_journal


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_prepare_approve_submit(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str], replay: Replayer) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", "rp-test-key")
    wf = shared_data / "comfyui" / "template_2_pass_pose_worship.json"
    assert run(["runpod", "prepare", str(wf), "--endpoint", "test-endpoint", "--json"]) == 0
    prepared = _json(capsys)
    job_file = prepared["job_file"]
    assert prepared["models_needed"] and prepared["endpoint_id"] == "test-endpoint"

    # Without a token nothing is sent (no cassette is active: any request would fail the test).
    assert run(["runpod", "submit", job_file, "--token", "approve:" + "0" * 64 + ":" + "x" * 20, "--json"]) == 2
    assert "different plan" in capsys.readouterr().err

    assert run(["runpod", "approve", job_file, "--yes", "--json"]) == 0
    token = _json(capsys)["token"]
    assert run(["runpod", "submit", job_file, "--token", token, "--dry-run", "--json"]) == 0
    assert _json(capsys)["dry_run"] is True

    out = tmp_path / "out"
    with replay("runpod_run_and_complete.yaml") as cas:
        monkeypatch.setattr("time.sleep", lambda s: None)
        assert run(["runpod", "submit", job_file, "--token", token, "--out", str(out), "--json"]) == 0
        assert cas.all_played
    result = _json(capsys)
    assert result["status"] == "COMPLETED" and Path(result["files"][0]).read_bytes().startswith(b"\x89PNG")

    assert run(["runpod", "submit", job_file, "--token", token, "--json"]) == 2  # single use
    assert "already used" in capsys.readouterr().err

    from comfyfixer.agent.config import load_settings

    actions = [e["action"] for e in read_journal(load_settings().state_dir)]
    assert actions == ["runpod.submit", "runpod.result"]
    assert "rp-test-key" not in json.dumps(read_journal(load_settings().state_dir))


def test_edited_job_file_voids_the_token(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wf = shared_data / "comfyui" / "template_2_pass_pose_worship.json"
    run(["runpod", "prepare", str(wf), "--endpoint", "e2", "--json"])
    job_file = Path(_json(capsys)["job_file"])
    run(["runpod", "approve", str(job_file), "--yes", "--json"])
    token = _json(capsys)["token"]
    job_file.write_text(job_file.read_text().replace('"e2"', '"e3"'))
    assert run(["runpod", "submit", str(job_file), "--token", token, "--json"]) == 2
    err = capsys.readouterr().err
    assert "does not match its id" in err or "changed" in err
