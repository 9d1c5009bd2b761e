"""An unchanged ``check --json`` replayed from its stored answer (``agent/recheck.py``), and every change
that must stop the replay: a model file, a workflow, a pack, a setting, the catalogs' refresh, a damaged file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from comfyfixer.agent import recheck
from comfyfixer.agent.cli import run

DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    shutil.copytree(DEMO / "workflows", tmp_path / "workflows")
    shutil.copytree(DEMO / "ComfyUI", tmp_path / "ComfyUI")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    return tmp_path / "workflows", tmp_path / "ComfyUI"


def _argv(wf: Path, comfy: Path) -> list[str]:
    return ["check", str(wf), "--comfyui", str(comfy), "--json"]


def _record(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    with recheck.recording(argv) as rec:
        code = run(argv)
        rec.finish(code)
    assert code == 0
    return json.loads(capsys.readouterr().out)


def _replay(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict | None:  # type: ignore[type-arg]
    code = recheck.replay(argv)
    out = capsys.readouterr().out
    if code is None:
        assert out == ""
        return None
    return json.loads(out)


def _same(a: dict, b: dict) -> bool:  # type: ignore[type-arg]
    drop = ("generated_at",)
    return {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


def test_an_unchanged_check_is_replayed_and_matches_the_real_one(workspace: tuple[Path, Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    wf, comfy = workspace
    argv = _argv(wf, comfy)
    assert _replay(argv, capsys) is None  # nothing stored yet
    first = _record(argv, capsys)
    again = _replay(argv, capsys)
    assert again is not None and _same(again, first)
    assert again["generated_at"] >= first["generated_at"]
    # Forms a replay cannot witness are never stored nor replayed.
    for other in (["check", str(wf), "--comfyui", str(comfy)], [*argv, "--out", "o"], [*argv, "--hashes"],
                  [*argv, "-v"], ["check", "--demo", "--json"]):
        assert recheck.replay(other) is None


@pytest.mark.parametrize("change", ["model", "hidden_model", "workflow", "new_workflow", "pack", "setting", "yaml"])
def test_a_change_stops_the_replay(workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    wf, comfy = workspace
    (comfy / "models" / "loras" / ".sub").mkdir(parents=True)  # a hidden folder the model scan reads
    argv = _argv(wf, comfy)
    first = _record(argv, capsys)
    assert _replay(argv, capsys) is not None
    if change == "model":
        missing = next(m for w in first["workflows"] for m in w["missing_models"] if m["folder"])
        target = comfy / "models" / missing["folder"] / missing["filename"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"w")
    elif change == "hidden_model":  # only the hidden folder changes, not its parent
        (comfy / "models" / "loras" / ".sub" / "x.safetensors").write_bytes(b"w")
    elif change == "workflow":
        victim = next(wf.rglob("*.json"))
        victim.write_text(victim.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    elif change == "new_workflow":
        shutil.copy(next(wf.rglob("*.json")), wf / "copy.json")
    elif change == "pack":
        (comfy / "custom_nodes" / "new_pack").mkdir()
        (comfy / "custom_nodes" / "new_pack" / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    elif change == "setting":
        monkeypatch.setenv("COMFYFIXER_HISTORY_MAX_VERSIONS", "5")
    elif change == "yaml":
        (comfy / "extra_model_paths.yaml").write_text("other:\n  base_path: /nowhere\n  loras: loras\n")
    assert _replay(argv, capsys) is None
    after = _record(argv, capsys)  # the real check runs and its new answer is replayed next time
    replayed = _replay(argv, capsys)
    if change == "yaml":  # the folders a yaml adds are not witnessed: such a check always runs
        assert replayed is None
        return
    assert replayed is not None and _same(replayed, after)
    if change in ("model", "new_workflow"):
        assert not _same(after, first)


def test_catalogs_due_for_refresh_stop_the_replay(workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Online with automatic refresh, an answer lasts only until the catalogs are due (here: a failed
    download's retry time)."""
    wf, comfy = workspace
    monkeypatch.delenv("COMFYFIXER_OFFLINE")
    monkeypatch.setenv("COMFYFIXER_CATALOGS_MAX_AGE_HOURS", "24")
    monkeypatch.setenv("COMFYFIXER_CATALOGS_URL", "http://127.0.0.1:9/none")  # refused at once
    argv = _argv(wf, comfy)
    _record(argv, capsys)
    assert _replay(argv, capsys) is not None
    stored = next((Path(os.environ["COMFYFIXER_HOME"]) / "cache" / recheck.FOLDER).glob("*.json"))
    doc = json.loads(stored.read_text(encoding="utf-8"))
    assert doc["expires"] is not None
    monkeypatch.setattr(recheck.time, "time", lambda: doc["expires"] + 1)
    assert _replay(argv, capsys) is None


@pytest.mark.parametrize("damage", ["meta", "document", "huge"])
def test_a_damaged_stored_answer_is_not_replayed(workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    wf, comfy = workspace
    argv = _argv(wf, comfy)
    _record(argv, capsys)
    meta = next((Path(os.environ["COMFYFIXER_HOME"]) / "cache" / recheck.FOLDER).glob("*.json"))
    if damage == "meta":
        meta.write_text(json.dumps({**json.loads(meta.read_text(encoding="utf-8")), "exit": "0"}))
    elif damage == "document":
        out = meta.with_suffix(".out")
        out.write_text(out.read_text(encoding="utf-8").replace("missing", "runnable"), encoding="utf-8")
    else:
        monkeypatch.setattr(recheck, "MAX_FILE_BYTES", 100)
    assert _replay(argv, capsys) is None


def test_the_console_script_replays_without_importing_the_cli(workspace: tuple[Path, Path]) -> None:
    wf, comfy = workspace
    code = ("import sys\nsys.argv = ['comfyfixer', *sys.argv[1:]]\nfrom comfyfixer.agent.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    print('LOADED:' + ','.join(m for m in ('typer', 'pydantic', "
            "'comfyfixer.tools.readiness') if m in sys.modules), file=sys.stderr)\n    raise\n")
    runs = [subprocess.run([sys.executable, "-c", code, *_argv(wf, comfy)], capture_output=True, text=True,
                           check=True, env={**os.environ}) for _ in range(2)]
    assert "LOADED:pydantic,comfyfixer.tools.readiness" in runs[0].stderr  # the plain form runs without typer
    assert runs[1].stderr.strip().splitlines()[-1] == "LOADED:"
    assert _same(json.loads(runs[0].stdout), json.loads(runs[1].stdout))


def test_a_replayed_answer_stays_inert(workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Stored answers are written inert: an escape sequence planted in the stored files reaches the terminal
    as a visible escape."""
    import hashlib

    wf, comfy = workspace
    argv = _argv(wf, comfy)
    _record(argv, capsys)
    meta = next((Path(os.environ["COMFYFIXER_HOME"]) / "cache" / recheck.FOLDER).glob("*.json"))
    out = meta.with_suffix(".out")
    planted = out.read_text(encoding="utf-8").replace('"missing"', '"\x1b[2Jmissing"', 1).encode()
    out.write_bytes(planted)
    doc = json.loads(meta.read_text(encoding="utf-8"))
    meta.write_text(json.dumps({**doc, "stdout_sha256": hashlib.sha256(planted).hexdigest(), "stderr": "\x1b]0;x\x07"}))
    assert recheck.replay(argv) == 0
    printed = capsys.readouterr()
    assert "\x1b" not in printed.out and "\x1b" not in printed.err
    assert "\\u001b[2Jmissing" in printed.out
