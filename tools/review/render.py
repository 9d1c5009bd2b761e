"""Markdown for a review and a diff: what ``comfyfixer review``/``diff`` print and the regression report
holds. Names from the workflow are untrusted: they go through :func:`cell`, which makes them inert
(no control characters, no table breaks, no Markdown links or HTML)."""

from __future__ import annotations

import re
from typing import Any

from comfyfixer.tools.review.models import Finding, WorkflowReview
from comfyfixer.tools.text import inert

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def cell(text: object) -> str:
    """``text`` safe inside a Markdown table cell or line: inert, one line, Markdown characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", inert(str(text)).replace("\n", " "))


def _finding(f: Finding) -> str:
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
