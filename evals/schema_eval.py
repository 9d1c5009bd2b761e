"""schema eval: do the workflow schemas build, alone and composed into real community workflows?

Run: ``python -m comfyfixer.evals.schema_eval [--json] [--show N]``

1. Every schema with every candidate of every role (and each optional role left out) is built alone and
   validated against the bundled core snapshot plus the recorded pack schemas: how many BUILT (0 errors).
2. Every schema is composed (``--into``) into every UI workflow of the community corpus
   (``../shared/data/workflows/corpus``): how many BUILT, how many reused one of the workflow's own nodes
   (LoadImage, the checkpoint loader), and whether the copy keeps every original node and link as it was
   (only the reused nodes' output link lists grow) and loads again as a workflow.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from comfyfixer.tools.blueprints.build import flatten
from comfyfixer.tools.blueprints.capability import SchemaBuildInput, SchemaBuildResult, build_schema
from comfyfixer.tools.blueprints.format import load_blueprint, schema_names
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "workflows" / "corpus"


def _kept(original: dict[str, Any], res: SchemaBuildResult) -> bool:
    """The copy holds every original node and link unchanged (reused nodes: all but their outputs)."""
    reused = {p.reused_node for p in res.picks if p.reused_node is not None}
    old = {n.get("id"): n for n in original["nodes"] if isinstance(n, dict)}
    for node in res.workflow["nodes"]:
        before = old.get(node.get("id"))
        if before is None:
            continue
        if node["id"] in reused:
            before, node = ({k: v for k, v in n.items() if k != "outputs"} for n in (before, node))
        if node != before:
            return False
    return res.workflow["links"][: len(original.get("links") or [])] == (original.get("links") or [])


def run(show: int = 5) -> dict[str, Any]:
    """Both parts; returns the scorecard as data."""
    from comfyfixer.tools.workflow.loader import load_workflow

    with tempfile.TemporaryDirectory(prefix="schema-eval-") as folder:
        return _run(Path(folder), show, load_workflow)


def _run(tmp: Path, show: int, load_workflow: Any) -> dict[str, Any]:
    ctx = ToolContext(cache_dir=tmp / "cache", state_dir=tmp / "state", offline=True)
    start = time.perf_counter()
    alone: Counter[str] = Counter()
    failures: list[str] = []
    for name in schema_names():
        for role_name, role in flatten(load_blueprint(name)).roles.items():
            for cand in [*role.candidates, *([None] if role.optional else [])]:
                res = build_schema(SchemaBuildInput(name=name, choices={role_name: cand.id if cand else "none"}), ctx)
                alone[res.status] += 1
                if res.status != "BUILT":
                    failures.append(f"{name} {role_name}={cand.id if cand else 'none'}: {res.errors[:2]}")
    composed: Counter[str] = Counter()
    workflows = 0
    for path in sorted(CORPUS.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not (isinstance(doc, dict) and isinstance(doc.get("nodes"), list)):
            continue
        workflows += 1
        for name in schema_names():
            try:
                res = build_schema(SchemaBuildInput(name=name, into=str(path)), ctx)
            except ComfyFixerError as exc:
                composed["refused"] += 1
                failures.append(f"{name} into {path.relative_to(CORPUS)}: {exc}")
                continue
            composed[res.status] += 1
            composed["reused a node"] += any(p.reused_node is not None for p in res.picks)
            kept = _kept(doc, res)
            copy = tmp / "copy.json"
            copy.write_text(json.dumps(res.workflow), encoding="utf-8")
            try:
                load_workflow(copy)
            except ComfyFixerError:
                kept = False
            composed["original kept, copy loads"] += kept
            if res.status != "BUILT" or not kept:
                failures.append(f"{name} into {path.relative_to(CORPUS)}: {res.errors[:2] or 'original changed'}")
    return {"standalone": dict(alone), "corpus_workflows": workflows, "composed": dict(composed),
            "failures": failures[:show], "failure_count": len(failures),
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="schema_eval", description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="Print the scorecard as JSON.")
    p.add_argument("--show", type=int, default=5, help="How many failures to list.")
    args = p.parse_args(argv)
    card = run(args.show)
    if args.json:
        print(json.dumps(card, indent=2))
    else:
        print(f"standalone builds (every candidate): {card['standalone']}")
        print(f"composed into {card['corpus_workflows']} community workflows × {len(schema_names())} schemas: "
              f"{card['composed']}")
        for line in card["failures"]:
            print(f"  failed: {line}")
        print(f"({card['seconds']} s)")
    return 0 if card["failure_count"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
