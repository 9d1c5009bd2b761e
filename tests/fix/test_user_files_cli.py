"""Through the CLI: `apply` tells the user which of their files were kept, and where the download went instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dlkit import MB

from comfyfixer.agent.cli import run
from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.tools.download import sha256_file


def test_apply_reports_kept_files_and_conflicts(server: FileServer, comfy: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COMFYFIXER_ALLOWED_HOSTS", "127.0.0.1,localhost")
    monkeypatch.setenv("COMFYFIXER_HTTP_RETRIES", "0")
    monkeypatch.setenv("COMFYFIXER_STATE_DIR", str(tmp_path / "state"))
    served = server.add_file("served_cli.safetensors", MB // 4, seed=51)
    (comfy / "models/checkpoints/cli.safetensors").write_bytes(b"the user's cli.safetensors")
    (comfy / "models/checkpoints/shared.safetensors").write_bytes(b"shared")
    saved = comfy / "user/default/workflows"
    saved.mkdir(parents=True)
    (saved / "A.json").write_text(json.dumps(
        {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "shared.safetensors"}}}))
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({
        "comfyui_dir": str(comfy),
        "models": [{"filename": "cli.safetensors", "folder": "checkpoints", "verdict": "RESOLVED", "candidates": [
            {"source": "hf", "url": server.direct_url(served.name), "sha256": served.sha256, "size": served.size}]}],
        "misplaced": [{"filename": "shared.safetensors", "found_in": "models/checkpoints/shared.safetensors",
                       "expected_folder": "diffusion_models"}],
    }))

    assert run(["fix", "--inputs", str(inputs), "--json"]) == 0
    plan_file = json.loads(capsys.readouterr().out)["plan_file"]
    assert run(["approve", plan_file, "--yes", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert run(["apply", plan_file, "--token", token, "--no-recheck"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console may wrap long lines
    assert "CONFLICT: models/checkpoints/cli.safetensors already holds a different file" in out
    assert "cli (comfyfixer 1).safetensors" in out
    assert "kept models/checkpoints/shared.safetensors because A.json loads it there" in out
    assert (comfy / "models/checkpoints/cli.safetensors").read_bytes() == b"the user's cli.safetensors"
    assert sha256_file(comfy / "models/checkpoints/cli (comfyfixer 1).safetensors") == served.sha256
    assert (comfy / "models/checkpoints/shared.safetensors").exists()
    assert (comfy / "models/diffusion_models/shared.safetensors").exists()
