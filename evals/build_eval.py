"""build eval: for the primary model of every official template, does ``build`` with the template's task
produce a workflow that validates against the real ``object_info`` with 0 errors?

Run: ``python -m comfyfixer.evals.build_eval [--json] [--show N] [--object-info PATH]``

Primary models come from the inspector, as in ``workflows_for_eval``. The template's task is the one
``tools/review`` reads off it (mapped onto the build tasks by ``template_recipes.TASKS``): audio, 3d,
text and process (segmentation, pose, …) for the non-generators; video families with a built-in recipe
get ``video``. A template the review cannot read falls back to its name (``inpaint``, ``upscal``,
``img2img`` / ``image_to_image`` / ``edit``, ``video`` / ``i2v`` / ``t2v``…, else txt2img). Validation uses
``../shared/data/comfyui/object_info.json`` (ComfyUI 0.3.64), and for graphs with newer core nodes the
bundled 0.33.0 core schemas (``tools/schema/data/SOURCES.md``); the scorecard says how many needed
those. It separates builds with errors from models the builder has no recipe for.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from comfyfixer.evals.scorecard import template_eval_main
from comfyfixer.evals.workflows_for_eval import template_primaries
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.identify.build import RECIPES, BuildInput, BuildResult, Task, build_workflow

OBJECT_INFO = Path(__file__).resolve().parents[2] / "shared" / "data" / "comfyui" / "object_info.json"


def template_task(template: str, family: str | None, derived: Task | None = None) -> Task:
    """The template's task (see the module docstring): ``derived`` is the review's, when it was read."""
    name = template.lower()
    recipe = RECIPES.get(family or "")
    if recipe is not None and recipe.video:
        return "video"
    if derived is not None:
        return derived
    if "inpaint" in name:
        return "inpaint"
    if "upscal" in name:
        return "upscale"
    if any(k in name for k in ("img2img", "image_to_image", "edit")):
        return "img2img"
    if any(k in name for k in ("video", "i2v", "t2v", "v2v", "flf2v")):
        return "video"
    return "txt2img"


def build_for_template(template: Path, primary: str, ctx: ToolContext) -> tuple[Task, BuildResult]:
    """``build`` for a template's primary model with the template's task."""
    from comfyfixer.tools.identify.build import template_recipes
    from comfyfixer.tools.identify.capability import identify_model
    from comfyfixer.tools.identify.models import IdentifyInput

    family = identify_model(IdentifyInput(model=primary), ctx).family
    derived = template_recipes(ctx).recipe(template)
    task = template_task(template.stem, family, derived.task if derived else None)
    return task, build_workflow(BuildInput(model=primary, task=task), ctx)


def run(folders: list[Path], object_info: Path) -> dict[str, object]:
    """The scorecard over every template primary model."""
    from comfyfixer.tools.schema.loader import newer_core_schema_sets

    started = time.perf_counter()
    pairs = template_primaries(folders)
    paths = {p.stem: p for f in folders for p in Path(f).glob("*.json")}
    built, newer, paid, invalid, unsupported = 0, 0, [], [], Counter[str]()
    with tempfile.TemporaryDirectory() as tmp, ToolContext(cache_dir=Path(tmp) / "c", state_dir=Path(tmp) / "s",
                                                           offline=True, object_info_file=object_info) as ctx:
        for template, primary in pairs:
            task, result = build_for_template(paths[template], primary, ctx)
            if result.status == "BUILT":
                built += 1
                newer += result.schemas in {s.source for s in newer_core_schema_sets()}
                if result.paid_api_nodes:
                    paid.append(template)
            elif result.status == "INVALID":
                invalid.append({"template": template, "primary": primary, "task": task, "errors": result.errors[:5]})
            else:
                unsupported[f"{result.family or 'unknown family'} / {result.task}"] += 1
    total = len(pairs)
    return {
        "templates_with_a_primary_model": total,
        "built_with_0_errors": built,
        "rate": round(built / total, 4) if total else 0.0,
        "built_needing_newer_core_schemas": newer,
        "built_calling_paid_apis": paid,
        "built_with_errors": len(invalid),
        "no_recipe": sum(unsupported.values()),
        "no_recipe_by_family_and_task": dict(unsupported.most_common()),
        "validated_against": str(object_info),
        "seconds": round(time.perf_counter() - started, 1),
        "invalid": invalid,
    }


def main(argv: list[str] | None = None) -> int:
    def extra(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--object-info", type=Path, default=OBJECT_INFO, help="object_info JSON to validate against")

    if not OBJECT_INFO.is_file() and "--object-info" not in (argv or sys.argv):
        sys.stderr.write("needs ../shared/data/comfyui/object_info.json (or --object-info FILE)\n")
        return 2
    return template_eval_main(argv, __doc__, lambda folders, args: run(folders, args.object_info), extra_args=extra)


if __name__ == "__main__":
    raise SystemExit(main())
