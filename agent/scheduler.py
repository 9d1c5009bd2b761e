"""Keep readiness reports current: the owner's schedule (every 2 h, only when ComfyUI is open, enough VRAM
is free and the machine is awake), rewriting reports when results change.

Used by ``comfyfixer schedule`` (``agent/commands/schedule.py``). Two loops live here:

* :class:`Scheduler` — the conditional one. Each cycle first checks its conditions (ComfyUI answers
  ``/system_stats``; the largest ``vram_free`` of its devices is at least the threshold) and takes a
  :class:`CycleLock`, so two cycles (a foreground loop and a service run, say) never overlap. A cycle
  that cannot run is *skipped* with its reason. Due times are kept on the wall clock and the loop sleeps
  in short ticks, comparing wall-clock and monotonic progress: a tick in which the wall clock jumped far
  ahead of the monotonic one means the machine slept, and the cycle missed meanwhile runs once on wake
  (never one per missed interval). Every cycle, run or skipped, is recorded in ``schedule_state.json``
  next to the reports, which carry its one-line summary ("last checked 2 h ago; skipped 14:00: ComfyUI
  closed") in their notes. Clock, sleep and the ComfyUI probe are injected, so tests drive it with a fake
  clock.
* :func:`run_schedule` — the plain interval loop of earlier releases (no conditions, no lock), kept for
  callers that want exactly that. :func:`cron_line` gives a crontab entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.paths import atomic_write

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_S = 10


def parse_interval(text: str) -> int:
    """``90s``, ``30m``, ``2h``, ``1d`` (or plain seconds) → seconds.

    One number and one unit only (no ``1h30m``). Raises ``InputError`` for text it cannot read and for
    anything under ``MIN_INTERVAL_S`` (10 s), which would hammer ComfyUI and the remote APIs.
    """
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if not m:
        raise InputError(f"cannot read the interval {text!r}", hint="use a number with s, m, h or d, e.g. 30m")
    seconds = int(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds < MIN_INTERVAL_S:
        raise InputError(f"an interval of {seconds}s is too short", hint=f"use at least {MIN_INTERVAL_S}s")
    return seconds


def results_fingerprint(doc: dict[str, Any]) -> str:
    """What a check found, without when it ran: equal fingerprints mean the reports would not change.

    Drops each workflow's ``checked_at``, ``generated_at`` and ``report`` keys and hashes the rest with the
    ``summary`` as sorted JSON (sha256 hex).
    """
    workflows = [{k: v for k, v in w.items() if k not in ("checked_at", "generated_at", "report")}
                 for w in doc.get("workflows", [])]
    canonical = json.dumps({"workflows": workflows, "summary": doc.get("summary")}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class RunRecord:
    """One scheduled run: ``at`` (UTC ISO start), whether the results ``changed`` (so reports were written),
    the check's ``summary`` (or ``{"error": ...}`` when the run failed) and its duration in ``seconds``.
    """
    at: str
    changed: bool
    summary: dict[str, Any]
    seconds: float


def run_schedule(
    check: Callable[[], dict[str, Any]],
    write: Callable[[], None],
    every_s: int,
    *,
    runs: int | None = None,
    on_run: Callable[[RunRecord], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[RunRecord]:
    """Run ``check`` now and every ``every_s`` seconds (``runs`` times, or until interrupted).

    ``write`` is called after the first run and whenever the fingerprint of the results changes.
    A failing run (``check`` or ``write`` raising) is logged and recorded, and the schedule goes on; the
    next run then compares against the last *successful* fingerprint. The interval is measured from the
    start of a run, so a slow check does not drift the schedule (a check longer than the interval starts
    the next one at once). ``on_run`` sees each :class:`RunRecord` as it is made. ``KeyboardInterrupt``
    propagates to the caller. Returns the records of all runs.
    """
    sleep = sleep or time.sleep
    records: list[RunRecord] = []
    last: str | None = None
    n = 0
    while runs is None or n < runs:
        started = clock()
        try:
            doc = check()
            fp = results_fingerprint(doc)
            changed = fp != last
            if changed:
                write()
                last = fp
            rec = RunRecord(datetime.now(UTC).isoformat(timespec="seconds"), changed, dict(doc.get("summary") or {}),
                            round(clock() - started, 3))
        except Exception as exc:  # one bad run must not end the schedule
            log.warning("scheduled check failed: %s", exc)
            rec = RunRecord(datetime.now(UTC).isoformat(timespec="seconds"), False, {"error": str(exc)},
                            round(clock() - started, 3))
        records.append(rec)
        if on_run is not None:
            on_run(rec)
        n += 1
        if runs is not None and n >= runs:
            break
        # Measured from the run's start, so a slow check does not push every later run back.
        sleep(max(0.0, every_s - (clock() - started)))
    return records


def cron_line(every_s: int, check_args: list[str]) -> str:
    """A crontab entry that runs the same check at about the same interval.

    Cron cannot express every interval: under an hour it is every N minutes (rounded down, at least 1),
    under a day every N hours on the hour, and a day or more runs daily at 03:00. The executable is the
    resolved path of the running ``comfyfixer`` so cron's bare ``PATH`` finds it; output is discarded
    because the reports are the result.
    """
    # Cron's finest unit is the minute.
    minutes = max(1, every_s // 60)
    if minutes < 60:
        when = f"*/{minutes} * * * *"
    elif minutes < 1440:
        when = f"0 */{max(1, minutes // 60)} * * *"
    else:
        when = "0 3 * * *"
    exe = shlex.quote(str(Path(sys.argv[0]).resolve())) if sys.argv and sys.argv[0] else "comfyfixer"
    return f"{when} {exe} check {' '.join(shlex.quote(a) for a in check_args)} >/dev/null 2>&1"


# --- the owner's schedule ---------------------------------------------------------------------------------

STATE_FILE = "schedule_state.json"
LOCK_FILE = "schedule.lock"
DEFAULT_EVERY_S = 2 * 3600
_KEEP_CYCLES = 20


@dataclass
class Clock:
    """Where the scheduler gets time from: ``wall`` (epoch seconds; jumps forward over a suspend),
    ``mono`` (does not advance while the machine sleeps) and ``sleep``. Tests pass a fake."""
    wall: Callable[[], float] = time.time
    mono: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Conditions:
    """When a cycle may run, each from a setting: ``require_comfyui`` (``comfyui_url`` must answer
    ``/system_stats``) and ``min_vram_free_mb`` (the largest free VRAM of ComfyUI's devices; 0 = any).
    ``probe`` fetches ``/system_stats`` (None when ComfyUI does not answer); the default uses the shared
    HTTP client."""
    comfyui_url: str | None = None
    require_comfyui: bool = True
    min_vram_free_mb: int = 0
    timeout: float = 5.0
    probe: Callable[[str, float], dict[str, Any] | None] | None = None

    def skip_reason(self) -> str | None:
        """Why a cycle must not run now, or None when it may."""
        if not self.require_comfyui and self.min_vram_free_mb <= 0:
            return None
        probe = self.probe or probe_system_stats
        stats = probe(self.comfyui_url, self.timeout) if self.comfyui_url else None
        if stats is None:
            where = self.comfyui_url or "no comfyui_url set"
            if self.require_comfyui:
                return f"ComfyUI closed ({where})"
            return f"free VRAM unknown: ComfyUI closed ({where})"
        if self.min_vram_free_mb > 0:
            free = [d.get("vram_free") for d in stats.get("devices") or [] if isinstance(d, dict)]
            known = [int(v) for v in free if isinstance(v, int | float)]
            if not known:
                return "free VRAM unknown: ComfyUI reports no devices"
            best = max(known) / 2**20
            if best < self.min_vram_free_mb:
                return f"VRAM busy: {best:,.0f} MB free, {self.min_vram_free_mb:,} MB needed"
        return None


def probe_system_stats(url: str, timeout: float) -> dict[str, Any] | None:
    """ComfyUI's ``/system_stats`` at ``url``, or None when it does not answer with JSON (closed, starting,
    not ComfyUI). One quick request, no retries: a closed ComfyUI is the common case, not an error."""
    from comfyfixer.tools.http import build_client

    try:
        with build_client(timeout=timeout) as client:
            resp = client.get(url.rstrip("/") + "/system_stats")
            if resp.status_code != 200:
                return None
            doc = resp.json()
    except Exception as exc:  # refused, timed out, not JSON: all mean "not open"
        log.debug("ComfyUI at %s did not answer /system_stats: %s", url, exc)
        return None
    return doc if isinstance(doc, dict) else None


class CycleLock:
    """An exclusive lock file (``O_CREAT | O_EXCL``) holding the owner's pid and start time.

    A lock whose process is gone, or older than ``stale_after_s``, is taken over (a crashed cycle must
    not stop the schedule forever). Works the same on every OS: no ``fcntl``/``msvcrt`` needed.
    """

    def __init__(self, path: Path, *, stale_after_s: float = 6 * 3600, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.held = False

    def holder(self) -> dict[str, Any] | None:
        """The current lock file's content (pid, since), or None when there is none or it is unreadable."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def _stale(self, doc: dict[str, Any] | None) -> bool:
        if doc is None:
            return True  # half-written or unreadable: its writer died between create and write
        if self.clock() - float(doc.get("since", 0)) > self.stale_after_s:
            return True
        pid = int(doc.get("pid", 0))
        if pid <= 0:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # exists but not ours (PermissionError), or Windows quirks: treat as alive
            return False
        return False

    def acquire(self) -> str | None:
        """Take the lock; returns None on success or why it is busy ("another cycle is running (pid N)")."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                doc = self.holder()
                if not self._stale(doc):
                    return f"another cycle is running (pid {doc.get('pid') if doc else '?'})"
                log.info("taking over a stale schedule lock %s (%s)", self.path, doc)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"pid": os.getpid(), "since": self.clock()}, fh)
            self.held = True
            return None
        return "could not take the schedule lock"

    def release(self) -> None:
        """Remove the lock file if this object holds it."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


