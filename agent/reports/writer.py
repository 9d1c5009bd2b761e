"""Write the reports: ``OUT/reports/workflows/`` (Markdown + JSON) and ``OUT/dashboard/index.html``.

Each file is written to a temporary name and renamed into place (``tools/paths.py::atomic_write``),
so a reader, or a dashboard open in a browser, never sees half a file. A workflow's report whose content
is unchanged but for the run's date is not written again (its date is then the run that last changed it;
the index and dashboard carry every run's date). Report files from an earlier run whose workflow has since
gone are not deleted; the index lists only the current ones.

The dashboard is one self-contained HTML file (a jinja2 template under ``templates/`` with the check
document embedded as JSON), so it opens from disk with no server and loads nothing from the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from comfyfixer.agent.output import dumps_plain
from comfyfixer.agent.reports.data import check_json, workflow_fixes
from comfyfixer.agent.reports.markdown import index_markdown, workflow_markdown
from comfyfixer.agent.reports.names import unique_stems
from comfyfixer.tools.fit.report import fit_markdown, fit_reports, fit_summary
from comfyfixer.tools.paths import atomic_write
from comfyfixer.tools.readiness import CheckResult
from comfyfixer.tools.text import inert_json


@dataclass
class ReportPaths:
    """Where the reports went: the output folder, the index Markdown and JSON files, the dashboard page, and
    how many per-workflow reports were written (each as ``<stem>.md`` and ``<stem>.json``).
    """

    out_dir: Path
    index_md: Path
    index_json: Path
    dashboard: Path
    workflow_reports: int
    unchanged_reports: int = 0


# The run's date in a workflow's report: "- Date: …" in the Markdown's header, the top-level "generated_at" in
# the JSON (indented JSON has no other line that starts so).
_DATE_PREFIXES = ("- Date: ", '  "generated_at": ')


def _without_date(text: str) -> str:
    """``text`` without its first line that starts with a date prefix (found with ``str.find``: a regular
    expression over every line of every report took most of a warm ``check --out``'s writing)."""
    for prefix in _DATE_PREFIXES:
        start = 0 if text.startswith(prefix) else text.find("\n" + prefix) + 1
        if start or text.startswith(prefix):
            end = text.find("\n", start)
            return text[:start] + (text[end:] if end >= 0 else "")
    return text


def _write(path: Path, text: str) -> None:
    atomic_write(path, text)


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless ``path`` already holds it but for the date line; True when written."""
    try:
        if path.stat().st_size <= 2 * len(text.encode("utf-8")) + 4096:  # a much larger file cannot be equal
            old = path.read_text(encoding="utf-8")
            if _without_date(old) == _without_date(text):
                return False
    except (OSError, UnicodeDecodeError):
        pass  # absent or unreadable: written anew
    _write(path, text)
    return True


def _dump(data: Any) -> str:
    # Same data; characters a terminal acts on (C1, bidi, zero-width) as \u escapes, for `cat index.json`.
    # The report data is plain JSON: encoded in Rust with json.dumps' exact text (agent/output.py).
    return inert_json(dumps_plain(data)) + "\n"


def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``).

    ``<``, ``>`` and ``&`` become ``\\u`` escapes, which JSON.parse reads back unchanged; U+2028/U+2029 are
    escaped because older JavaScript parsers treat them as line ends. Terminal control characters are
    escaped too (``inert_json``). NaN is refused (``ValueError``): it is not JSON.
    """
    text = inert_json(json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace(
        "\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_dashboard(doc: dict[str, Any]) -> str:
    """The self-contained dashboard page for a check document (see :func:`check_json`).

    The template is autoescaped and rendered with ``StrictUndefined``, so a missing variable is an error
    rather than a silently empty cell. Raises ``jinja2.TemplateError`` if the packaged template is broken.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("comfyfixer.agent.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    page = {k: v for k, v in doc.items() if k != "inventory"}
    page["inventory"] = doc.get("inventory", {})
    return env.get_template("dashboard.html.j2").render(summary=doc["summary"], data_json=script_json(page))


def write_reports(result: CheckResult, out_dir: Path, vram_gb: float | None = None) -> ReportPaths:
    """Write every report for ``result`` under ``out_dir`` (folders created as needed).

    Per workflow: ``reports/workflows/<stem>.md`` and ``<stem>.json`` (the workflow's readiness with its
    fixes and the run's sources). Then ``index.md``, ``index.json`` (the :func:`check_json` document with
    ``report`` stems) and ``dashboard/index.html``. Each workflow's VRAM fit (verdict and estimated GB)
    goes in its Markdown report and, as ``fit``, in the dashboard's data: the estimates the check made when
    it was given ``fit=`` (``result.fits``; ``vram_gb`` is then not used), else worked out here against
    ``vram_gb``, else this machine's GPU. Existing files are replaced (a workflow's report only when more
    than its date changed).
    Raises ``OSError`` if ``out_dir`` cannot be written.
    """
    wf_dir = out_dir / "reports" / "workflows"
    stems = dict(zip([w.path for w in result.workflows], unique_stems([w.name for w in result.workflows]), strict=True))
    doc = check_json(result, report_files=stems)
    meta = {"generated_at": result.generated_at, "inventory_source": result.inventory.get("source"),
            "schema_source": result.schema_source, "catalog_source": result.catalog_source}
    if result.fits is not None:  # sized by the check itself (cached with the readiness, same schemas)
        fits, where = result.fits, result.fit_where
    else:  # a result checked without fit=: each workflow loaded again (tools/fit/report.py)
        fits, where = fit_reports(result, vram_gb)
    for d in doc["workflows"]:
        d["fit"] = fit_summary(fits[d["path"]], where) if d["path"] in fits else None
    unchanged = 0
    for w in result.workflows:
        stem = stems[w.path]
        fit = fit_markdown(fits[w.path], where) if w.path in fits else ""
        wrote = _write_if_changed(wf_dir / f"{stem}.md", workflow_markdown(w, result) + fit)
        wrote = _write_if_changed(wf_dir / f"{stem}.json", _dump(
            {**meta, "workflow": {**w.model_dump(mode="json"), "fixes": workflow_fixes(w)}})) or wrote
        unchanged += not wrote
    index_md = wf_dir / "index.md"
    index_json = wf_dir / "index.json"
    _write(index_md, index_markdown(result, stems))
    _write(index_json, _dump(doc))
    dashboard = out_dir / "dashboard" / "index.html"
    _write(dashboard, render_dashboard(doc))
    return ReportPaths(out_dir=out_dir, index_md=index_md, index_json=index_json, dashboard=dashboard,
                       workflow_reports=len(result.workflows), unchanged_reports=unchanged)
