"""Eval and benchmark of the VRAM fit estimate over every official template, and a check against
published VRAM figures.

1. **Coverage**: every template of ``comfyui-workflow-templates-json`` that loads at least one model
   file must get an estimate, and every estimate must be explained (each stage line says how it
   was computed, and the verdict has a one-sentence summary with the numbers). Prints the count,
   the verdicts at ``--vram`` and where the sizes came from.
2. **Benchmark**: wall time of ``fit`` over all templates (inspection plus estimate; model files are
   read through their headers only, never whole — here none are local, so sizes come from the
   templates' notes, the catalogs and the knowledge pack).
3. **Published figures**: :data:`PUBLISHED` lists VRAM figures the knowledge pack or the model
   makers publish for a family at a stated setting, each with its source; the estimate for the
   matching template must land within ±25 % of the figure. What is compared is the estimate's
   *peak* (the largest stage that must be resident: weights + working set + ComfyUI's reserve),
   which is what "needs N GB to run without offloading" means.

``python -m comfyfixer.evals.fit_eval [--vram 8] [--templates DIR] [--json]``
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import WorkflowFormatError
from comfyfixer.tools.fit.capability import fit_loaded
from comfyfixer.tools.fit.models import FitInput, FitReport

log = logging.getLogger(__name__)
TOLERANCE = 0.25
GiB = 1024**3


@dataclass(frozen=True)
class Published:
    """A published VRAM figure for a setting one official template uses."""

    template: str
    figure_gb: float
    what: str
    source: str


# The figure compared is always the one for running *without* offloading ("comfortable", "runs
# fully", "fits"), since that is what the estimate's peak means; "with offloading" figures are not
# used. Ranges ("12–16 GB") are compared at their middle.
PUBLISHED: tuple[Published, ...] = (
    Published("flux_dev_full_text_to_image.json", 24.0, "FLUX.1 dev bf16: about 24 GB of weights, runs fully on 24 GB cards",
              "knowledge/model-family-flux.md (FLUX.1 VRAM; Black Forest Labs model card)"),
    Published("flux1_krea_dev.json", 14.0, "FLUX.1 [dev] family (Krea dev) fp8: comfortable on 12–16 GB",
              "knowledge/model-family-flux.md; knowledge/vram-and-precision.md (FLUX.1 dev 12–16 GB fp8)"),
    Published("flux_schnell.json", 14.0, "FLUX.1 schnell fp8: 12–16 GB",
              "knowledge/vram-and-precision.md (Typical needs by family)"),
    Published("sdxl_simple_example.json", 8.0, "SDXL at 1024 px fp16: 8 GB is the practical minimum",
              "knowledge/model-family-sd15-sdxl.md; knowledge/vram-and-precision.md"),
    Published("sd3.5_simple_example.json", 12.0, "SD 3.5 Large fp8 checkpoint with fp8 T5: fits 12 GB",
              "knowledge/model-family-sd35.md (SD 3.5 settings and VRAM; Stability AI)"),
    Published("image_qwen_image.json", 24.0, "Qwen-Image fp8: 24 GB cards run it directly (weights about 20 GB)",
              "knowledge/model-family-hidream-qwen-image.md (Qwen-Image settings and VRAM)"),
    Published("hidream_i1_dev.json", 24.0, "HiDream-I1 fp8: 24 GB is comfortable (16 GB only with offloading)",
              "knowledge/model-family-hidream-qwen-image.md; knowledge/vram-and-precision.md"),
    Published("video_wan2_2_5B_ti2v.json", 12.0, "Wan 2.2 5B: 12 GB or more is comfortable (8 GB only with offloading)",
              "knowledge/model-family-wan.md (ComfyUI Wan 2.2 tutorial)"),
    Published("video_wan2_2_14B_t2v.json", 20.0, "Wan 14B fp8: 16–24 GB for good speed",
              "knowledge/model-family-wan.md; knowledge/vram-and-precision.md (Wan 14B 24 GB fp8)"),
    Published("text_to_video_wan.json", 8.0, "Wan 2.1 1.3B: runs on about 8 GB at 480p",
              "knowledge/model-family-wan.md (Wan VRAM and tuning)"),
    Published("video_wan2.1_fun_camera_v1.1_1.3B.json", 8.19, "Wan 2.1 T2V-1.3B: requires only 8.19 GB VRAM for a "
              "5-second (81-frame) 480P video; this template is the 1.3B model at 832×480, 81 frames",
              "ComfyUI blog, Wan 2.1 Video Model Native Support (https://blog.comfy.org/p/wan21-video-model-native-support), "
              "quoting the Wan 2.1 model card"),
    Published("hunyuan_video_text_to_video.json", 24.0, "HunyuanVideo bf16: 24 GB or more without heavy offloading",
              "knowledge/model-family-hunyuan-ltx.md (HunyuanVideo VRAM); knowledge/vram-and-precision.md"),
    Published("ltxv_text_to_video.json", 12.0, "LTX-Video 2B: generates in seconds on 12–16 GB; 12 GB comfortable",
              "knowledge/vram-and-precision.md (LTX-Video 2B 12 GB); knowledge/model-family-hunyuan-ltx.md"),
)


def templates_folder() -> Path:
    """The installed official templates."""
    import comfyui_workflow_templates_json as pkg

    return Path(pkg.__file__).parent / "templates"


def explained(report: FitReport) -> bool:
    """Every stage line says how it was computed, and the answer has numbers."""
    return bool(report.stages and report.summary and any(c.isdigit() for c in report.summary)
                and all(line.how for st in report.stages for line in st.lines))


def run_eval(templates: Path, ctx: ToolContext, vram_gb: float = 8.0) -> dict[str, Any]:
    """Estimate every template; returns counts, verdicts, size sources, failures and timing."""
    files = sorted(p for p in templates.glob("*.json") if p.name != "index.json" and not p.name.startswith("index."))
    with_models = estimated = explained_n = 0
    verdicts: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    families: Counter[str] = Counter()
    unexplained: list[str] = []
    failures: list[str] = []
    not_workflows: list[str] = []
    skipped = assumed = 0
    reports: dict[str, FitReport] = {}
    start = time.perf_counter()
    for path in files:
        try:
            report = fit_loaded(path, FitInput(path=str(path), vram_gb=vram_gb), ctx)
        except WorkflowFormatError:
            not_workflows.append(path.name)  # the package also ships index/config JSON files
            continue
        except Exception as exc:  # an eval counts every failure instead of stopping at the first
            failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        if report.verdict == "NO_MODELS":
            skipped += 1
            continue
        with_models += 1
        reports[path.name] = report
        estimated += report.peak_bytes > 0
        verdicts[report.verdict] += 1
        families[report.family or "?"] += 1
        assumed += "(assumed" in (report.family_label or "") or report.family is None
        sources.update(m.source for m in report.models)
        if explained(report):
            explained_n += 1
        else:
            unexplained.append(path.name)
    elapsed = time.perf_counter() - start
    return {
        "templates": len(files), "not_workflows": not_workflows, "with_models": with_models, "estimated": estimated, "explained": explained_n,
        "no_models": skipped, "failures": failures, "unexplained": unexplained, "verdicts": dict(verdicts),
        "size_sources": dict(sources), "families": dict(families.most_common()), "family_assumed": assumed, "seconds": round(elapsed, 2),
        "ms_per_workflow": round(1000 * elapsed / max(len(files), 1), 1), "vram_gb": vram_gb, "reports": reports,
    }


def published_check(reports: dict[str, FitReport]) -> list[dict[str, Any]]:
    """Each published figure against the estimate's peak for its template (±25 %)."""
    rows = []
    for pub in PUBLISHED:
        report = reports.get(pub.template)
        estimate = report.peak_bytes / GiB if report else None
        error = (estimate - pub.figure_gb) / pub.figure_gb if estimate is not None else None
        rows.append({"template": pub.template, "published_gb": pub.figure_gb, "estimate_gb": round(estimate, 1) if estimate else None,
                     "error": round(error, 3) if error is not None else None,
                     "within": error is not None and abs(error) <= TOLERANCE, "what": pub.what, "source": pub.source})
    return rows


