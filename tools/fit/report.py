"""The "VRAM fit" section of the readiness reports: each workflow's estimate against this machine.

``check --out`` (``agent/check_run.py``) and each ``schedule`` cycle ask the readiness check for the fit
too (its ``fit=`` option, a :class:`FitTarget`): the check then estimates each workflow from the same
parse and the same schemas its readiness used (a live ComfyUI's, a saved ``/object_info``, else the
bundled ones) and caches the estimate next to the readiness (``tools/readiness/check.py``: the readiness
key plus the VRAM target and this code's fingerprint; each entry also holds the size and mtime of every
model file whose header it read, so a file rewritten in place is read again). The report writer
(``agent/reports/writer.py``) appends each workflow's :func:`fit_markdown` section to its Markdown report
and puts its :func:`fit_summary` in the dashboard's data; for a result checked without the option it
falls back to :func:`fit_reports` (bundled schemas, no cache). Sizes come from the checked ComfyUI
folder's files (headers), the workflow's notes and the knowledge pack — no network. The section holds only
our own words and numbers (verdict, stage names, GB), never text from the workflow, so it needs no escaping.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfyfixer.tools.errors import ComfyFixerError

if TYPE_CHECKING:  # the check imports this module for FitTarget: the estimate's modules load on first use
    from comfyfixer.tools.fit.estimate import FitSources
    from comfyfixer.tools.fit.models import FitReport
    from comfyfixer.tools.workflow.graph import Graph
    from comfyfixer.tools.workflow.models import ModelRef

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9 ()._:;,/%×—+-]")


@dataclass(frozen=True)
class FitTarget:
    """The VRAM each workflow is sized against (bytes; None when no GPU is known) and where that figure
    comes from ("target 8 GB", "nvidia-smi" ...)."""

    vram_bytes: int | None
    where: str

    @property
    def key(self) -> str:
        """What a cached estimate depends on of the target."""
        return f"{self.vram_bytes}|{self.where}"


def fit_target(vram_gb: float | None) -> FitTarget:
    """``vram_gb`` as a target card; by default the largest GPU the vendor tools report here."""
    from comfyfixer.tools.fit.families import GiB

    if vram_gb is not None:
        return FitTarget(int(vram_gb * GiB), f"target {vram_gb:g} GB")
    from comfyfixer.tools.hardware import local_gpu_vram_mb

    mb, where = local_gpu_vram_mb()
    return FitTarget(mb * 1024 * 1024 if mb else None, where)


def fit_code_files() -> list[Path]:
    """The files an estimate is computed from besides the workflow, its schemas and its model files: the
    fit code, the model-header readers, the precision-tag table and the knowledge pack's notes (sizes they
    print). The readiness cache stats them into its fit key (the inspector's own code is already in the
    readiness key)."""
    import comfyfixer.knowledge as knowledge
    import comfyfixer.tools.fit as fit_pkg

    fit_dir = Path(fit_pkg.__file__ or "").parent
    return [*sorted(fit_dir.glob("*.py")), fit_dir.parent / "modelfile.py",  # stat'ed, not imported
            fit_dir.parent / "precision.py",  # the bytes per parameter a file name's tag states
            *sorted(Path(next(iter(knowledge.__path__))).glob("*.md"))]


class FitEstimator:
    """Estimates workflows for one :class:`FitTarget` against the model folders of ``comfyui_dir``; the
    knowledge pack's sizes are read on the first estimate (a warm check reads none)."""

    def __init__(self, target: FitTarget, comfyui_dir: Path | str | None,
                 model_dirs: dict[str, list[Path]] | None = None) -> None:
        # ``model_dirs``: the check's own folder table (extra_model_paths.yaml included); else the defaults.
        self.target, self.comfyui_dir, self.model_dirs = target, comfyui_dir, model_dirs

    @cached_property
    def sources(self) -> FitSources:
        import comfyfixer.knowledge as knowledge
        from comfyfixer.tools.fit.estimate import FitSources
        from comfyfixer.tools.fit.sizes import knowledge_sizes
        from comfyfixer.tools.model_folders import default_folder_paths

        comfyui = self.comfyui_dir
        dirs = self.model_dirs if self.model_dirs is not None else (
            default_folder_paths(Path(comfyui)) if comfyui else {})
        return FitSources(model_dirs=dirs, knowledge=knowledge_sizes(Path(next(iter(knowledge.__path__)))))

    def estimate(self, path: str, graph: Graph, refs: list[ModelRef], schemas: Any) -> FitReport | None:
        """The estimate of one loaded and inspected workflow (``refs``: its inspection's models), or None
        when it loads no model file."""
        from comfyfixer.tools.fit.estimate import estimate

        report = estimate(path, graph, refs, schemas, self.sources, self.target.vram_bytes, self.target.where)
        return None if report.verdict == "NO_MODELS" else report


