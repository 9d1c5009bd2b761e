"""``comfyfixer diff``: how two versions of a workflow differ, and what the changes cost."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import COMFYUI, JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("diff")(diff_command)


def diff_command(
    old: str = typer.Argument(..., help="The earlier workflow (JSON, UI or API, or an image that embeds one)."),
    new: str = typer.Argument(..., help="The later workflow, in either format."),
    comfyui: Path | None = COMFYUI,
    object_info: str | None = typer.Option(None, "--object-info", help="object_info JSON file or ComfyUI URL."),
    json_out: bool = JSON_OUT,
) -> int:
    """Diff two workflows: nodes, wiring, models, values, and their runtime, memory and quality implications."""
    from rich.markdown import Markdown

    from comfyfixer.agent import services
    from comfyfixer.tools.review.models import DiffInput, WorkflowDiff
    from comfyfixer.tools.review.render import diff_markdown

    _, ctx = services.context(comfyui_dir=comfyui)
    with ctx:
        result = services.run("diff_workflows", DiffInput(old=old, new=new, object_info=object_info), ctx)
    if json_out:
        emit_json(result)
        return 0
    assert isinstance(result, WorkflowDiff)
    console.print(Markdown(diff_markdown(result)), soft_wrap=False)
    return 0