def run_tune_eval(reports: dict[str, FitReport], templates: Path, ctx: ToolContext, vram_gb: float) -> dict[str, Any]:
    """``tune`` (dry run) on every template whose peak exceeds ``vram_gb``: how many copies fit, how many
    only with weight streaming left, and whether any change broke validation against the schemas."""
    from comfyfixer.tools.fit.tune import TuneInput, tune_workflow

    over = sorted(name for name, r in reports.items() if r.peak_bytes > vram_gb * GiB)
    verdicts: Counter[str] = Counter()
    fitted: list[str] = []
    invalid: list[str] = []
    changes: dict[str, list[str]] = {}
    families: Counter[str] = Counter()
    start = time.perf_counter()
    for name in over:
        result = tune_workflow(TuneInput(path=str(templates / name), vram_gb=vram_gb, dry_run=True), ctx)
        verdicts[result.after.verdict] += 1
        if result.validation_errors:
            invalid.append(name)
        elif result.after.verdict == "FITS":
            fitted.append(name)
            families[result.after.family or "?"] += 1
            changes[name] = [f"peak {result.before.peak_bytes / GiB:.1f} → {result.after.peak_bytes / GiB:.1f} GB"] + [
                f"{c.class_type}.{c.input}: {c.old} → {c.new}" for c in result.changes]
    return {"over_target": len(over), "after": dict(verdicts), "fitted": fitted, "invalid": invalid,
            "changes": changes, "fitted_families": dict(families),
            "catalog": ctx.catalog() is not None, "seconds": round(time.perf_counter() - start, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vram", type=float, default=8.0, help="GB to size against (default 8)")
    parser.add_argument("--templates", type=Path, default=None, help="templates folder (default: the installed package)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--tune", action="store_true", help="also tune (dry run) every template over the target")
    parser.add_argument("--manager-wheel-dir", type=Path, default=None,
                        help="folder with a comfyui_manager wheel: its model catalog supplies the variants")
    args = parser.parse_args(argv)
    from comfyfixer.agent import services

    _, ctx = services.context()
    if args.manager_wheel_dir:
        ctx = ctx.model_copy(update={"manager_wheel_dirs": (args.manager_wheel_dir,)})
    templates = args.templates or templates_folder()
    with ctx:
        result = run_eval(templates, ctx, args.vram)
        reports = result.pop("reports")
        tuned = run_tune_eval(reports, templates, ctx, args.vram) if args.tune else None
    rows = published_check(reports)
    if tuned is not None:
        result["tune"] = tuned
    if args.json:
        print(json.dumps({**result, "published": rows}, indent=2))
        return 0
    print(f"templates: {result['templates']} files ({len(result['not_workflows'])} not workflows: "
          f"{', '.join(result['not_workflows'])}), with at least one model: {result['with_models']}, "
          f"estimated: {result['estimated']}, explained: {result['explained']}, failures: {len(result['failures'])}")
    print(f"verdicts at {args.vram:g} GB: {result['verdicts']}")
    print(f"size sources: {result['size_sources']}")
    print(f"families: {result['families']} ({result['family_assumed']} not recognised by name: generic figures, "
          "marked UNCERTAIN)")
    print(f"time: {result['seconds']} s for {result['templates']} templates ({result['ms_per_workflow']} ms each)")
    for f in result["failures"][:10]:
        print(f"  failed: {f}")
    print("published VRAM figures (peak estimate vs figure, ±25 %):")
    for r in rows:
        mark = "ok " if r["within"] else "OUT"
        print(f"  {mark} {r['template']:<42} published {r['published_gb']:>5.1f} GB  estimate "
              f"{r['estimate_gb'] if r['estimate_gb'] is not None else '—':>5} GB  "
              f"({(r['error'] or 0) * 100:+.0f} %)  {r['what']} [{r['source']}]")
    if tuned is not None:
        print(f"tune --vram {args.vram:g}: {tuned['over_target']} templates over the target → {tuned['after']}; "
              f"{len(tuned['fitted'])} copies fit ({', '.join(tuned['fitted'])}); invalid copies: {len(tuned['invalid'])}; "
              f"catalog loaded: {tuned['catalog']}; {tuned['seconds']} s")
        print(f"  copies that fit, by family: {tuned['fitted_families']}")
        for name, lines in tuned["changes"].items():
            print(f"  {name}: " + "; ".join(lines))
    within = sum(r["within"] for r in rows)
    print(f"within ±25 %: {within}/{len(rows)}")
    return 0 if not result["failures"] and result["explained"] == result["with_models"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
