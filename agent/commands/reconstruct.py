"""``comfyfixer reconstruct``: rebuild the ComfyUI workflow behind an image (local file or Civitai)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from comfyfixer.agent.options import JSON_OUT


def register(app: typer.Typer) -> None:
    app.command("reconstruct")(reconstruct_command)


def reconstruct_command(
    source: str | None = typer.Argument(None, help="An image file, or a civitai.com image/post URL."),
    civitai_image: int | None = typer.Option(None, "--civitai-image", help="A Civitai image id."),
    civitai_post: int | None = typer.Option(None, "--civitai-post", help="A Civitai post id."),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for <name>.workflow.json and <name>.api.json (never overwritten; default: current folder)."
    ),
    name: str | None = typer.Option(None, "--name", help="Base name of the written files."),
    comfyui: Path | None = typer.Option(None, "--comfyui", help="Local ComfyUI folder: also check what is missing there."),
    object_info: Path | None = typer.Option(None, "--object-info", help="Saved /object_info JSON used as node schemas."),
    no_resolve: bool = typer.Option(False, "--no-resolve", help="Do not look models up by hash on Civitai/Hugging Face."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Write no files."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 unless the status is OK."),
    json_out: bool = JSON_OUT,
) -> int:
    """Rebuild the ComfyUI workflow behind an image, say what is certain and what is inferred."""
    from comfyfixer.agent import services
    from comfyfixer.agent.output import EXIT_FINDINGS, emit_json
    from comfyfixer.tools.errors import InputError
    from comfyfixer.tools.reconstruct import ReconstructInput

    given = [x for x in (source, civitai_image, civitai_post) if x is not None]
    if len(given) != 1:
        raise InputError("give exactly one of IMAGE, CIVITAI_URL, --civitai-image ID, --civitai-post ID")
    inp = ReconstructInput(image=source, civitai_image_id=civitai_image, civitai_post_id=civitai_post, name=name,
                           resolve=not no_resolve)
    _, ctx = services.context(comfyui_dir=comfyui, object_info_file=object_info)
    if comfyui is None:  # only a ComfyUI named on the command line is checked against
        ctx = ctx.model_copy(update={"comfyui_dir": None})
    with ctx:
        result = services.run("reconstruct_workflow", inp, ctx, out_dir=None if dry_run else (out or Path.cwd()))
    summary = result.summary()
    if comfyui:
        _offer_plan(summary, comfyui)
    if json_out:
        emit_json(summary)
    else:
        _print(summary)
    return EXIT_FINDINGS if strict and result.status != "OK" else 0


def _offer_plan(summary: dict[str, Any], comfyui: Path) -> None:
    """When the rebuilt workflow does not run here yet, say how to get the make-runnable plan."""
    ready = summary.get("readiness")
    if not ready or ready.get("status") == "runnable":
        return
    files = summary.get("files") or []
    target = files[0] if files else "<name>.workflow.json (write it first: drop --dry-run)"
    ready["make_runnable"] = {
        "command": f"comfyfixer fix {target} --comfyui {comfyui}",
        "what": "plans the model downloads and node packs it needs; nothing changes until you approve the plan",
    }


def _print(s: dict[str, Any]) -> None:
    from rich.markup import escape

    from comfyfixer.agent.output import console

    color = {"OK": "green", "UNCERTAIN": "yellow", "FAILED": "red"}[s["status"]]
    console.print(f"[bold]{escape(s['source'])}[/]: [{color}]{s['status']}[/] (method: {s['method']})")
    if s["certain"]:
        console.print("[bold]certain[/]")
        for c in s["certain"]:
            console.print(f"  • {escape(c)}")
    if s["inferred"]:
        console.print("[bold]inferred[/]")
        for i in s["inferred"]:
            console.print(f"  • {escape(i['what'])} [dim]({i['confidence']:.0%})[/]: {escape(i['why'])}")
    if s["models"]:
        console.print("[bold]models[/]")
        for m in s["models"]:
            hashes = ", ".join(f"{k} {v}" for k, v in m["hashes"].items())
            console.print(f"  • {m['role']}: {escape(str(m['file']))} [{m['verdict']}]"
                          + (f" {escape(hashes)}" if hashes else "") + (f" → {escape(m['source'])}" if m["source"] else ""))
    if s["custom_nodes"]:
        console.print("[bold]node packs[/]")
        for c in s["custom_nodes"]:
            opt = " (optional)" if c["optional"] else ""
            console.print(f"  • {escape(c['pack'])}{opt}: {escape(', '.join(c['classes']))}")
    val = s.get("validation") or {}
    if val.get("errors"):
        console.print(f"[bold]validation[/]: {len(val['errors'])} problem(s)")
        for e in val["errors"][:10]:
            console.print(f"  • node {e['node_id']} {escape(e['class_type'])}: {escape(e['message'])}")
    for n in s["notes"]:
        console.print(f"[dim]note:[/] {escape(n)}")
    for f in s["files"]:
        console.print(f"wrote {escape(f)}")
    ready = s.get("readiness")
    if ready:
        console.print(f"[bold]readiness here[/]: {ready.get('status')}")
        for m in ready.get("missing_models") or []:
            console.print(f"  • missing model {escape(str(m.get('filename')))} ({m.get('folder')})")
        for n in ready.get("missing_node_types") or []:
            console.print(f"  • missing node {escape(str(n.get('class_type')))}: {escape(str(n.get('fix') or ''))}")
        plan = ready.get("make_runnable")
        if plan:
            console.print(f"to make it runnable: [bold]{escape(plan['command'])}[/] ({escape(plan['what'])})")