@dataclass
class Cycle:
    """One scheduled cycle: ``at`` (epoch seconds, wall clock), whether it ``ran`` or was skipped and
    why (``reason``), whether results ``changed`` (reports written), the check's ``summary`` (or
    ``{"error": ...}``), its duration in ``seconds`` and whether it is the run made on waking
    (``after_sleep``)."""
    at: float
    ran: bool
    reason: str | None = None
    changed: bool = False
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    after_sleep: bool = False

    @property
    def at_iso(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds")


def _ago(seconds: float) -> str:
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _clock_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M")  # the owner's local time, as on their wall


@dataclass
class ScheduleState:
    """``schedule_state.json``: the cadence, when the next cycle is due, when results were last checked,
    the last results fingerprint and the most recent cycles (newest last). Read by the reports and by the
    next process (a service run) so a restart keeps the cadence."""
    every_s: int = DEFAULT_EVERY_S
    next_due: float = 0.0
    last_checked: float | None = None
    fingerprint: str | None = None
    cycles: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> ScheduleState:
        """The state in ``path``, or a fresh one (due at once) when it is missing or unreadable."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**{k: doc[k] for k in ("every_s", "next_due", "last_checked", "fingerprint", "cycles")
                          if k in doc})
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, path: Path) -> None:
        atomic_write(Path(path), json.dumps({**asdict(self), "status": self.status_line(time.time())}, indent=1))

    def record(self, cycle: Cycle) -> None:
        entry = asdict(cycle)
        entry["at_iso"] = cycle.at_iso
        self.cycles = [*self.cycles, entry][-_KEEP_CYCLES:]
        if cycle.ran and "error" not in cycle.summary:
            self.last_checked = cycle.at

    def status_line(self, now: float) -> str:
        """The line the dashboard and index show: "last checked 2 h ago; skipped 14:00: ComfyUI closed"."""
        parts = [f"last checked {_ago(now - self.last_checked)}" if self.last_checked is not None
                 else "not checked yet"]
        last = self.cycles[-1] if self.cycles else None
        if last is not None and not last.get("ran"):
            parts.append(f"skipped {_clock_time(float(last['at']))}: {last.get('reason')}")
        elif last is not None and "error" in (last.get("summary") or {}):
            parts.append(f"failed {_clock_time(float(last['at']))}: {last['summary']['error']}")
        if self.next_due:
            parts.append(f"next {_clock_time(self.next_due)}")
        return "; ".join(parts)


class Scheduler:
    """The owner's schedule around one ``check`` (returns the readiness JSON document).

    ``write(status)`` regenerates the reports (``status`` is the line for their notes) and is called after
    a run whose results differ from the last written ones; ``show(status)`` (optional) refreshes only that
    line after a skipped cycle or an unchanged run. ``state_dir`` holds ``schedule_state.json`` and the
    lock. ``tick_s`` is how often the sleeping loop looks at the clocks; a tick whose wall-clock progress
    exceeds its monotonic progress by more than ``sleep_gap_s`` counts as the machine having slept.
    ``run_missed_on_wake`` (a setting) says whether the cycle missed while asleep runs on wake or waits
    for the next interval.
    """

    def __init__(
        self,
        check: Callable[[], dict[str, Any]],
        write: Callable[[str], None],
        *,
        state_dir: Path,
        every_s: int = DEFAULT_EVERY_S,
        conditions: Conditions | None = None,
        show: Callable[[str], None] | None = None,
        clock: Clock | None = None,
        tick_s: float = 60.0,
        sleep_gap_s: float = 120.0,
        run_missed_on_wake: bool = True,
    ) -> None:
        self.check = check
        self.write = write
        self.show = show
        self.every_s = every_s
        self.conditions = conditions or Conditions(require_comfyui=False)
        self.clock = clock or Clock()
        self.tick_s = tick_s
        self.sleep_gap_s = sleep_gap_s
        self.run_missed_on_wake = run_missed_on_wake
        self.state_file = Path(state_dir) / STATE_FILE
        self.lock = CycleLock(Path(state_dir) / LOCK_FILE, clock=self.clock.wall)
        self.state = ScheduleState.load(self.state_file)
        self.state.every_s = every_s

    def run_cycle(self, *, after_sleep: bool = False) -> Cycle:
        """One cycle now: conditions, lock, check, write on change; recorded in the state file."""
        now = self.clock.wall()
        reason = self.conditions.skip_reason() or self.lock.acquire()
        if reason is not None:
            cycle = Cycle(at=now, ran=False, reason=reason, after_sleep=after_sleep)
            log.warning("scheduled check skipped: %s", reason)
        else:
            started = self.clock.mono()
            try:
                doc = self.check()
                fp = results_fingerprint(doc)
                changed = fp != self.state.fingerprint
                cycle = Cycle(at=now, ran=True, changed=changed, summary=dict(doc.get("summary") or {}),
                              after_sleep=after_sleep)
                self.state.fingerprint = fp
            except Exception as exc:  # one bad run must not end the schedule
                log.warning("scheduled check failed: %s", exc)
                cycle = Cycle(at=now, ran=True, summary={"error": str(exc)}, after_sleep=after_sleep)
            cycle.seconds = round(self.clock.mono() - started, 3)
        self.state.next_due = now + self.every_s
        self.state.record(cycle)
        status = self.state.status_line(self.clock.wall())
        try:
            if cycle.changed:
                self.write(status)
            elif self.show is not None:
                self.show(status)
        except Exception as exc:  # unwritable reports: logged, the schedule goes on
            log.warning("writing the reports failed: %s", exc)
            cycle.summary = {**cycle.summary, "error": f"writing the reports failed: {exc}"}
            self.state.fingerprint = None  # write again next time
        finally:
            self.lock.release()
        self.state.save(self.state_file)
        return cycle

    def run(self, *, cycles: int | None = None, on_cycle: Callable[[Cycle], None] | None = None) -> list[Cycle]:
        """Run cycles as they fall due (the first at once unless the state file says otherwise), ``cycles``
        times or until interrupted (``KeyboardInterrupt`` propagates). Returns every cycle made."""
        done: list[Cycle] = []
        woke = False
        while cycles is None or len(done) < cycles:
            now = self.clock.wall()
            if now >= self.state.next_due:
                cycle = self.run_cycle(after_sleep=woke)
                woke = False
                done.append(cycle)
                if on_cycle is not None:
                    on_cycle(cycle)
                continue
            wall0, mono0 = now, self.clock.mono()
            self.clock.sleep(max(0.0, min(self.tick_s, self.state.next_due - now)))
            slept = (self.clock.wall() - wall0) - (self.clock.mono() - mono0)
            if slept > self.sleep_gap_s:
                log.info("the machine slept about %.0f s", slept)
                if self.clock.wall() >= self.state.next_due:
                    if self.run_missed_on_wake:
                        woke = True  # the one missed cycle runs now, marked as such
                    else:
                        self.state.next_due = self.clock.wall() + self.every_s
        return done
