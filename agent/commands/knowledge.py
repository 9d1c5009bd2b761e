"""``comfyfixer knowledge``: search the knowledge pack the assistant cites."""

from __future__ import annotations

import typer

from comfyfixer.agent.options import JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("knowledge")(knowledge_command)


def knowledge_command(
    query: list[str] = typer.Argument(..., help="Keywords, e.g. flux vae folder."),
    limit: int = typer.Option(4, "--limit", min=1, max=10, help="How many sections to show."),
    tag: str | None = typer.Option(None, "--tag", help="Only documents with this tag (errors, models, ...)."),
    json_out: bool = JSON_OUT,
) -> int:
    """Search ComfyFixerSmart's knowledge pack: model folders, families, packs, samplers, errors."""
    from comfyfixer.agent import services
    from comfyfixer.tools.knowledge import KnowledgeQuery

    _, ctx = services.context()
    with ctx:
        result = services.run("search_knowledge", KnowledgeQuery(query=" ".join(query), limit=limit, tag=tag), ctx)
    if json_out:
        emit_json(result)
        return 0
    if not result.hits:
        console.print("nothing found", markup=False)
    for hit in result.hits:
        console.print(f"[bold]{hit.doc}#{hit.heading}[/] [dim]({hit.title}, score {hit.score:.2f})[/]")
        console.print(hit.text.strip(), markup=False)
        console.print()
    return 0
