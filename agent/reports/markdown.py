"""Markdown reports: an index of every workflow, and one page per workflow."""

from __future__ import annotations

from comfyfixer.agent.reports.data import aggregate_needs, workflow_fixes
from comfyfixer.tools.readiness import CheckResult, WorkflowReadiness

_ICON = {"runnable": "✅ runnable", "missing": "⚠️ missing", "invalid": "❌ invalid"}


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    s = "" if text is None else str(text)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def code(text: object) -> str:
    s = "" if text is None else str(text).replace("`", "'").replace("\n", " ")
    return f"`{s}`"


def link(label: str, url: str | None) -> str:
    if url and url.startswith(("https://", "http://")):
        return f"[{cell(label)}](<{url.replace('>', '%3E')}>)"
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
            out.append(f"- model {code(m['filename'])} ({m['folder']}): {m['workflows']} workflow(s)")
        out.append("")
    out += ["## Workflows", "", "| status | workflow | missing nodes | missing models | misplaced | report |",
            "|---|---|---|---|---|---|"]
    for w in result.workflows:
        stem = stems.get(w.path, "")
        detail = w.error if w.status == "invalid" else ""
        out.append(
            f"| {_ICON[w.status]} | {cell(w.name)}{' — ' + cell(detail) if detail else ''} | "
            f"{len(w.missing_node_types)} | {len(w.missing_models)} | {len(w.misplaced_models)} | "
            f"[{cell(stem)}.md](<{stem}.md>) |"
        )
    out.append("")
    return "\n".join(out)


def workflow_markdown(w: WorkflowReadiness, result: CheckResult) -> str:
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
            out.append(f"| {code(n.class_type)} | {n.status} | {n.node_count} | {fix if n.packs else cell(fix)} |")
        out.append("")
    if w.misplaced_models:
        out += ["## Models in the wrong folder", "", "| file | found in | expected folder | fix |", "|---|---|---|---|"]
        for m in w.misplaced_models:
            out.append(f"| {code(m.filename)} | {code(m.found_in)} | {cell(m.expected_folder)} | {cell(m.fix)} |")
        out.append("")
    if w.missing_models:
        out += ["## Missing models", "", "| file | folder | nodes | get it |", "|---|---|---|---|"]
        for m in w.missing_models:
            src = m.url or m.catalog_url
            get = link("download", src) + (f" to {code(m.target)}" if m.target else "") if src else cell(m.fix)
            out.append(f"| {code(m.filename)} | {cell(m.folder or '?')} | {cell(', '.join(m.node_ids))} | {get} |")
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


