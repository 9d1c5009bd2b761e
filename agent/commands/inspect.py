"""``comfyfixer inspect``: what a workflow needs."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_command)


def inspect_command(
    workflow: str = typer.Argument(..., help="A workflow JSON (UI or API) or an image that embeds one."),
    object_info: str | None = typer.Option(None, "--object-info", help="object_info JSON file or ComfyUI URL."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> int:
    """Inspect a workflow: node types, model files, custom node packs and key parameters."""
    raise NotImplementedError
