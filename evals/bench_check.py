"""Benchmark: re-checking 1,000 real workflows against an unchanged install of 5,000 model files.

Peers, in the same run and on the same data:

* **cold** — an empty cache: every model directory is listed, every pack parsed, every workflow inspected;
* **warm** — the same check again with the cache the cold run left (nothing changed on disk): directories
  are only stat'ed and inspections are reused, keyed on each file's path, size and mtime.

Workflows: the official templates (``comfyui-workflow-templates-json``) plus the shared community corpus,
cycled to ``--workflows`` files. Models: empty files named like the models those workflows reference plus
filler names, spread over the default folders (with sub-folders) up to ``--models`` files.

``python -m comfyfixer.evals.bench_check [--workflows 1000] [--models 5000] [--repeat 3] [--json]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.readiness import CheckInput, CheckResult, check_workflows

FOLDERS = ["checkpoints", "loras", "vae", "text_encoders", "clip", "unet", "diffusion_models", "controlnet",
           "upscale_models", "clip_vision", "embeddings"]
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "workflows" / "corpus"


def _sources(extra: Path | None) -> list[Path]:
    import comfyui_workflow_templates_json as pkg

    files = sorted((Path(pkg.__file__).parent / "templates").glob("*.json"))
    corpus = extra if extra is not None else SHARED_CORPUS
    if corpus.is_dir():
        files += sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".json", ".png", ".webp"))
    return files


def build_workspace(root: Path, n_workflows: int, n_models: int, corpus: Path | None) -> tuple[Path, Path]:
    """Write the workflows and the ComfyUI tree under ``root``; return (workflows dir, ComfyUI dir)."""
    wf_dir = root / "workflows"
    base = root / "ComfyUI"
    sources = _sources(corpus)
    for i in range(n_workflows):
        src = sources[i % len(sources)]
        dst = wf_dir / f"batch{i // 100:02d}" / f"{i:04d}_{src.name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    # Model names the templates reference, so a realistic share of lookups hit.
    names: list[str] = []
    for src in sources[:400]:
        try:
            data = json.loads(src.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        for node in data.get("nodes", []) if isinstance(data, dict) else []:
            for m in (node.get("properties") or {}).get("models") or [] if isinstance(node, dict) else []:
                if isinstance(m, dict) and isinstance(m.get("name"), str) and isinstance(m.get("directory"), str):
                    names.append(f"{m['directory']}/{m['name']}")
    names = sorted(set(names))[: n_models // 2]
    count = 0
    for rel in names:
        f = base / "models" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.touch()
        count += 1
    i = 0
    while count < n_models:
        folder = FOLDERS[i % len(FOLDERS)]
        sub = f"set{(i // len(FOLDERS)) % 25:02d}"
        f = base / "models" / folder / sub / f"filler_{i:05d}.safetensors"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.touch()
        count += 1
        i += 1
    pack = base / "custom_nodes" / "bench_pack"
    pack.mkdir(parents=True, exist_ok=True)
    (pack / "__init__.py").write_text('NODE_CLASS_MAPPINGS = {"BenchNode": object}\n', encoding="utf-8")
    return wf_dir, base


def _timed(inp: CheckInput, ctx: ToolContext) -> tuple[float, CheckResult]:
    t0 = time.perf_counter()
    result = check_workflows(inp, ctx)
    return time.perf_counter() - t0, result


def _signature(result: CheckResult) -> list[tuple[str, str, int, int, int]]:
    return [(w.path, w.status, len(w.missing_models), len(w.misplaced_models), len(w.missing_node_types))
            for w in result.workflows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workflows", type=int, default=1000)
    ap.add_argument("--models", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3, help="warm runs (the median is reported)")
    ap.add_argument("--corpus", type=Path, default=None, help="extra workflows folder (default: shared corpus)")
    ap.add_argument("--manager-wheel-dir", type=Path, default=None)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the generated workspace here")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench_check_")) if args.workdir is None else args.workdir
    try:
        t0 = time.perf_counter()
        wf_dir, base = build_workspace(tmp, args.workflows, args.models, args.corpus)
        setup_s = time.perf_counter() - t0
        wheels = args.manager_wheel_dir or Path(__file__).resolve().parents[1] / ".cache" / "corpora"
        inp = CheckInput(paths=[str(wf_dir)])
        ctx = ToolContext(comfyui_dir=base, cache_dir=tmp / "cache", state_dir=tmp / "state", manager_wheel_dirs=(wheels,))
        cold_s, cold = _timed(inp, ctx)
        warm = [_timed(inp, ctx) for _ in range(max(1, args.repeat))]
        warm_s = statistics.median(t for t, _ in warm)
        same = all(_signature(r) == _signature(cold) for _, r in warm)
        last = warm[-1][1]
        report = {
            "workflows": cold.summary.total,
            "model_files": args.models,
            "catalog": cold.catalog_source,
            "setup_s": round(setup_s, 3),
            "cold_s": round(cold_s, 3),
            "cold_phases": cold.timings,
            "warm_median_s": round(warm_s, 3),
            "warm_runs_s": [round(t, 3) for t, _ in warm],
            "warm_phases": last.timings,
            "ratio_cold_over_warm": round(cold_s / warm_s, 1) if warm_s else None,
            "warm_cache": last.cache,
            "summary": cold.summary.model_dump(),
            "same_results": same,
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"bench_check: {report['workflows']} workflows, {args.models} model files, catalog: {report['catalog']}")
            print(f"  statuses: {report['summary']}")
            print(f"  cold (empty cache): {cold_s:8.3f} s  (inventory {cold.timings['inventory_s']:.3f} s, "
                  f"workflows {cold.timings['workflows_s']:.3f} s)")
            print(f"  warm (same cache):  {warm_s:8.3f} s  (inventory {last.timings['inventory_s']:.3f} s, "
                  f"workflows {last.timings['workflows_s']:.3f} s; median of {len(warm)})")
            print(f"  ratio cold/warm: {report['ratio_cold_over_warm']}x; warm cache: {last.cache}; "
                  f"identical results: {same}")
        return 0 if same else 1
    finally:
        if args.workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
