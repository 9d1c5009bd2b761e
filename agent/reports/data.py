"""The report data: a check result shaped for people and tools (same facts in Markdown, JSON and HTML).

Pure functions over ``CheckResult``; the JSON they build is the contract for ``check --json``,
``index.json`` and the dashboard, so renaming a key here is a breaking change for users' scripts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from comfyfixer.tools.readiness import CheckResult, WorkflowReadiness


def workflow_fixes(w: WorkflowReadiness) -> list[str]:
    """Every action that would close a gap of ``w``, one sentence each (``"<name>: <fix>"``): missing node
    types first, then misplaced models, then missing models. Gaps without a known fix are left out.
    """
    fixes = [f"{n.class_type}: {n.fix}" for n in w.missing_node_types if n.fix]
    fixes += [f"{m.filename}: {m.fix}" for m in w.misplaced_models if m.fix]
    fixes += [f"{m.filename}: {m.fix}" for m in w.missing_models if m.fix]
    return fixes


def check_json(result: CheckResult, report_files: dict[str, str] | None = None) -> dict[str, Any]:
    """The machine-readable document (``check --json`` and ``index.json``).

    Each workflow is its readiness model dumped as JSON plus ``fixes`` and, when ``report_files`` maps its
    path to a report stem, ``report``. Top-level keys add the inventory and its source, schema and catalog
    sources, notes, the summary counts, :func:`aggregate_needs`, cache statistics and timings.
    """
    workflows = []
    for w in result.workflows:
        d = w.model_dump(mode="json")
        d["fixes"] = workflow_fixes(w)
        if report_files and w.path in report_files:
            d["report"] = report_files[w.path]
        workflows.append(d)
    return {
        "generated_at": result.generated_at,
        "inventory_source": result.inventory.get("source"),
        "inventory": result.inventory,
        "schema_source": result.schema_source,
        "catalog_source": result.catalog_source,
        "notes": list(result.notes),
        "workflows": workflows,
        "summary": result.summary.model_dump(),
        "needs": aggregate_needs(result),
        "cache": dict(result.cache),
        "timings": dict(result.timings),
    }


def aggregate_needs(result: CheckResult, top: int = 15) -> dict[str, list[dict[str, Any]]]:
    """What most workflows are waiting for: packs, models, ComfyUI updates (for the overview).

    Counts workflows, not nodes: each entry's ``workflows`` is how many missing-node or missing-model rows
    named it. A node type is counted under its first (best) pack, under ``core_update_classes`` when a newer
    ComfyUI has it, or under ``unknown_classes`` when no pack is known. Each list keeps the ``top`` most
    common, ties in first-seen order.
    """
    packs: Counter[tuple[str, str]] = Counter()
    unknown: Counter[str] = Counter()
    core: Counter[str] = Counter()
    models: Counter[tuple[str, str]] = Counter()
    for w in result.workflows:
        for n in w.missing_node_types:
            if n.status == "CORE_UPDATE":
                core[n.class_type] += 1
            elif n.packs:
                packs[(n.packs[0].id, n.packs[0].reference)] += 1
            else:
                unknown[n.class_type] += 1
        for m in w.missing_models:
            models[(m.filename, m.folder or "?")] += 1
    return {
        "packs": [{"id": k[0], "reference": k[1], "workflows": v} for k, v in packs.most_common(top)],
        "unknown_classes": [{"class_type": k, "workflows": v} for k, v in unknown.most_common(top)],
        "core_update_classes": [{"class_type": k, "workflows": v} for k, v in core.most_common(top)],
        "models": [{"filename": k[0], "folder": k[1], "workflows": v} for k, v in models.most_common(top)],
    }
