"""The "VRAM fit" section of the readiness reports: each workflow's estimate against this machine.

The report writer (``agent/reports/writer.py``) calls :func:`fit_reports` once per run, appends
each workflow's :func:`fit_markdown` section to its Markdown report and puts its :func:`fit_summary`
in the dashboard's data. Sizes come from the checked ComfyUI folder's files
(headers), the workflow's notes and the knowledge pack — no network. The section holds only our own
words and numbers (verdict, stage names, GB), never text from the workflow, so it needs no escaping.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from comfyfixer.tools.errors import ComfyFixerError
from comfyfixer.tools.fit.families import GiB
from comfyfixer.tools.fit.models import FitReport

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9 ()._:;,/%×—+-]")


def fit_reports(result: Any, vram_gb: float | None = None) -> tuple[dict[str, FitReport], str]:
    """Workflow path → estimate for every workflow in a readiness result that can be read (and loads a
    model), and what the VRAM figure is ("target 8 GB", "nvidia-smi" ...).

    ``vram_gb`` sizes for a target card; by default the largest GPU the vendor tools report here.
    A workflow that cannot be loaded (or no longer exists) gets no estimate.
    """
    import comfyfixer.knowledge as knowledge
    from comfyfixer.tools.fit.estimate import FitSources, estimate
    from comfyfixer.tools.fit.sizes import knowledge_sizes
    from comfyfixer.tools.hardware import local_gpu_vram_mb
    from comfyfixer.tools.inventory.folders import default_folder_paths
    from comfyfixer.tools.schema.loader import bundled_core_schemas
    from comfyfixer.tools.workflow.inspect import inspect_loaded
    from comfyfixer.tools.workflow.loader import load_workflow

    inventory = getattr(result, "inventory", {}) or {}
    comfyui = inventory.get("comfyui_dir")
    src = FitSources(model_dirs=default_folder_paths(Path(comfyui)) if comfyui else {},
                     knowledge=knowledge_sizes(Path(next(iter(knowledge.__path__)))))
    vram: int | None
    if vram_gb is not None:
        vram, where = int(vram_gb * GiB), f"target {vram_gb:g} GB"
    else:
        mb, where = local_gpu_vram_mb()
        vram = mb * 1024 * 1024 if mb else None
    schemas = bundled_core_schemas()
    out: dict[str, FitReport] = {}
    for w in getattr(result, "workflows", []):
        path = Path(w.path)
        if not path.is_file():
            continue
        try:
            loaded = load_workflow(path)
            report = estimate(str(path), loaded.graph, inspect_loaded(loaded, schemas=schemas).models, schemas, src,
                              vram, where)
        except ComfyFixerError as exc:
            log.debug("no fit estimate for %s: %s", path, exc)
            continue
        if report.verdict != "NO_MODELS":
            out[w.path] = report
    return out, where


def fit_markdown(report: FitReport, where: str) -> str:
    """The "VRAM fit" Markdown section of one workflow's report."""
    lines = ["", "## VRAM fit", "",
             f"**{report.verdict}** ({_SAFE.sub('', where)}): {_SAFE.sub('', report.summary)}", "",
             "| stage | GB | weights GB |", "|---|---|---|"]
    lines += [f"| {st.stage}{' (adapts)' if st.adaptive else ''} | {st.bytes / GiB:.1f} | {st.weights_bytes / GiB:.1f} |"
              for st in report.stages]
    lines += ["", "`comfyfixer fit` explains every line; `comfyfixer tune --vram N` writes a copy that fits.", ""]
    return "\n".join(lines)


def fit_summary(report: FitReport, where: str) -> dict[str, Any]:
    """What the dashboard shows for one workflow: the verdict, the estimated peak and the VRAM it was
    sized against (GB), and the one-sentence answer (our own words and numbers only)."""
    return {"verdict": report.verdict, "peak_gb": round(report.peak_bytes / GiB, 1), "peak_stage": report.peak_stage,
            "vram_gb": round(report.vram_bytes / GiB, 1) if report.vram_bytes else None,
            "vram_source": _SAFE.sub("", where), "slowdown": report.slowdown, "summary": _SAFE.sub("", report.summary)}


def fit_sections(result: Any, vram_gb: float | None = None) -> dict[str, str]:
    """Workflow path → Markdown section (see :func:`fit_reports`)."""
    reports, where = fit_reports(result, vram_gb)
    return {path: fit_markdown(report, where) for path, report in reports.items()}