def read_files(report: FitReport | None) -> list[tuple[str, int, int]]:
    """Path, size and mtime of each model file whose header (or size) the estimate read here: a cached
    estimate holds only while these are unchanged (the inventory does not see a file rewritten in place)."""
    out: list[tuple[str, int, int]] = []
    for m in report.models if report is not None else []:
        if m.local_path:
            try:
                st = Path(m.local_path).stat()
            except OSError:
                continue
            out.append((m.local_path, st.st_size, st.st_mtime_ns))
    return out


def fit_reports(result: Any, vram_gb: float | None = None) -> tuple[dict[str, FitReport], str]:
    """Workflow path → estimate for every workflow in a readiness result that can be read (and loads a
    model), and what the VRAM figure is ("target 8 GB", "nvidia-smi" ...): for a result the check was not
    asked to size (see the module's note). It loads and inspects every workflow again, with the bundled
    core schemas, and caches nothing.

    ``vram_gb`` sizes for a target card; by default the largest GPU the vendor tools report here.
    A workflow that cannot be loaded (or no longer exists) gets no estimate.
    """
    from comfyfixer.tools.schema.loader import bundled_core_schemas
    from comfyfixer.tools.workflow.inspect import inspect_loaded
    from comfyfixer.tools.workflow.loader import load_workflow

    inventory = getattr(result, "inventory", {}) or {}
    target = fit_target(vram_gb)
    fitter = FitEstimator(target, inventory.get("comfyui_dir"))
    schemas = bundled_core_schemas()
    out: dict[str, FitReport] = {}
    for w in getattr(result, "workflows", []):
        path = Path(w.path)
        if not path.is_file():
            continue
        try:
            loaded = load_workflow(path)
            report = fitter.estimate(str(path), loaded.graph, inspect_loaded(loaded, schemas=schemas).models, schemas)
        except ComfyFixerError as exc:
            log.debug("no fit estimate for %s: %s", path, exc)
            continue
        if report is not None:
            out[w.path] = report
    return out, target.where


def fit_markdown(report: FitReport, where: str) -> str:
    """The "VRAM fit" Markdown section of one workflow's report."""
    from comfyfixer.tools.fit.families import GiB

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
    from comfyfixer.tools.fit.families import GiB

    return {"verdict": report.verdict, "peak_gb": round(report.peak_bytes / GiB, 1), "peak_stage": report.peak_stage,
            "vram_gb": round(report.vram_bytes / GiB, 1) if report.vram_bytes else None,
            "vram_source": _SAFE.sub("", where), "slowdown": report.slowdown, "summary": _SAFE.sub("", report.summary)}


def fit_sections(result: Any, vram_gb: float | None = None) -> dict[str, str]:
    """Workflow path → Markdown section (see :func:`fit_reports`)."""
    reports, where = fit_reports(result, vram_gb)
    return {path: fit_markdown(report, where) for path, report in reports.items()}
