"""Markdown for a review and a diff: what ``comfyfixer review``/``diff`` print and the regression report
holds. Names from the workflow are untrusted: they go through :func:`cell`, which makes them inert
(no control characters, no table breaks, no Markdown links or HTML)."""

from __future__ import annotations

import re
from typing import Any

from comfyfixer.tools.review.models import Finding, WorkflowDiff, WorkflowReview
from comfyfixer.tools.text import inert

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def cell(text: object) -> str:
    """``text`` safe inside a Markdown table cell or line: inert, one line, Markdown characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", inert(str(text)).replace("\n", " "))


def _finding(f: Finding) -> str:
    """One finding as a bullet: level, code, message, the node when the message does not name it, and the knowledge-pack section it cites."""
    where = f" (node {cell(f.node_id)})" if f.node_id and f"({f.node_id})" not in f.message and \
        f"node {f.node_id}" not in f.message else ""
    source = f" — see {cell(f.source)}" if f.source else ""
    return f"- **{f.level}** `{f.code}`: {cell(f.message)}{where}{source}"


def review_markdown(r: WorkflowReview) -> str:
    """The review as a Markdown document."""
    lines = [f"# Review: {cell(r.path)}", "", f"**{cell(r.summary)}**", "",
             f"- task: **{r.task}** (output: {r.medium}; {r.format.upper()} workflow)"]
    if r.techniques:
        lines.append(f"- techniques: {cell(', '.join(r.techniques))}")
    if r.family_label:
        lines.append(f"- model family: **{cell(r.family_label)}**"
                     + (f" (also {cell(', '.join(f for f in r.families if f != r.family))})"
                        if len(r.families) > 1 else ""))
    if r.api_nodes:
        lines.append(f"- API nodes (run remotely, need credits): {cell(', '.join(r.api_nodes))}")
    if r.media_inputs:
        lines.append(f"- loads: {cell(', '.join(r.media_inputs))}")
    if r.models:
        lines += ["", "## Models", "", "| file | role | family | precision | node |", "| --- | --- | --- | --- | --- |"]
        for m in r.models:
            role = m.role + (f" (strength {m.strength_model:g})" if m.strength_model is not None else "")
            lines.append(f"| {cell(m.filename)}{'' if m.active else ' (muted)'} | {cell(role)} | "
                         f"{cell(m.family or '?')} | {cell(m.precision or '?')} | {cell(m.node_id)} |")
    if r.samplers:
        lines += ["", "## Settings", "", "| node | class | values |", "| --- | --- | --- |"]
        for s in r.samplers:
            vals = ", ".join(f"{k}={v}" for k, v in s.values.items())
            if s.seed_control:
                vals += f" ({s.seed_control})"
            lines.append(f"| {cell(s.node_id)} | {cell(s.class_type)} | {cell(vals)} |")
    if r.resolutions:
        sizes = "; ".join(f"{x.width}×{x.height}" + (f"×{x.frames}f" if x.frames else "")
                          + (f" batch {x.batch}" if x.batch and x.batch > 1 else "") for x in r.resolutions[:6])
        lines += ["", f"Resolution: {cell(sizes)}"]
    lines += ["", "## Findings", ""]
    lines += [_finding(f) for f in r.findings] or ["- nothing to report"]
    if r.vram is not None:
        lines += ["", "## VRAM", "", f"- {cell(r.vram.summary or r.vram.verdict)}"]
    lines += ["", "## Missing here", ""]
    rd = r.readiness
    if not rd.checked:
        lines.append(f"- {cell(rd.note)}")
    else:
        lines.append(f"- status: **{rd.status}** {cell(rd.note)}")
        lines += [f"- missing node: {cell(n)}" for n in rd.missing_nodes]
        lines += [f"- missing model: {cell(m)}" for m in rd.missing_models]
    return "\n".join(lines) + "\n"


def value_text(value: Any) -> str:
    """A parameter value for a table cell (``—`` for none)."""
    return "—" if value is None else cell(value)


def _short(value: Any, limit: int = 80) -> str:
    """A value cut to ``limit`` characters for a table cell (prompts can be pages long)."""
    text = "—" if value is None else str(value)
    return cell(text if len(text) <= limit else text[: limit - 1] + "…")


def diff_markdown(d: WorkflowDiff) -> str:
    """The diff as a Markdown document (also the body of a regression report)."""
    lines = [f"# Diff: {cell(d.old)} → {cell(d.new)}", "", f"**{cell(d.summary)}**", "",
             f"- formats: {d.old_format.upper()} → {d.new_format.upper()} (compared as API prompts)",
             f"- matched nodes: {d.matched} ({', '.join(f'{v} by {k}' for k, v in d.matched_by.items() if v)})"]
    if d.old_task != d.new_task:
        lines.append(f"- task: {d.old_task} → {d.new_task}")
    if d.old_family != d.new_family:
        lines.append(f"- family: {cell(d.old_family or 'none')} → {cell(d.new_family or 'none')}")
    if d.runtime_ratio is not None:
        lines.append(f"- runtime proxy (steps × pixels × frames): ×{d.runtime_ratio:g}")
    if d.old_vram_gb is not None and d.new_vram_gb is not None:
        lines.append(f"- peak VRAM need: {d.old_vram_gb:g} GB → {d.new_vram_gb:g} GB")
    if d.implications or d.new_findings:
        lines += ["", "## Implications", ""]
        lines += [_finding(f) for f in [*d.implications, *d.new_findings]]
    if d.models:
        lines += ["", "## Models", "", "| change | node | old | new | precision |", "| --- | --- | --- | --- | --- |"]
        for m in d.models:
            prec = f"{m.old_precision or '?'} → {m.new_precision or '?'}"
            if m.weight_ratio is not None:
                prec += f" (weights ×{m.weight_ratio:g})"
            if m.old_gb is not None or m.new_gb is not None:
                prec += f"; {m.old_gb if m.old_gb is not None else '?'} → {m.new_gb if m.new_gb is not None else '?'} GB"
            lines.append(f"| {m.change} | {cell(m.class_type)} ({cell(m.node)}) | {_short(m.old)} | {_short(m.new)} | "
                         f"{cell(prec)} |")
    if d.parameters:
        lines += ["", "## Values", "", "| node | input | old | new |", "| --- | --- | --- | --- |"]
        for p in sorted(d.parameters, key=lambda p: not p.key):
            note = " (run-time only: re-rolled seed or queue-time change)" if p.runtime_only else ""
            lines.append(f"| {cell(p.class_type)} ({cell(p.node)}) | {'**' + cell(p.input) + '**' if p.key else cell(p.input)}"
                         f" | {_short(p.old)} | {_short(p.new)}{note} |")
    if d.added or d.removed or d.rewired:
        lines += ["", "## Nodes", ""]
        lines += [f"- added: {cell(n.class_type)} ({cell(n.id)})" for n in d.added]
        lines += [f"- removed: {cell(n.class_type)} ({cell(n.id)})" for n in d.removed]
        lines += [f"- rewired: {cell(r.class_type)} ({cell(r.node)}).{cell(r.input)}: {_short(r.old_from)} → "
                  f"{_short(r.new_from)}" for r in d.rewired]
    if d.new_dependencies:
        lines += ["", "## New dependencies", ""]
        lines += [f"- {cell(x)}" + (" (missing here)" if x in d.new_missing else "") for x in d.new_dependencies]
    return "\n".join(lines) + "\n"
