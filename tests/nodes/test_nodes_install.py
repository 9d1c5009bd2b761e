"""``comfyfixer comfyui install-nodes`` → ``approve`` → ``apply``: the pack lands in custom_nodes as a link
(or a copy), once; a folder already there is left alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.agent.cli import run

PACK = Path(__file__).resolve().parents[2] / "comfyfixer_nodes"


@pytest.fixture
def comfy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COMFYFIXER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("COMFYFIXER_COMFYUI_PYTHON", raising=False)
    root = tmp_path / "ComfyUI"
    (root / "custom_nodes").mkdir(parents=True)
    (root / "models").mkdir()
    return root


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = run(list(args))
    out = capsys.readouterr().out
    assert code == 0, (args, out[-2000:])
    return json.loads(out)


def _install(capsys: pytest.CaptureFixture[str], comfy: Path, *extra: str) -> dict[str, Any]:
    plan = _cli(capsys, "comfyui", "install-nodes", "--comfyui", str(comfy), "--json", *extra)
    assert [a["kind"] for a in plan["actions"]] == ["link_node_pack"]
    ok = _cli(capsys, "approve", plan["plan_file"], "--yes", "--json")
    report: dict[str, Any] = _cli(capsys, "apply", ok["plan_file"], "--token", ok["token"], "--json", "--no-recheck")
    return report


def test_link_then_already_done(capsys: pytest.CaptureFixture[str], comfy: Path) -> None:
    target = comfy / "custom_nodes" / "comfyfixer_nodes"
    first = _install(capsys, comfy)
    assert [o["status"] for o in first["outcomes"]] == ["done"]
    assert target.is_symlink() and target.resolve() == PACK.resolve() and (target / "__init__.py").is_file()
    again = _install(capsys, comfy)
    assert [o["status"] for o in again["outcomes"]] == ["already_done"]


def test_copy_and_a_foreign_folder_is_left_alone(capsys: pytest.CaptureFixture[str], comfy: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    target = comfy / "custom_nodes" / "comfyfixer_nodes"
    report = _install(capsys, comfy, "--copy")
    assert [o["status"] for o in report["outcomes"]] == ["done"]
    assert not target.is_symlink() and (target / "capture.py").read_bytes() == (PACK / "capture.py").read_bytes()
    assert not (target / "__pycache__").exists()
    # Now a link is planned over the copy: the copy is the user's; apply must not replace it.
    other.mkdir()
    report = _install(capsys, comfy)
    (outcome,) = report["outcomes"]
    assert outcome["status"] == "left_alone" and "already exists" in outcome["message"]
    assert not target.is_symlink()


def test_dry_run_writes_no_plan(capsys: pytest.CaptureFixture[str], comfy: Path) -> None:
    plan = _cli(capsys, "comfyui", "install-nodes", "--comfyui", str(comfy), "--dry-run", "--json")
    assert plan["plan_file"] is None
    assert any("pip install -e" in w for w in plan["warnings"])
    assert not (comfy / "custom_nodes" / "comfyfixer_nodes").exists()


def _undo(capsys: pytest.CaptureFixture[str], plan_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    undo = _cli(capsys, "undo", plan_id, "--json")
    if not undo["actions"]:
        return undo, None
    ok = _cli(capsys, "approve", undo["plan_file"], "--yes", "--json")
    return undo, _cli(capsys, "apply", ok["plan_file"], "--token", ok["token"], "--json", "--no-recheck")


def test_undo_removes_the_link_and_keeps_the_pack(capsys: pytest.CaptureFixture[str], comfy: Path) -> None:
    target = comfy / "custom_nodes" / "comfyfixer_nodes"
    report = _install(capsys, comfy)
    undo, applied = _undo(capsys, report["plan_id"])
    assert [a["kind"] for a in undo["actions"]] == ["unlink_node_pack"]
    assert applied is not None and [o["status"] for o in applied["outcomes"]] == ["done"]
    assert not target.exists() and not target.is_symlink()
    assert (PACK / "__init__.py").is_file()  # the pack folder the link pointed to is untouched


def test_undo_quarantines_a_copy(capsys: pytest.CaptureFixture[str], comfy: Path) -> None:
    target = comfy / "custom_nodes" / "comfyfixer_nodes"
    report = _install(capsys, comfy, "--copy")
    undo, applied = _undo(capsys, report["plan_id"])
    assert [(a["kind"], a["what"]) for a in undo["actions"]] == [("quarantine", "pack")]
    assert applied is not None and [o["status"] for o in applied["outcomes"]] == ["done"]
    assert not target.exists()
    moved = Path(applied["outcomes"][0]["details"]["quarantined_to"])
    assert (moved / "capture.py").read_bytes() == (PACK / "capture.py").read_bytes()


def test_undo_leaves_a_relinked_folder_alone(capsys: pytest.CaptureFixture[str], comfy: Path, tmp_path: Path) -> None:
    target = comfy / "custom_nodes" / "comfyfixer_nodes"
    report = _install(capsys, comfy)
    elsewhere = tmp_path / "my_fork"
    elsewhere.mkdir()
    target.unlink()
    target.symlink_to(elsewhere, target_is_directory=True)  # the user pointed it at their own fork since
    undo, applied = _undo(capsys, report["plan_id"])
    assert applied is None and any("no longer links" in x for x in undo["left_alone"])
    assert target.is_symlink() and target.resolve() == elsewhere.resolve()


def test_undo_apply_rechecks_the_link(capsys: pytest.CaptureFixture[str], comfy: Path, tmp_path: Path) -> None:
    target = comfy / "custom_nodes" / "comfyfixer_nodes"
    report = _install(capsys, comfy)
    undo = _cli(capsys, "undo", report["plan_id"], "--json")
    ok = _cli(capsys, "approve", undo["plan_file"], "--yes", "--json")
    elsewhere = tmp_path / "my_fork"
    elsewhere.mkdir()
    target.unlink()
    target.symlink_to(elsewhere, target_is_directory=True)  # changed between approval and apply
    applied = _cli(capsys, "apply", ok["plan_file"], "--token", ok["token"], "--json", "--no-recheck")
    assert [o["status"] for o in applied["outcomes"]] == ["left_alone"]
    assert target.resolve() == elsewhere.resolve()
