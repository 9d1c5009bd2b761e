"""``comfyfixer review``: what a workflow does, with which models and settings, and what may go wrong."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import COMFYUI, JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    """Add the ``review`` command to the CLI."""
    app.command("review")(review_command)


def review_command(
    workflow: str = typer.Argument(..., help="A workflow JSON (UI or API) or an image that embeds one."),
    comfyui: Path | None = COMFYUI,
    object_info: str | None = typer.Option(None, "--object-info", help="object_info JSON file or ComfyUI URL."),
    no_readiness: bool = typer.Option(False, "--no-readiness", help="Do not check what is missing on the ComfyUI."),
    vram_gb: float | None = typer.Option(None, "--vram-gb", help="Size the VRAM fit for a card of this many GB."),
    json_out: bool = JSON_OUT,
) -> int:
    """Review a workflow: task, model family and roles, settings against the family's ranges, risks, what is missing."""

    from comfyfixer.agent import services
    from comfyfixer.tools.review import ReviewInput, WorkflowReview
    from comfyfixer.tools.review.render import review_markdown

    _, ctx = services.context(comfyui_dir=comfyui)
    with ctx:
        result = services.run("review_workflow", ReviewInput(path=workflow, object_info=object_info,
                                                             readiness=not no_readiness, vram_gb=vram_gb), ctx)
    if json_out:
        emit_json(result)
        return 0
    assert isinstance(result, WorkflowReview)
    from rich.markdown import Markdown

    # The Markdown escapes the workflow's names; rich renders it (no console markup is parsed).
    console.print(Markdown(review_markdown(result)), soft_wrap=False)
    return 0
