"""Scheduled discovery: after each scheduled check, look up what is still missing and turn it into the
"resolution actions" the owner asked for.

For every missing model file and every custom node class a workflow lacks (core updates excepted), the
resolver is asked once per cycle (``resolve_model`` / ``resolve_node``, the same capabilities as
``comfyfixer resolve``; their verdict cache answers repeat questions, and nothing is ever downloaded). Each
item gets the best candidate (download URL or pack repository) with the verdict (RESOLVED / UNCERTAIN /
NOT_FOUND) and its evidence; each workflow gets the one command that fixes it
(``comfyfixer fix <path> --comfyui <dir>``). The actions go to ``reports/actions.json`` and
``reports/actions.md``; the check result's ``fix`` sentences are rewritten with the candidate so the
per-workflow reports and the dashboard show it too, and a note points at the actions.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from comfyfixer.agent.reports.markdown import cell, code
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.paths import atomic_write
from comfyfixer.tools.readiness import CheckResult
from comfyfixer.tools.text import inert_json

log = logging.getLogger(__name__)

ACTIONS_JSON = "actions.json"
ACTIONS_MD = "actions.md"
NOTE_PREFIX = "Resolution actions: "
Runner = Callable[[str, BaseModel, ToolContext], Any]
# The hint every transport failure carries (tools/http.py::send_with_retry): the network, not the item.
_NETWORK_DOWN = "check the network connection"


def fix_command(workflow: str, comfyui_dir: Path | None) -> str:
    """The command that plans (and, after approval, applies) every fix for ``workflow``."""
    target = shlex.quote(str(comfyui_dir)) if comfyui_dir is not None else "<ComfyUI folder>"
    return f"comfyfixer fix {shlex.quote(workflow)} --comfyui {target}"


def _item(kind: str, name: str, folder: str | None, verdict: Any) -> dict[str, Any]:
    best = verdict.candidates[0] if verdict.candidates else None
    candidate = None
    if best is not None:
        candidate = {k: v for k, v in best.model_dump(mode="json").items()
                     if k in ("url", "source", "score", "exact", "filename", "size", "size_label", "license",
                              "gated", "needs_token", "repo", "folder", "subfolder") and v not in (None, "")}
    evidence = [f"{e.source}: {e.said}" for e in verdict.evidence][:6]
    evidence += [r for r in (best.reasons if best is not None else [])][:6]
    return {"kind": kind, "item": name, "folder": folder, "status": str(verdict.status), "candidate": candidate,
            "alternatives": len(verdict.candidates) - 1 if verdict.candidates else 0, "evidence": evidence,
            "searched": verdict.searched[:8] if best is None else [], "from_cache": verdict.from_cache}


def discover(result: CheckResult, ctx: ToolContext, run: Runner, *, comfyui_dir: Path | None) -> tuple[CheckResult, dict[str, Any]]:
    """Resolve every missing item of ``result``; returns the result with candidate-bearing fix sentences and
    a note, and the actions document. ``run`` is ``services.run``. A lookup that fails becomes an item with
    status ``ERROR`` (logged), never a failed cycle."""
    from comfyfixer.tools.resolver import ModelQuery, NodeQuery

    memo: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    # Once the network proves unreachable, the remaining lookups use caches and local catalogs only:
    # each remote attempt costs its retries, and a cycle with a hundred gaps must not hang for minutes.
    # One retry is enough in the background: the next cycle asks again anyway.
    quick = ctx.model_copy(update={"http_retries": min(ctx.http_retries, 1)})
    use = {"ctx": quick}

    def look(kind: str, name: str, extra: str | None, query: BaseModel) -> dict[str, Any]:
        key = (kind, name, extra)
        if key not in memo:
            try:
                verdict = run("resolve_model" if kind == "model" else "resolve_node", query, use["ctx"])
                memo[key] = _item(kind, name, extra if kind == "model" else None, verdict)
                unreachable = any(_NETWORK_DOWN in e.said for e in verdict.evidence)
            except Exception as exc:  # one failed lookup (network, rate limit) must not end the cycle
                log.warning("scheduled discovery could not look up %s: %s", name, exc)
                memo[key] = {"kind": kind, "item": name, "folder": extra if kind == "model" else None,
                             "status": "ERROR", "candidate": None, "evidence": [str(exc)], "searched": []}
                unreachable = _NETWORK_DOWN in str(exc)
            if unreachable and not use["ctx"].offline:
                log.warning("scheduled discovery: the network is unreachable; the rest is looked up offline")
                use["ctx"] = quick.model_copy(update={"offline": True})
        return memo[key]

    updated = result.model_copy(deep=True)
    workflows: list[dict[str, Any]] = []
    for w in updated.workflows:
        if w.status != "missing":
            continue
        items: list[dict[str, Any]] = []
        for n in w.missing_node_types:
            if n.status == "CORE_UPDATE":
                continue
            cnr = n.packs[0].id if len(n.packs) == 1 and not n.packs[0].hint_only else None
            items.append(look("node", n.class_type, cnr, NodeQuery(class_type=n.class_type, cnr_id=cnr)))
        for m in w.missing_models:
            item = look("model", m.filename, m.folder,
                        ModelQuery(filename=m.filename, folder=m.folder, url_hint=m.url))
            items.append(item)
            c = item["candidate"]
            if c is not None:
                where = f" into {m.target}" if m.target else ""
                m.fix = f"download {c['url']}{where} ({item['status']}, {c['source']}, score {c['score']:.2f})"
        # A misplaced file needs no lookup, only the move the check already worked out.
        items += [{"kind": "misplaced", "item": m.filename, "folder": m.expected_folder, "status": "MOVE",
                   "candidate": None, "evidence": [m.fix] if m.fix else [], "searched": []}
                  for m in w.misplaced_models]
        if not items:
            continue
        workflows.append({"path": w.path, "name": w.name, "fix_command": fix_command(w.path, comfyui_dir),
                          "items": items})
    counts: dict[str, int] = {}
    for item in memo.values():
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    doc = {"generated_at": result.generated_at, "counts": counts, "workflows": workflows,
           "network": "unreachable: later items were looked up offline" if use["ctx"] is not quick else "ok"}
    if workflows:
        said = ", ".join(f"{v} {k.lower().replace('_', ' ')}" for k, v in sorted(counts.items()))
        note = f"{NOTE_PREFIX}{len(memo)} missing item(s) looked up ({said or 'none'}); see reports/{ACTIONS_MD}"
        updated.notes = [n for n in updated.notes if not n.startswith(NOTE_PREFIX)] + [note]
    return updated, doc


def actions_markdown(doc: dict[str, Any]) -> str:
    """The actions document as a page: per workflow its fix command, then one line per missing item."""
    out = ["# Resolution actions", "", f"- Date: {cell(doc.get('generated_at'))}", ""]
    for w in doc["workflows"]:
        out += [f"## {cell(w['name'] or w['path'])}", "", f"Fix it: {code(w['fix_command'])}", ""]
        for it in w["items"]:
            c = it["candidate"]
            what = (f"{cell(c['url'])} ({cell(c['source'])}, score {c['score']:.2f})" if c else "no candidate")
            out.append(f"- {it['kind']} {code(it['item'])}: **{it['status']}** — {what}")
            for e in it["evidence"][:4]:
                out.append(f"  - {cell(e)}")
        out.append("")
    return "\n".join(out) + "\n"


def write_actions(doc: dict[str, Any], out_dir: Path) -> Path:
    """Write ``reports/actions.json`` and ``reports/actions.md`` under ``out_dir``; returns the Markdown path."""
    folder = Path(out_dir) / "reports"
    atomic_write(folder / ACTIONS_JSON, inert_json(json.dumps(doc, ensure_ascii=False, indent=2, default=str)) + "\n")
    md = folder / ACTIONS_MD
    atomic_write(md, actions_markdown(doc))
    return md
