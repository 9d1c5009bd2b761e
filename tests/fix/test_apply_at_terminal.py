"""``apply`` at a real terminal without a token: the yes the user gives there is an approval, so it is
journaled as one (``apply --yes`` never approves itself off the record)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from terminal import run_in_terminal

from comfyfixer.agent.cli import run

DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.mark.skipif(not DEMO.is_dir(), reason="demo workspace not present")
def test_apply_yes_at_a_terminal_is_journaled_as_an_approval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wf = DEMO / "workflows" / "templates" / "image_sdxl_simple.json"
    assert run(["fix", str(wf), "--comfyui", str(DEMO / "ComfyUI"), "--no-resolve", "--no-pin", "--json"]) == 0
    plan_file = json.loads(capsys.readouterr().out)["plan_file"]
    env = {**os.environ, "COMFYFIXER_OFFLINE": "1", "TERM": "dumb"}

    code, out = run_in_terminal(["apply", plan_file, "--yes", "--no-recheck", "--dry-run"], env)
    assert code == 0, out  # a dry run needs no approval and records none
    journal = Path(os.environ["COMFYFIXER_HOME"]) / "state" / "journal.jsonl"
    assert not journal.exists() or '"approve"' not in journal.read_text(encoding="utf-8")

    code, out = run_in_terminal(["apply", plan_file, "--yes", "--no-recheck"], env)
    assert code == 0, out
    entries = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    kinds = [e.get("kind") or e.get("action") for e in entries]
    approvals = [e for e in entries if (e.get("kind") or e.get("action")) == "approve"]
    assert approvals, kinds
    assert approvals[-1]["inputs"]["via"] == "apply --yes"
    assert kinds.index("approve") < kinds.index("approval_used")
    assert "approve:" not in journal.read_text(encoding="utf-8"), "the token itself is never journaled"
