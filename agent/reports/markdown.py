"""Markdown reports: an index of every workflow, and one page per workflow.

Every string from a workflow, a catalog or the disk is untrusted and goes through one of the helpers below
before it enters the page:

* :func:`cell` — plain text (in table cells, list items, headings): controls and bidi/zero-width characters
  shown as escapes (:func:`comfyfixer.tools.text.inert`, so ``cat`` on a report is harmless too), HTML
  escaped (``&``, ``<``, ``>``: no tags, no entities that decode to a bidi override), Markdown escaped where
  it changes structure (``\\``, ``|`` and newlines in table rows, backticks, ``[``/``]`` so no link or image
  can be formed, a leading block marker such as ``#``, ``>``, ``-`` or ``1.``).
* :func:`code` / :func:`code_cell` — inline code (HTML and entities are literal inside a code span, so only
  backticks, newlines and, in a table, pipes need care).
* :func:`link` — only ``http(s)`` links, the destination percent-encoded so it cannot end early or split a
  row.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from comfyfixer.agent.reports.data import aggregate_needs, workflow_fixes
from comfyfixer.tools.readiness import CheckResult, WorkflowReadiness
from comfyfixer.tools.text import inert

_ICON = {"runnable": "✅ runnable", "missing": "⚠️ missing", "invalid": "❌ invalid"}
_MD_ESCAPE = str.maketrans({"\\": "\\\\", "|": "\\|", "`": "'", "[": "\\[", "]": "\\]"})
# A line that starts with one of these would become a heading, quote, list, rule or setext underline.
# A backslash before the marker (or before the "." of "1.") makes it literal.
_BLOCK_START = re.compile(r"^(\d{0,9})([#>+\-=*~_.)])")
# A run of backslashes right before a pipe: GFM pairs backslashes, so an even run leaves the pipe unescaped.
_PIPE = re.compile(r"(\\*)\|")
# Kept raw in a link destination: the URL's own syntax and existing percent-escapes. Everything else
# (spaces, <, >, |, backslash, backtick, quotes, controls, non-ASCII) is percent-encoded.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~"


def _plain(text: object) -> str:
    s = "" if text is None else str(text)
    return inert(s.replace("\r\n", " ").replace("\n", " "))


def cell(text: object) -> str:
    """Plain text safe anywhere in the report, table cells included (see the module docstring)."""
    s = html.escape(_plain(text), quote=False).translate(_MD_ESCAPE)
    m = _BLOCK_START.match(s)
    if m and (m.group(1) == "") != (m.group(2) in ".)"):  # "#", "-", ... or "1.", "2)"
        s = f"{m.group(1)}\\{s[m.end(1):]}"
    return s


def code(text: object) -> str:
    """Inline code outside tables: backticks and line breaks cannot end the span or the line."""
    return "`" + _plain(text).replace("`", "'") + "`"


def code_cell(text: object) -> str:
    """Inline code inside a table row: as :func:`code`, and every ``|`` escaped so the row keeps its cells."""
    s = _plain(text).replace("`", "'")
    s = _PIPE.sub(lambda m: m.group(1) + ("\\|" if len(m.group(1)) % 2 == 0 else "|"), s)
    return f"`{s}`"


def link(label: str, url: str | None) -> str:
    """``[label](<url>)`` for ``http(s)`` URLs, else the bare label (no ``javascript:``, no ``data:``)."""
    if url and url.startswith(("https://", "http://")):
        return f"[{cell(label)}](<{quote(url, safe=_URL_SAFE)}>)"
    return cell(label)


def _header(result: CheckResult) -> list[str]:
    inv = result.inventory
    lines = [
        f"- Date: {result.generated_at}",
        f"- Inventory: {cell(inv.get('source'))} — {cell(inv.get('limits'))}",
        f"- Node schemas: {cell(result.schema_source)}",
        f"- Pack catalog: {cell(result.catalog_source or 'none loaded (packs could not be looked up)')}",
    ]
    lines += [f"- Note: {cell(n)}" for n in result.notes]
    return lines


def index_markdown(result: CheckResult, stems: dict[str, str]) -> str:
    """The overview page: summary, what most workflows wait for, one row per workflow.

    ``stems`` maps a workflow's path to its report's file stem (from ``names.unique_stems``); each row
    links to ``<stem>.md`` in the same folder. Invalid workflows show their error in the name cell.
    """
    s = result.summary
    out = [
        "# Workflow readiness",
        "",
        *_header(result),
        "",
        f"**{s.total} workflows: {s.runnable} runnable, {s.missing} missing something, {s.invalid} invalid.**",
        "",
    ]
    needs = aggregate_needs(result, top=10)
    if needs["packs"] or needs["models"] or needs["core_update_classes"]:
        out += ["## What most workflows wait for", ""]
        for p in needs["packs"]:
            out.append(f"- pack {link(p['id'], p['reference'])}: {p['workflows']} workflow(s)")
        if needs["core_update_classes"]:
            names = ", ".join(code(c["class_type"]) for c in needs["core_update_classes"][:8])
            out.append(f"- a newer ComfyUI (core nodes {names})")
        for m in needs["models"]:
            out.append(f"- model {code(m['filename'])} ({cell(m['folder'])}): {m['workflows']} workflow(s)")
        out.append("")
    out += ["## Workflows", "", "| status | workflow | missing nodes | missing models | misplaced | report |",
            "|---|---|---|---|---|---|"]
    for w in result.workflows:
        stem = stems.get(w.path, "")
        detail = w.error if w.status == "invalid" else ""
        out.append(
            f"| {_ICON[w.status]} | {cell(w.name)}{' — ' + cell(detail) if detail else ''} | "
            f"{len(w.missing_node_types)} | {len(w.missing_models)} | {len(w.misplaced_models)} | "
            f"[{cell(stem)}.md](<{stem}.md>)"
            + (f" · changed: [{cell(w.regression_report)}.md](<{w.regression_report}.md>)" if w.regression_report else "")
            + " |"
        )
    out.append("")
    return "\n".join(out)


def workflow_markdown(w: WorkflowReadiness, result: CheckResult) -> str:
    """One workflow's page: status, and for each gap what is missing and how to close it.

    Sections appear only when they have rows: missing node types (up to three candidate packs linked),
    misplaced models, missing models (with a download link when the resolver or catalog has a URL), the
    models found (with sha256 when hashed), a numbered to-do list and warnings. An invalid workflow gets
    only the reason it cannot be checked.
    """
    out = [f"# {cell(w.name)}", "", f"**Status: {_ICON[w.status]}**", "", f"- File: {code(w.path)}", *_header(result)]
    if w.saved_with:
        out.append(f"- Saved with ComfyUI {cell(w.saved_with)}")
    out.append("")
    if w.status == "invalid":
        out += ["## Why it cannot be checked", "", cell(w.error), ""]
        return "\n".join(out)
    if w.status == "runnable":
        out += ["Every node type is installed and every model is where its loader looks.", ""]
    if w.missing_node_types:
        out += ["## Missing node types", "", "| node type | status | nodes | fix |", "|---|---|---|---|"]
        for n in w.missing_node_types:
            fix = n.fix
            if n.packs:
                fix = "install " + ", or ".join(link(p.id, p.reference) for p in n.packs[:3])
            out.append(f"| {code_cell(n.class_type)} | {cell(n.status)} | {n.node_count} | {fix if n.packs else cell(fix)} |")
        out.append("")
    if w.misplaced_models:
        out += ["## Models in the wrong folder", "", "| file | found in | expected folder | fix |", "|---|---|---|---|"]
        for m in w.misplaced_models:
            out.append(f"| {code_cell(m.filename)} | {code_cell(m.found_in)} | {cell(m.expected_folder)} | {cell(m.fix)} |")
        out.append("")
    if w.missing_models:
        out += ["## Missing models", "", "| file | folder | nodes | get it |", "|---|---|---|---|"]
        for m in w.missing_models:
            src = m.url or m.catalog_url
            get = link("download", src) + (f" to {code_cell(m.target)}" if m.target else "") if src else cell(m.fix)
            out.append(f"| {code_cell(m.filename)} | {cell(m.folder or '?')} | {cell(', '.join(m.node_ids))} | {get} |")
        out.append("")
    if w.present_models:
        out += ["## Models found", ""]
        out += [f"- {code(m.filename)} in {code(m.location)}" + (f" sha256 {code(m.sha256)}" if m.sha256 else "")
                for m in w.present_models]
        out.append("")
    fixes = workflow_fixes(w)
    if fixes:
        out += ["## To do", ""] + [f"1. {cell(f)}" for f in fixes] + [""]
    if w.warnings:
        out += ["## Warnings", ""] + [f"- {cell(x)}" for x in w.warnings] + [""]
    return "\n".join(out)


