"""``comfyfixer inspect``: what a workflow needs."""

from __future__ import annotations

import typer

from comfyfixer.agent.options import JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_command)


def inspect_command(
    workflow: str = typer.Argument(..., help="A workflow JSON (UI or API) or an image that embeds one."),
    object_info: str | None = typer.Option(None, "--object-info", help="object_info JSON file or ComfyUI URL."),
    json_out: bool = JSON_OUT,
) -> int:
    """Inspect a workflow: node types, model files, custom node packs and key parameters."""
    from comfyfixer.agent import services
    from comfyfixer.tools.workflow import InspectInput

    _, ctx = services.context()
    with ctx:
        result = services.run("inspect_workflow", InspectInput(path=workflow, object_info=object_info), ctx)
    if json_out:
        emit_json(result)
        return 0
    _render(result)
    return 0


def _render(result: object) -> None:
    from rich.markup import escape as e
    from rich.table import Table

    from comfyfixer.tools.workflow import InspectionResult

    assert isinstance(result, InspectionResult)
    console.print(f"[bold]{e(result.path)}[/] — {result.format.upper()} workflow ({e(result.container)}), "
                  f"{sum(n.count for n in result.node_types)} nodes, {len(result.node_types)} types")
    console.print(f"[dim]schemas: {e(result.schema_source)}[/]")
    if result.models:
        table = Table("model file", "folder", "node", "input", "url", title="Models")
        for m in result.models:
            table.add_row(e(m.filename) + ("" if m.active else " [dim](muted)[/]"), e(m.folder or "?"), e(m.node_id),
                          e(m.input or ""), e(m.url or ""))
        console.print(table)
    if result.custom_nodes:
        table = Table("class", "status", "pack(s)", "why", title="Custom nodes")
        colour = {"RESOLVED": "green", "UNCERTAIN": "yellow", "NOT_FOUND": "red", "CORE_UPDATE": "cyan"}
        for f in result.custom_nodes:
            packs = "\n".join(e(p.reference) for p in f.packs)
            table.add_row(e(f.class_type), f"[{colour[f.status]}]{f.status}[/]", packs, e(f.reason))
        console.print(table)
    else:
        console.print("[green]Only core nodes.[/]")
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {e(w)}")
