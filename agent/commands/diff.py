"""``comfyfixer diff``: how two versions of a workflow differ, and what the changes cost."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import COMFYUI, JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    """Add the ``diff`` command to the CLI."""
    app.command("diff")(diff_command)


def diff_command(
    workflows: list[str] = typer.Argument(..., help="OLD NEW (JSON, UI or API, or images that embed one), or just "
                                          "NEW to compare it with its predecessor in the check/schedule history."),
    comfyui: Path | None = COMFYUI,
    object_info: str | None = typer.Option(None, "--object-info", help="object_info JSON file or ComfyUI URL."),
    json_out: bool = JSON_OUT,
) -> int:
    """Diff two workflows: nodes, wiring, models, values, and their runtime, memory and quality implications."""
    from rich.markdown import Markdown

    from comfyfixer.agent import services
    from comfyfixer.tools.errors import InputError
    from comfyfixer.tools.review.models import DiffInput, WorkflowDiff
    from comfyfixer.tools.review.render import diff_markdown

    if len(workflows) > 2:
        raise InputError("diff takes one or two workflows", hint="comfyfixer diff OLD NEW, or comfyfixer diff NEW")
    old, new = (None, workflows[0]) if len(workflows) == 1 else (workflows[0], workflows[1])
    _, ctx = services.context(comfyui_dir=comfyui)
    with ctx:
        result = services.run("diff_workflows", DiffInput(old=old, new=new, object_info=object_info), ctx)
    if json_out:
        emit_json(result)
        return 0
    assert isinstance(result, WorkflowDiff)
    console.print(Markdown(diff_markdown(result)), soft_wrap=False)
    return 0
