"""identify eval: how well does a file *name* alone say what a model is?

Run: ``python -m comfyfixer.evals.identify_eval [--json]``

Headers are the reliable path (``tests/identify`` builds real headers for every family); this eval
measures the fallback the assistant uses when only a name is known. Every model the official templates
list in ``properties.models`` (name + the folder the template files it under) is identified twice,
offline: by its name alone (the name rules), and through the capability (which also reads the catalogs,
so the templates themselves can answer — an upper bound, not a fair test). Scored: the role agrees with
the template's folder (only folders that map to a role), and how many names get a family at all.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from comfyfixer.evals.scorecard import template_eval_main
from comfyfixer.tools.catalogs.model_index import iter_properties_models
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.identify.capability import identify_model
from comfyfixer.tools.identify.detect import family_from_name, role_from_name
from comfyfixer.tools.identify.models import IdentifyInput
from comfyfixer.tools.identify.rules import FOLDER_ROLE


def template_models(folders: list[Path]) -> dict[str, str]:
    """Every distinct ``name → directory`` the templates' ``properties.models`` give."""
    out: dict[str, str] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for m in iter_properties_models(doc):
                if isinstance(m.get("name"), str) and isinstance(m.get("directory"), str):
                    out.setdefault(m["name"].rsplit("/", 1)[-1], m["directory"])
    return out


def run(folders: list[Path]) -> dict[str, object]:
    started = time.perf_counter()
    models = template_models(folders)
    scored = {n: FOLDER_ROLE[d] for n, d in models.items() if d in FOLDER_ROLE}
    by_name = Counter[str]()
    per_role: dict[str, list[int]] = {r: [0, 0, 0] for r in set(scored.values())}
    wrong: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, ToolContext(cache_dir=Path(tmp) / "c", state_dir=Path(tmp) / "s",
                                                           offline=True) as ctx:
        for name, role in scored.items():
            guessed = role_from_name(name)
            per_role[role][0 if guessed == role else 1 if guessed == "unknown" else 2] += 1
            if guessed == role:
                by_name["role_right"] += 1
            elif guessed == "unknown":
                by_name["role_unknown"] += 1
            else:
                by_name["role_wrong"] += 1
                wrong.append(f"{name}: {guessed} (template folder: {role})")
            if identify_model(IdentifyInput(model=name), ctx).role == role:
                by_name["capability_role_right"] += 1
        families = sum(1 for n in models if family_from_name(n)[0])
    return {
        "template_models": len(models),
        "with_a_role_folder": len(scored),
        "name_rules_role_right": by_name["role_right"],
        "name_rules_role_unknown": by_name["role_unknown"],
        "name_rules_role_wrong": by_name["role_wrong"],
        "capability_role_right_with_the_catalogs": by_name["capability_role_right"],
        "names_with_a_family": families,
        "name_rules_by_role (right, unknown, wrong)": {r: v for r, v in sorted(per_role.items())},
        "seconds": round(time.perf_counter() - started, 1),
        "wrong": wrong,
    }


def main(argv: list[str] | None = None) -> int:
    return template_eval_main(argv, __doc__, run, cases="wrong", show=15)


if __name__ == "__main__":
    raise SystemExit(main())
