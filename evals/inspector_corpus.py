"""Inspector accuracy over the real corpora.

* official templates (``comfyui-workflow-templates-json``): recall of every ``properties.models``
  entry (including inside subgraphs), and no subgraph id ever reported as a node type;
* community workflows (``shared/data/workflows`` with ``truth.json``): model-reference recall
  and pack attribution where truth is unambiguous.

``python -m comfyfixer.evals.inspector_corpus [--shared DIR]`` prints the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comfyfixer.tools.catalogs.manager import ManagerCatalog, normalize_repo_url
from comfyfixer.tools.errors import ComfyFixerError
from comfyfixer.tools.schema.loader import SchemaSet, bundled_core_schemas
from comfyfixer.tools.workflow import InspectionResult, inspect_source


def _base(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return base.removeprefix("embedding:")


@dataclass
class CorpusScore:
    files: int = 0
    crashed: list[str] = field(default_factory=list)
    format_errors: list[str] = field(default_factory=list)
    expected_models: int = 0
    found_models: int = 0
    missed: list[str] = field(default_factory=list)
    subgraph_ids_as_types: list[str] = field(default_factory=list)
    pack_checked: int = 0
    pack_agree: int = 0
    pack_disagree: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found_models / self.expected_models if self.expected_models else 1.0


def _template_expected(data: Any) -> list[str]:
    """Every properties.models name in the template, top level and inside subgraph definitions."""
    names: list[str] = []

    def walk_nodes(nodes: Any) -> None:
        for n in nodes or []:
            if isinstance(n, dict):
                for m in (n.get("properties") or {}).get("models") or []:
                    if isinstance(m, dict) and m.get("name"):
                        names.append(_base(str(m["name"])))

    def walk(container: Any, depth: int = 0) -> None:
        if not isinstance(container, dict) or depth > 10:
            return
        walk_nodes(container.get("nodes"))
        for sg in (container.get("definitions") or {}).get("subgraphs") or []:
            walk(sg, depth + 1)

    walk(data)
    return names


def _subgraph_ids(data: Any) -> set[str]:
    ids: set[str] = set()

    def walk(container: Any, depth: int = 0) -> None:
        if not isinstance(container, dict) or depth > 10:
            return
        for sg in (container.get("definitions") or {}).get("subgraphs") or []:
            if isinstance(sg, dict) and sg.get("id"):
                ids.add(str(sg["id"]))
                walk(sg, depth + 1)

    walk(data)
    return ids


def recall_counts(expected: list[str], found: list[str]) -> tuple[int, list[str]]:
    """(expected references found, names missed). Names are compared as lower-cased base names;
    a file declared several times counts as found wherever the workflow loads it at all."""
    have = set(found)
    hit = sum(n for name, n in Counter(expected).items() if name in have)
    missed = sorted({name for name in expected if name not in have})
    return hit, missed


def _recall(expected: list[str], result: InspectionResult) -> tuple[int, list[str]]:
    return recall_counts(expected, [_base(m.filename) for m in result.models])


def _inspect_and_count(
    score: CorpusScore, path: Path, name: str, expected: list[str], schemas: SchemaSet, catalog: ManagerCatalog | None
) -> InspectionResult | None:
    """Inspect one file and add its model recall to ``score``; errors are counted, never raised."""
    score.files += 1
    try:
        result = inspect_source(path, schemas=schemas, catalog=catalog)
    except ComfyFixerError as exc:
        score.format_errors.append(f"{name}: {exc}")
        return None
    except Exception as exc:
        score.crashed.append(f"{name}: {type(exc).__name__}: {exc}")
        return None
    hit, missed = _recall(expected, result)
    score.expected_models += len(expected)
    score.found_models += hit
    score.missed.extend(f"{name}: {m}" for m in missed)
    return result


def score_templates(templates_dir: Path, schemas: SchemaSet, catalog: ManagerCatalog | None) -> CorpusScore:
    score = CorpusScore()
    for path in sorted(templates_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "nodes" not in data:
            continue
        result = _inspect_and_count(score, path, path.name, _template_expected(data), schemas, catalog)
        if result is None:
            continue
        sg = _subgraph_ids(data)
        bad = [t.class_type for t in result.node_types if t.class_type in sg]
        bad += [f.class_type for f in result.custom_nodes if f.class_type in sg]
        score.subgraph_ids_as_types.extend(f"{path.name}: {b}" for b in bad)
    return score


def score_community(shared_data: Path, schemas: SchemaSet, catalog: ManagerCatalog | None) -> CorpusScore:
    score = CorpusScore()
    truth: dict[str, Any] = json.loads((shared_data / "workflows" / "truth.json").read_text(encoding="utf-8"))
    for rel, t in sorted(truth.items()):
        expected = [_base(m["file"]) for m in t.get("models", [])]
        result = _inspect_and_count(score, shared_data / "workflows" / rel, rel, expected, schemas, catalog)
        if result is None:
            continue
        ambiguous = {a["class"] for a in t.get("packs_ambiguous", [])}
        ours = {f.class_type: f for f in result.custom_nodes}
        for cls, info in t.get("custom_classes", {}).items():
            repos = info.get("repos") or []
            if cls in ambiguous or len(repos) != 1:
                continue
            score.pack_checked += 1
            f = ours.get(cls)
            if f is not None and f.status == "RESOLVED" and normalize_repo_url(repos[0]) in {
                normalize_repo_url(p.reference) for p in f.packs
            }:
                score.pack_agree += 1
            else:
                got = f"{f.status} {[p.reference for p in f.packs]}" if f else "core/absent"
                score.pack_disagree.append(f"{rel}: {cls}: truth {repos[0]}, ours {got}")
    return score


def _print(name: str, s: CorpusScore) -> None:
    print(f"{name}: {s.files} files, crashes {len(s.crashed)}, format errors {len(s.format_errors)}")
    print(f"  model-reference recall {s.found_models}/{s.expected_models} = {s.recall:.2%}")
    if s.pack_checked:
        print(f"  pack attribution agrees {s.pack_agree}/{s.pack_checked} = {s.pack_agree / s.pack_checked:.2%}")
    print(f"  subgraph ids reported as node types: {len(s.subgraph_ids_as_types)}")
    for line in (s.crashed + s.format_errors + s.missed + s.pack_disagree)[:25]:
        print("   -", line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--manager-wheel-dir", type=Path, default=Path(".cache/corpora"))
    args = parser.parse_args(argv)
    import comfyui_workflow_templates_json as templates_pkg

    from comfyfixer.tools.catalogs.manager import load_manager_catalog

    catalog = load_manager_catalog(wheel_dirs=[args.manager_wheel_dir])
    schemas = bundled_core_schemas()
    _print("official templates", score_templates(Path(templates_pkg.__file__).parent / "templates", schemas, catalog))
    _print("community workflows", score_community(args.shared, schemas, catalog))
    return 0


if __name__ == "__main__":
    sys.exit(main())
