"""The owner's schedule, driven by a fake clock against the loopback ComfyUI fake (real recorded
/system_stats): cycles run, skip (ComfyUI closed, VRAM below the threshold, another cycle running) and
resume after a simulated sleep exactly once; the state file and the reports say what happened."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from comfyfixer.agent.scheduler import STATE_FILE, Clock, Conditions, CycleLock, Scheduler
from comfyfixer.evals.fakes.comfyui_server import FakeComfyUI as _FakeComfyUI
from comfyfixer.evals.fakes.comfyui_server import load_recorded


class FakeComfyUI(_FakeComfyUI):
    poll_interval = 0.05  # these tests stop ComfyUI on purpose; stopping waits for one poll

H = 3600.0
T0 = 1_800_000_000.0  # a fixed wall-clock start


class FakeClock:
    """Wall and monotonic time that advance only when the scheduler sleeps; ``suspend(s)`` makes the next
    sleep also pass ``s`` seconds of wall time that the monotonic clock does not see (a suspended machine)."""

    def __init__(self) -> None:
        self.wall_t, self.mono_t = T0, 1000.0
        self.pending_suspend = 0.0
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.wall_t += s + self.pending_suspend
        self.mono_t += s
        self.pending_suspend = 0.0

    def suspend(self, s: float) -> None:
        self.pending_suspend = s

    def clock(self) -> Clock:
        return Clock(wall=lambda: self.wall_t, mono=lambda: self.mono_t, sleep=self.sleep)


@pytest.fixture(scope="module")
def stats(shared_data: Path) -> dict[str, Any]:
    return load_recorded(shared_data / "comfyui").system_stats


def _doc(n: int) -> dict[str, Any]:
    return {"workflows": [{"path": "a", "status": "missing" if n < 3 else "runnable"}], "summary": {"n": min(n, 3)}}


def _scheduler(tmp_path: Path, clock: FakeClock, url: str, **kw: Any) -> tuple[Scheduler, list[str]]:
    calls: list[str] = []

    def check() -> dict[str, Any]:
        calls.append("check")
        return _doc(len(calls))

    sched = Scheduler(check, lambda status: calls.append("write"), state_dir=tmp_path, every_s=int(2 * H),
                      conditions=Conditions(comfyui_url=url, require_comfyui=True, min_vram_free_mb=4096, timeout=2),
                      clock=clock.clock(), tick_s=60, **kw)
    return sched, calls


def test_runs_skips_and_resumes_after_sleep(tmp_path: Path, stats: dict[str, Any]) -> None:
    fake = FakeClock()
    comfy = FakeComfyUI(system_stats=stats).start()
    sched, calls = _scheduler(tmp_path, fake, comfy.url)
    try:
        first = sched.run(cycles=1)[0]
        assert first.ran and first.at == T0 and calls == ["check", "write"]

        comfy.stop()  # ComfyUI closed at the next cycle
        closed = sched.run(cycles=1)[0]
        assert not closed.ran and closed.at == T0 + 2 * H and closed.reason.startswith("ComfyUI closed")

        busy = copy.deepcopy(stats)
        busy["devices"][0]["vram_free"] = 512 * 2**20  # 512 MB free, 4096 needed
        comfy = FakeComfyUI(system_stats=busy).start()
        sched.conditions.comfyui_url = comfy.url
        low = sched.run(cycles=1)[0]
        assert not low.ran and low.at == T0 + 4 * H
        assert low.reason == "VRAM busy: 512 MB free, 4,096 MB needed"
        comfy.system_stats = stats  # the generation finished: VRAM is free again
        again = sched.run(cycles=1)[0]
        assert again.ran and again.at == T0 + 6 * H and not again.after_sleep

        # The machine sleeps 5 h right after: the 8 h and 10 h cycles are missed; one runs on wake.
        fake.suspend(5 * H)
        woke = sched.run(cycles=1)[0]
        assert woke.ran and woke.after_sleep and woke.at == T0 + 6 * H + 60 + 5 * H
        after = sched.run(cycles=1)[0]
        assert after.ran and not after.after_sleep and after.at == woke.at + 2 * H
        assert calls.count("check") == 4  # no burst of catch-up runs
    finally:
        comfy.stop()
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert [c["ran"] for c in state["cycles"]] == [True, False, False, True, True, True]
    assert [c["after_sleep"] for c in state["cycles"]].count(True) == 1
    assert state["next_due"] == after.at + 2 * H


def test_a_missed_cycle_can_wait_for_the_next_interval(tmp_path: Path, stats: dict[str, Any]) -> None:
    fake = FakeClock()
    with FakeComfyUI(system_stats=stats) as comfy:
        sched, calls = _scheduler(tmp_path, fake, comfy.url, run_missed_on_wake=False)
        sched.run(cycles=1)
        fake.suspend(5 * H)
        nxt = sched.run(cycles=1)[0]
    wake = T0 + 60 + 5 * H
    assert nxt.ran and not nxt.after_sleep and nxt.at == wake + 2 * H and calls.count("check") == 2


def test_skipped_cycle_is_shown_in_state_and_reports(tmp_path: Path, stats: dict[str, Any]) -> None:
    fake = FakeClock()
    shown: list[str] = []
    with FakeComfyUI(system_stats=stats) as comfy:
        sched, _ = _scheduler(tmp_path, fake, comfy.url)
        sched.show = shown.append
        sched.run(cycles=1)
    closed = sched.run(cycles=1)[0]  # the fake is gone
    state = json.loads((tmp_path / STATE_FILE).read_text())
    hhmm = datetime.fromtimestamp(closed.at).strftime("%H:%M")
    nxt = datetime.fromtimestamp(closed.at + 2 * H).strftime("%H:%M")
    assert sched.state.status_line(closed.at) == f"last checked 2 h ago; skipped {hhmm}: {closed.reason}; next {nxt}"
    assert shown[-1].startswith("last checked 2 h ago; skipped ") and "ComfyUI closed" in state["status"]


def test_lock_keeps_cycles_apart_and_stale_locks_are_taken_over(tmp_path: Path) -> None:
    held = CycleLock(tmp_path / "schedule.lock", clock=lambda: T0)
    assert held.acquire() is None
    sched = Scheduler(lambda: _doc(1), lambda s: None, state_dir=tmp_path,
                      conditions=Conditions(require_comfyui=False), clock=FakeClock().clock())
    busy = sched.run_cycle()
    assert not busy.ran and busy.reason is not None and busy.reason.startswith("another cycle is running (pid ")
    held.release()
    # A lock left by a process that is gone does not block the schedule.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "schedule.lock").write_text(json.dumps({"pid": int(dead.stdout), "since": T0}))
    assert sched.run_cycle().ran and not (tmp_path / "schedule.lock").exists()
