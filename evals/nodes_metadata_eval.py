"""The save node's metadata over every official template: write, read back, compare.

For each UI workflow of the ``comfyui-workflow-templates-json`` package (600+), the API prompt the
project's converter makes from it and the workflow itself are written by the save node's writer into
a small PNG, JPEG and WebP, then read back with ``read_image``. Counted per container: graphs
identical after the round trip, parser fields (prompt, seed, steps, cfg, sampler…) identical to the
embedded document's, documents that went to a sidecar, and the time per image::

    python -m comfyfixer.evals.nodes_metadata_eval [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
FIELDS = ("prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler")


def templates() -> list[Path]:
    """The package's template workflows (``templates/*.json`` except its index files)."""
    import comfyui_workflow_templates_json as pkg

    folder = Path(pkg.__file__).parent / "templates"
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("index"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import numpy as np

    from comfyfixer.nodes import metadata, nodes
    from comfyfixer.tools.errors import ComfyFixerError
    from comfyfixer.tools.imagemeta.reader import read_image
    from comfyfixer.tools.schema.loader import bundled_core_schemas
    from comfyfixer.tools.workflow import graph_to_api, load_workflow

    schemas = bundled_core_schemas()
    batch = np.full((1, 8, 8, 3), 0.25, dtype=np.float32)
    files = templates()[: args.limit or None]
    stats: dict[str, dict[str, Any]] = {f: {"images": 0, "graphs_equal": 0, "fields_equal": 0, "sidecar": 0, "ms": []}
                                        for f in ("png", "jpeg", "webp")}
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for n, path in enumerate(files):
            try:
                loaded = load_workflow(str(path))
                if loaded.format != "ui":
                    skipped.append(f"{path.name}: {loaded.format} format")
                    continue
                prompt, workflow = graph_to_api(loaded.graph, schemas), loaded.data
            except (ComfyFixerError, ValueError, KeyError, TypeError) as exc:
                skipped.append(f"{path.name}: {exc}")
                continue
            for fmt, s in stats.items():
                t0 = time.perf_counter()
                (w,) = nodes.save_batch(batch, out, f"t{n}", 1, fmt, prompt=prompt, workflow=workflow, runtime=None,
                                        budget=metadata.DEFAULT_INLINE_BUDGET)
                info = read_image(w.image)
                s["ms"].append((time.perf_counter() - t0) * 1000)
                doc = info.extra.get("comfyfixer", {})
                s["images"] += 1
                s["sidecar"] += w.sidecar is not None
                s["graphs_equal"] += info.prompt_graph == prompt and info.workflow == workflow
                parser = doc.get("parser", {})
                s["fields_equal"] += all(getattr(info, f) == parser[f] for f in FIELDS if f in parser)
    summary = {fmt: {k: (round(statistics.median(v), 1) if k == "ms" and v else v) for k, v in s.items()}
               for fmt, s in stats.items()}
    result = {"templates": len(files), "skipped": len(skipped), "skipped_examples": skipped[:5], "per_container": summary}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{len(files)} templates, {len(skipped)} skipped")
        for fmt, s in summary.items():
            print(f"{fmt:5} images {s['images']}  graphs equal {s['graphs_equal']}  fields equal {s['fields_equal']}  "
                  f"sidecar {s['sidecar']}  median {s['ms']} ms write+read")
    ok = all(s["graphs_equal"] == s["images"] == s["fields_equal"] for s in stats.values())
    return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
