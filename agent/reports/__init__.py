"""Readiness reports: Markdown and JSON per workflow plus an index, and a static HTML dashboard.

Input is one ``CheckResult`` from ``tools/readiness`` (``check_workflows``); ``check --out`` and
``schedule`` call :func:`write_reports`, and ``check --json`` prints :func:`check_json` directly.
Every format is rendered from the same dict, so Markdown, JSON and HTML cannot disagree. The package
reads nothing and contacts nothing: it only renders what the check found, escaping every untrusted
string on the way (see ``markdown.py`` and ``writer.script_json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from comfyfixer.tools.lazy import lazy_exports

if TYPE_CHECKING:
    from comfyfixer.agent.reports.data import aggregate_needs, check_json, workflow_fixes
    from comfyfixer.agent.reports.names import safe_stem, unique_stems
    from comfyfixer.agent.reports.writer import ReportPaths, render_dashboard, write_reports

# Each name is imported from its module on first use: `check --json` needs `check_json`, not the
# dashboard's template engine.
_HOME = {"aggregate_needs": "data", "check_json": "data", "workflow_fixes": "data", "safe_stem": "names",
         "unique_stems": "names", "ReportPaths": "writer", "render_dashboard": "writer", "write_reports": "writer"}

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


__getattr__ = lazy_exports(__name__, _HOME)
