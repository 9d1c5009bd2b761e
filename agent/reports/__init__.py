"""Readiness reports: Markdown and JSON per workflow plus an index, and a static HTML dashboard."""

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
