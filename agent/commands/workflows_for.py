"""``comfyfixer workflows-for MODEL``: workflows that use a model, ranked, with where each came from."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("workflows-for")(workflows_for_command)


def workflows_for_command(
    model: str = typer.Argument(..., help="A model file, a file name, a Civitai/Hugging Face/ModelScope URL, a Civitai "
                                          "id or AIR, or a SHA256."),
    folders: list[Path] = typer.Option([], "--in", help="A folder of your own workflows (repeatable)."),
    comfyui: Path | None = typer.Option(None, "--comfyui", help="The ComfyUI folder (says which hits run here)."),
    sources: list[str] = typer.Option([], "--source", help="Only local, templates, manager or civitai (repeatable)."),
    limit: int = typer.Option(10, "--limit", min=1, max=100, help="How many hits to show."),
    save: Path | None = typer.Option(None, "--save", help="Save the ComfyUI graphs of Civitai images into this folder."),
    json_out: bool = JSON_OUT,
) -> int:
    """List workflows that use a model: your own, official templates, ComfyUI-Manager, Civitai images."""
    from typing import get_args

    from comfyfixer.agent import services
    from comfyfixer.tools.errors import InputError
    from comfyfixer.tools.identify.workflows import Source, WorkflowsForInput
    from comfyfixer.tools.text import inert

    unknown = [s for s in sources if s not in get_args(Source)]
    if unknown:
        raise InputError(f"unknown source {unknown[0]!r}", hint="choose among " + ", ".join(get_args(Source)))
    inp = WorkflowsForInput.model_validate({"model": model, "sources": sources or None, "limit": limit})
    if save is not None:
        try:
            save.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot save into {save}: not a folder we can create ({exc.strerror or exc})",
                             hint="choose a folder you can write to with --save") from None
    _, ctx = services.context(comfyui_dir=comfyui)
    with ctx:
        result = services.run("workflows_for_model", inp, ctx, workflow_folders=folders, save_to=save)
    if json_out:
        emit_json(result)
        return 0
    ident = result.identity
    console.print(f"{ident.name}: {ident.kind()} ({ident.status}, confidence {ident.confidence:.2f})", markup=False)
    if ident.status == "UNKNOWN":  # what identification needs instead
        for line in ident.evidence:
            console.print(inert(f"  - {line}"), markup=False)
    for i, hit in enumerate(result.hits, 1):
        lacks = [_some(hit.missing, "model file")] * bool(hit.missing) + [_some(hit.missing_nodes, "node class")] * bool(
            hit.missing_nodes)
        here = " · runs here" if result.nodes_checked else " · models installed here (nodes not checked)"
        run = "" if hit.runnable is None else here if hit.runnable else f" · missing {' and '.join(lacks)}"
        extra = f" · {hit.reactions} reactions" if hit.reactions is not None else ""
        # One line per fact, each made single-line: names and paths come from strangers' workflows.
        console.print(inert(f"{i:>2}. [{hit.source}] {hit.name} ({hit.match}, {hit.score:.2f}){extra}{run}"),
                      markup=False)
        console.print(inert(f"    {hit.why}"), markup=False)
        console.print(inert(f"    {hit.location}"), markup=False)
        if hit.app_versions:
            console.print(inert(f"    also in app mode: {', '.join(hit.app_versions)}"), markup=False)
        if hit.saved:
            console.print(inert(f"    saved: {hit.saved}"), markup=False)
    if not result.hits:
        console.print("no workflow found", markup=False)
    for line in result.searched:
        console.print(inert(f"searched: {line}"), markup=False)
    return 0


def _some(names: list[str], kind: str, shown: int = 3) -> str:
    """``a, b, c and 4 more`` (a single count once there are many)."""
    if len(names) > 2 * shown:
        return f"{len(names)} {kind}s"
    head = ", ".join(names[:shown])
    return head + (f" and {len(names) - shown} more" if len(names) > shown else "")
