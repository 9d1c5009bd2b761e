"""The command line the template-corpus evals share: run over the installed official templates, print
the scorecard as ``key: value`` lines (or one JSON document), then up to ``--show`` of its listed cases.

Each eval (``identify_eval``, ``workflows_for_eval``, ``build_eval``) supplies ``run(folders) -> dict``
and names the list in the scorecard that holds the cases worth reading (misses, wrong answers).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def template_eval_main(
    argv: list[str] | None,
    doc: str | None,
    run: Callable[[list[Path]], dict[str, Any]],
    *,
    cases: str | None = None,
    show: int = 10,
    extra_args: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """Parse ``--json`` and ``--show N`` (plus ``extra_args``), run over the template folders and print.

    Returns 2 (with a message) when no template package is installed, else 0. ``run`` receives the
    parsed arguments as a second argument when ``extra_args`` is given.
    """
    from comfyfixer.tools.catalogs.model_index import find_template_dirs

    ap = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    ap.add_argument("--json", action="store_true", help="print the whole scorecard as JSON")
    if cases:
        ap.add_argument("--show", type=int, default=show, help=f"{cases} to list")
    if extra_args:
        extra_args(ap)
    args = ap.parse_args(argv)
    folders = find_template_dirs()
    if not folders:
        sys.stderr.write("no template package installed (pip install comfyui-workflow-templates-json)\n")
        return 2
    card = run(folders, args) if extra_args else run(folders)  # type: ignore[call-arg]
    if args.json:
        sys.stdout.write(json.dumps(card, indent=2, default=str) + "\n")
        return 0
    listed = list(card.pop(cases, []) or []) if cases else []
    for key, value in card.items():
        sys.stdout.write(f"{key}: {value}\n")
    for case in listed[: getattr(args, "show", 0)]:
        sys.stdout.write(f"{cases}: {case if isinstance(case, str) else json.dumps(case, default=str)}\n")
    return 0
