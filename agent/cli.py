"""The ``comfyfixer`` command: a thin shell over the library.

Exit codes: 0 ok; 1 findings (only with ``--strict``); 2 usage or input error.
Each command lives in ``comfyfixer.agent.commands.<name>`` and imports its heavy
stack (HTTP clients, LLM) inside the command body, so ``comfyfixer --help`` stays fast. A command
module itself is imported only when its command runs (``comfyfixer check`` imports ``check`` alone);
``--help`` imports them all to list them. The typer application is in ``cli_app.py``: this module
imports nothing heavy, so :func:`main` can first let ``agent/recheck.py`` answer an unchanged
``check --json`` from its previous run, and else run that plain form through ``agent/check_run.py``
without typer.
"""

from __future__ import annotations

import sys
from typing import Any

# Modules under comfyfixer.agent.commands, each with `register(app: typer.Typer)`, and the top-level
# commands (or groups) it registers, in the order `--help` lists them.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "inspect": ("inspect",),
    "image": ("image",),
    "reconstruct": ("reconstruct",),
    "check": ("check",),
    "chat": ("ask", "chat"),
    "fix": ("fix", "approve", "apply"),
    "resolve": ("resolve",),
    "catalogs": ("catalogs",),
    "runpod": ("runpod",),
    "comfyui": ("comfyui",),
    "schedule": ("schedule",),
    "knowledge": ("knowledge",),
    "hardware": ("hardware",),
    "fit": ("fit",),
    "tune": ("tune",),
    "review": ("review",),
    "diff": ("diff",),
    "identify": ("identify",),
    "workflows_for": ("workflows-for",),
    "build": ("build",),
    "schema": ("schema",),
    "undo": ("undo", "snapshots"),
}


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (tests call this)."""
    from comfyfixer.agent.cli_app import run_app

    return run_app(argv)


def main() -> None:
    """The console script: a replayed answer when ``agent/recheck.py`` has a valid one, else the CLI
    (whose answer is then stored when it may be replayed)."""
    from comfyfixer.agent import recheck

    argv = sys.argv[1:]
    replayed = recheck.replay(argv)
    if replayed is not None:
        sys.exit(replayed)
    with recheck.recording(argv) as rec:
        code = None
        if recheck.eligible(argv):  # the plain check --json form runs without building the typer app
            from comfyfixer.agent.check_run import run_plain

            code = run_plain(argv)
        if code is None:
            code = run(argv)
        rec.finish(code)
    sys.exit(code)


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer application, built on first use
        from comfyfixer.agent.cli_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
