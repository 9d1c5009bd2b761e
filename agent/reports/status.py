"""The schedule's line in the reports ("Schedule: last checked 2 h ago; skipped 14:00: ComfyUI closed").

A check's reports carry it among their notes (``with_schedule_note``, used when the reports are written).
After a skipped cycle nothing was checked, so only the line changes: :func:`refresh_schedule_note` swaps
it in the index (Markdown and JSON) and re-renders the dashboard from the index document, without a
check and without touching the per-workflow reports.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from comfyfixer.agent.reports.markdown import cell
from comfyfixer.agent.reports.writer import render_dashboard
from comfyfixer.tools.paths import atomic_write
from comfyfixer.tools.readiness import CheckResult
from comfyfixer.tools.text import inert_json

log = logging.getLogger(__name__)

PREFIX = "Schedule: "


def with_schedule_note(result: CheckResult, status: str) -> CheckResult:
    """A copy of ``result`` whose notes end with the schedule line (replacing an earlier one)."""
    notes = [n for n in result.notes if not n.startswith(PREFIX)] + [PREFIX + status]
    return result.model_copy(update={"notes": notes})


def refresh_schedule_note(out_dir: Path, status: str) -> bool:
    """Put ``status`` in the reports under ``out_dir`` written by an earlier cycle; False when there are
    none yet (the first cycle was skipped) or they cannot be read."""
    wf_dir = Path(out_dir) / "reports" / "workflows"
    index_json, index_md = wf_dir / "index.json", wf_dir / "index.md"
    try:
        doc = json.loads(index_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    line = PREFIX + status
    doc["notes"] = [n for n in doc.get("notes") or [] if not str(n).startswith(PREFIX)] + [line]
    atomic_write(index_json, inert_json(json.dumps(doc, ensure_ascii=False, indent=2, default=str)) + "\n")
    try:
        md = index_md.read_text(encoding="utf-8").splitlines()
    except OSError:
        md = None
    if md is not None:
        # The note lines sit in the header; the schedule's is the last of them.
        kept = [ln for ln in md if not ln.startswith("- Note: " + PREFIX)]
        idx = ([i for i, ln in enumerate(kept) if ln.startswith("- Note:")]
               or [i for i, ln in enumerate(kept) if ln.startswith("- Pack catalog:")])
        at = idx[-1] + 1 if idx else len(kept)
        kept.insert(at, "- Note: " + cell(line))
        atomic_write(index_md, "\n".join(kept) + "\n")
    atomic_write(Path(out_dir) / "dashboard" / "index.html", render_dashboard(doc))
    return True
