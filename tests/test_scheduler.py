"""The readiness schedule: re-runs, rewrites only on change, survives a failing run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.agent.scheduler import cron_line, parse_interval, results_fingerprint, run_schedule
from comfyfixer.tools.errors import InputError


def test_parse_interval() -> None:
    assert parse_interval("90s") == 90 and parse_interval("30m") == 1800 and parse_interval("2h") == 7200
    assert parse_interval("120") == 120
    for bad in ("soon", "5s", "-3m"):
        with pytest.raises(InputError, match=r"interval .*\((use a number|use at least)"):
            parse_interval(bad)


def test_writes_only_when_results_change_and_survives_errors() -> None:
    docs = [
        {"workflows": [{"path": "a", "status": "missing", "checked_at": "t1"}], "summary": {"missing": 1}},
        {"workflows": [{"path": "a", "status": "missing", "checked_at": "t2"}], "summary": {"missing": 1}},
        RuntimeError("ComfyUI folder vanished"),
        {"workflows": [{"path": "a", "status": "runnable", "checked_at": "t3"}], "summary": {"runnable": 1}},
    ]
    writes: list[int] = []
    slept: list[float] = []

    def check() -> dict:  # type: ignore[type-arg]
        item = docs.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    records = run_schedule(check, lambda: writes.append(1), 60, runs=4, sleep=slept.append)
    assert [r.changed for r in records] == [True, False, False, True]
    assert len(writes) == 2
    assert "error" in records[2].summary
    assert len(slept) == 3 and all(0 <= s <= 60 for s in slept)


def test_fingerprint_ignores_time() -> None:
    a = {"workflows": [{"path": "x", "status": "runnable", "generated_at": "1"}], "summary": {"total": 1}}
    b = {"workflows": [{"path": "x", "status": "runnable", "generated_at": "2"}], "summary": {"total": 1}}
    assert results_fingerprint(a) == results_fingerprint(b)


def test_cron_line() -> None:
    assert cron_line(1800, ["wf", "--out", "/r"]).startswith("*/30 * * * * ")
    assert cron_line(7200, ["wf"]).startswith("0 */2 * * * ")
    assert " check wf " in cron_line(7200, ["wf"])


def test_schedule_command_on_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two one-shot cycles (as the OS service runs them) keep the cadence and the fingerprint in the state
    file; a third, skipped because ComfyUI is closed, shows in the index and dashboard."""
    from comfyfixer.agent.commands.check import demo_dir

    demo = demo_dir()
    out = tmp_path / "out"
    base = ["schedule", str(demo / "workflows"), "--comfyui", str(demo / "ComfyUI"), "--out", str(out), "--once",
            "--no-discover", "--json"]
    runs = []
    for _ in range(2):
        assert run([*base, "--no-require-comfyui"]) == 0
        runs += json.loads(capsys.readouterr().out)["runs"]
    assert [r["changed"] for r in runs] == [True, False] and all(r["ran"] for r in runs)
    index = json.loads((out / "reports" / "workflows" / "index.json").read_text())
    assert index["summary"] == runs[0]["summary"]
    assert any(n.startswith("Schedule: last checked just now") for n in index["notes"])
    assert (out / "dashboard" / "index.html").is_file()

    # Nothing answers at this URL: the cycle is skipped and the reports say so.
    assert run([*base, "--comfyui-url", "http://127.0.0.1:9"]) == 0
    skipped = json.loads(capsys.readouterr().out)["runs"][0]
    assert not skipped["ran"] and skipped["reason"].startswith("ComfyUI closed")
    index = json.loads((out / "reports" / "workflows" / "index.json").read_text())
    note = [n for n in index["notes"] if n.startswith("Schedule: ")]
    assert len(note) == 1 and "skipped" in note[0] and "ComfyUI closed" in note[0]
    assert "ComfyUI closed" in (out / "reports" / "workflows" / "index.md").read_text()
    assert "ComfyUI closed" in (out / "dashboard" / "index.html").read_text()
