"""Keep readiness reports current: re-run the check on an interval, rewrite reports when results change.

The loop is deliberately simple and testable (clock and sleep are injected). For machines that
should not keep a process running, ``cron_line`` gives the equivalent crontab entry.
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
    """``90s``, ``30m``, ``2h``, ``1d`` (or plain seconds) → seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if not m:
        raise InputError(f"cannot read the interval {text!r}", hint="use a number with s, m, h or d, e.g. 30m")
    seconds = int(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds < MIN_INTERVAL_S:
        raise InputError(f"an interval of {seconds}s is too short", hint=f"use at least {MIN_INTERVAL_S}s")
    return seconds


def results_fingerprint(doc: dict[str, Any]) -> str:
    """What a check found, without when it ran: equal fingerprints mean the reports would not change."""
    workflows = [{k: v for k, v in w.items() if k not in ("checked_at", "generated_at", "report")}
                 for w in doc.get("workflows", [])]
    canonical = json.dumps({"workflows": workflows, "summary": doc.get("summary")}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class RunRecord:
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
    A failing run is logged and the schedule goes on.
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
        sleep(max(0.0, every_s - (clock() - started)))
    return records


def cron_line(every_s: int, check_args: list[str]) -> str:
    """A crontab entry that runs the same check at about the same interval."""
    minutes = max(1, every_s // 60)
    if minutes < 60:
        when = f"*/{minutes} * * * *"
    elif minutes < 1440:
        when = f"0 */{max(1, minutes // 60)} * * *"
    else:
        when = "0 3 * * *"
    exe = shlex.quote(str(Path(sys.argv[0]).resolve())) if sys.argv and sys.argv[0] else "comfyfixer"
    return f"{when} {exe} check {' '.join(shlex.quote(a) for a in check_args)} >/dev/null 2>&1"
