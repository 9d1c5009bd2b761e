"""Keep readiness reports current: re-run the check on an interval, rewrite reports when results change.

Used by ``comfyfixer schedule`` (``agent/commands/schedule.py``), which passes a ``check`` that returns
the readiness JSON document and a ``write`` that regenerates the reports. The loop is deliberately
simple and testable (clock and sleep are injected); it runs in the foreground until interrupted and
holds no lock, so two schedules on the same folder would both write. For machines that should not keep
a process running, :func:`cron_line` gives the equivalent crontab entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import InputError

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
