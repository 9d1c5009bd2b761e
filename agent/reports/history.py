"""Watch the workflows ``check`` and ``schedule`` see: record each version in the history
(``tools/review/history.py``, under the state folder) and write the regression report of each change.

When a watched workflow's content differs from its newest recorded version, :func:`watch_workflows`
diffs the two (``tools/review/diff.py``) and writes ``regression_report_<stem>.md`` and ``.json`` beside
the workflow's readiness report; the readiness result then names that report (``regression_report``),
so the index links it and the dashboard marks the workflow "changed" until its next change.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from comfyfixer.agent.reports.names import unique_stems
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.paths import atomic_write
from comfyfixer.tools.readiness import CheckResult
from comfyfixer.tools.review.history import history_dir, object_path, prune_objects, record_version, resolver
from comfyfixer.tools.text import inert_json

log = logging.getLogger(__name__)
REPORT_PREFIX = "regression_report_"


def _dump(data: Any) -> str:
    """JSON for a report file, with terminal control characters escaped (the report may be ``cat``-ed)."""
    return inert_json(json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False, default=str)) + "\n"


def _write_regression(out_dir: Path, stem: str, name: str, old_file: Path, new_file: Path,
                      old_v: dict[str, Any], new_v: dict[str, Any], ctx: ToolContext) -> str:
    """Diff the stored old version against the current file and write the regression report's Markdown and JSON; returns its stem."""
    from comfyfixer.tools.review.diff import compare
    from comfyfixer.tools.review.render import cell, diff_markdown
    from comfyfixer.tools.workflow.loader import load_workflow

    diff = compare(load_workflow(old_file), load_workflow(new_file), ctx.schemas())
    report = f"{REPORT_PREFIX}{stem}"
    wf_dir = out_dir / "reports" / "workflows"
    head = (f"# Regression report: {cell(name)}\n\nThe version first seen {old_v['first_seen']} (sha256 "
            f"{old_v['sha256'][:12]}) against the one first seen {new_v['first_seen']} ({new_v['sha256'][:12]}). "
            f"Readiness: [{cell(stem)}.md](<{stem}.md>).\n\n")
    atomic_write(wf_dir / f"{report}.md", head + diff_markdown(diff))
    atomic_write(wf_dir / f"{report}.json", _dump({"workflow": name, "old_version": old_v, "new_version": new_v,
                                                   "diff": diff.model_dump(mode="json")}))
    return report


def watch_workflows(result: CheckResult, out_dir: Path | None, ctx: ToolContext, max_versions: int = 20) -> CheckResult:
    """Record every checked workflow in the history and, for each that changed since its newest recorded
    version, write its regression report under ``out_dir`` (when given) and name it in the result. Each
    workflow keeps at most ``max_versions`` versions (the ``history_max_versions`` setting).

    The report name stays on the workflow's result until its next change, so the index links and the
    dashboard marks it on every later run too. History problems (a full disk, an unreadable file) are
    logged and never fail the check.
    """
    root = history_dir(ctx)
    stems = dict(zip([w.path for w in result.workflows], unique_stems([w.name for w in result.workflows]), strict=True))
    workflows = []
    changed = False
    resolve = resolver()
    for w in result.workflows:
        path = Path(w.path)
        try:
            entry, previous = record_version(root, path, max_versions, resolved=resolve(path))
        except OSError as exc:
            log.warning("history: %s", exc)
            workflows.append(w)
            continue
        changed = changed or previous is not None
        versions = entry["versions"]
        report = None
        if out_dir is not None and len(versions) >= 2:
            wf_dir = out_dir / "reports" / "workflows"
            report = f"{REPORT_PREFIX}{stems[w.path]}"
            if previous is not None or not (wf_dir / f"{report}.md").exists():
                old_v, new_v = versions[-2], versions[-1]
                try:
                    report = _write_regression(out_dir, stems[w.path], w.name, object_path(root, old_v), path,
                                               old_v, new_v, ctx)
                except Exception as exc:  # a version that no longer parses must not end the check
                    log.warning("history: no regression report for %s: %s", w.name, exc)
                    report = None
        workflows.append(w.model_copy(update={"regression_report": report}) if report else w)
    try:
        if changed:  # only a new version can push an old one out (and leave its object unreferenced)
            prune_objects(root)
    except OSError as exc:
        log.warning("history: pruning failed: %s", exc)
    return result.model_copy(update={"workflows": workflows})
