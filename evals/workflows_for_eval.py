"""workflows-for eval: for the primary model of every official template, is that template among the
first five hits?

Run: ``python -m comfyfixer.evals.workflows_for_eval [--json] [--show N]``

The primary model of a template is read independently of the capability under test: the inspector
(``inspect_source``) lists the model files each template loads with the folder its loader reads; the
primary is the first file of the highest-ranked folder (checkpoints, then diffusion models, then LoRAs,
upscalers, ControlNets, text encoders, VAEs), generators before helper models such as SAM
(``tools/identify/workflows.py::main_model``). Templates that load no model file (API-node templates)
have no primary and are counted apart. Each primary is then given to ``workflows_for_model`` by file
name alone, templates only, offline.

A miss is expected when more than five templates share one primary model (the ranking cannot put all
of them in the first five): the scorecard reports those separately.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from comfyfixer.evals.scorecard import template_eval_main
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.identify.template_recipes import primary_of
from comfyfixer.tools.identify.workflows import WorkflowsForInput, workflows_for_model

TOP = 5


def template_primaries(folders: Iterable[Path], *, every: int = 1) -> list[tuple[str, str]]:
    """``(template id, primary model file)`` for every template that loads a model, by the inspector
    (``every``: only every n-th template file, for a quick sample)."""
    out = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*.json"))[::every]:
            found = primary_of(path)
            if found is not None:
                out.append((path.stem, found[0]))
    return out


def run(folders: list[Path]) -> dict[str, object]:
    """The scorecard: hit rate overall and where at most five templates share the primary."""
    started = time.perf_counter()
    pairs = template_primaries(folders)
    shared = Counter(p for _, p in pairs)
    misses: list[dict[str, object]] = []
    hits = 0
    with tempfile.TemporaryDirectory() as tmp, ToolContext(cache_dir=Path(tmp) / "c", state_dir=Path(tmp) / "s",
                                                           offline=True) as ctx:
        for template, primary in pairs:
            result = workflows_for_model(WorkflowsForInput(model=primary, sources=["templates"], limit=TOP), ctx)
            names = [n for h in result.hits for n in (h.name, *h.app_versions)]
            if template in names:
                hits += 1
            else:
                misses.append({"template": template, "primary": primary, "templates_sharing_it": shared[primary],
                               "top": names})
    crowded = sum(1 for _, p in pairs if shared[p] > TOP)
    fair_misses = [m for m in misses if int(m["templates_sharing_it"]) <= TOP]  # type: ignore[call-overload]
    return {
        "templates_with_a_primary_model": len(pairs),
        f"in_top_{TOP}": hits,
        "rate": round(hits / len(pairs), 4) if pairs else 0.0,
        f"templates_whose_primary_is_shared_by_more_than_{TOP}": crowded,
        f"misses_where_at_most_{TOP}_share_it": len(fair_misses),
        "seconds": round(time.perf_counter() - started, 1),
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    return template_eval_main(argv, __doc__, run, cases="misses", show=10)


if __name__ == "__main__":
    raise SystemExit(main())
