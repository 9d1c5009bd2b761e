"""Benchmark: our workflow inspector against comfy-resolve's workflow parser, same files, same run.

Peer: PyPI ``comfy-resolve`` (``comfy_resolve.parser.parse_workflow``), a workflow dependency
resolver; install it for this benchmark only: ``pip install comfy-resolve``.

Corpus: every official template (``comfyui-workflow-templates-json``) and every community workflow in
``shared/data/workflows``. Prints workflows per second for each, the ratio, and how many model
references each found, and the recall of each against the expected references (the templates'
``properties.models``; the community set's ``truth.json``).

``python -m comfyfixer.evals.bench_inspector [--shared DIR] [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comfyfixer.evals.inspector_corpus import _base, _template_expected, recall_counts
from comfyfixer.tools.catalogs.manager import load_manager_catalog
from comfyfixer.tools.schema.loader import bundled_core_schemas
from comfyfixer.tools.workflow import inspect_source


def _corpus(shared: Path) -> list[tuple[Path, list[str]]]:
    import comfyui_workflow_templates_json as pkg

    items: list[tuple[Path, list[str]]] = []
    for path in sorted((Path(pkg.__file__).parent / "templates").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "nodes" in data:
            items.append((path, _template_expected(data)))
    truth = json.loads((shared / "workflows" / "truth.json").read_text(encoding="utf-8"))
    for rel, t in sorted(truth.items()):
        items.append((shared / "workflows" / rel, [_base(m["file"]) for m in t.get("models", [])]))
    return items


def _run(name: str, fn: Callable[[Path], list[str]], items: list[tuple[Path, list[str]]], repeat: int) -> dict[str, Any]:
    found_total = hit = expected = errors = 0
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        results: list[list[str] | None] = []
        for path, _exp in items:
            try:
                results.append(fn(path))
            except Exception:
                results.append(None)
        best = min(best, time.perf_counter() - start)
    for (_path, exp), got in zip(items, results, strict=True):
        expected += len(exp)
        if got is None:
            errors += 1
            continue
        found_total += len(got)
        hit += recall_counts(exp, got)[0]
    return {"name": name, "seconds": best, "per_second": len(items) / best, "refs": found_total,
            "recall": hit / expected if expected else 1.0, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="inspector vs comfy-resolve")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--manager-wheel-dir", type=Path, default=Path(".cache/corpora"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    items = _corpus(args.shared)
    catalog = load_manager_catalog(wheel_dirs=[args.manager_wheel_dir])
    schemas = bundled_core_schemas()

    def ours(path: Path) -> list[str]:
        return [_base(m.filename) for m in inspect_source(path, schemas=schemas, catalog=catalog).models]

    rows = [_run("comfyfixer inspect", ours, items, args.repeat)]
    try:
        from comfy_resolve.parser import parse_workflow
    except ImportError:
        print("peer comfy-resolve is not installed: `pip install comfy-resolve` to compare")
    else:
        rows.append(_run("comfy-resolve parse_workflow", lambda p: [_base(a.raw_name) for a in parse_workflow(p)],
                         items, args.repeat))
    print(f"{len(items)} workflows (official templates + community corpus), best of {args.repeat}")
    print(f"{'tool':32} {'wf/s':>9} {'seconds':>8} {'refs':>6} {'recall':>8} {'errors':>6}")
    for r in rows:
        print(f"{r['name']:32} {r['per_second']:9.1f} {r['seconds']:8.2f} {r['refs']:6d} {r['recall']:8.2%} {r['errors']:6d}")
    if len(rows) == 2:
        print(f"speed ratio (ours / comfy-resolve): {rows[0]['per_second'] / rows[1]['per_second']:.2f}x; "
              "ours also attributes custom node packs, which comfy-resolve does not")
    return 0


if __name__ == "__main__":
    sys.exit(main())
