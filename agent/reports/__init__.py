"""Readiness reports: Markdown and JSON per workflow plus an index, and a static HTML dashboard.

Input is one ``CheckResult`` from ``tools/readiness`` (``check_workflows``); ``check --out`` and
``schedule`` call :func:`write_reports`, and ``check --json`` prints :func:`check_json` directly.
Every format is rendered from the same dict, so Markdown, JSON and HTML cannot disagree. The package
reads nothing and contacts nothing: it only renders what the check found, escaping every untrusted
string on the way (see ``markdown.py`` and ``writer.script_json``).
"""

from comfyfixer.agent.reports.data import aggregate_needs, check_json, workflow_fixes
from comfyfixer.agent.reports.names import safe_stem, unique_stems
from comfyfixer.agent.reports.writer import ReportPaths, render_dashboard, write_reports

__all__ = [
    "ReportPaths",
    "aggregate_needs",
    "check_json",
    "render_dashboard",
    "safe_stem",
    "unique_stems",
    "workflow_fixes",
    "write_reports",
]
