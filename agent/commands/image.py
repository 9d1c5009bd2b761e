"""``comfyfixer image PATH…``: what an AI image says about how it was made.

``comfyfixer image read PATH…`` (the spelling before the command had one job) still works.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

def register(app: typer.Typer) -> None:
    app.command("image", no_args_is_help=True)(read_command)


def read_command(
    paths: list[Path] = typer.Argument(..., help="Image files or folders (PNG, JPEG, WebP; folders are walked)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only (one object, or a list for several files)."),
    no_stealth: bool = typer.Option(False, "--no-stealth", help="Skip the hidden alpha-channel (stealth) scan."),
) -> int:
    """Read prompt, seed, sampler, models, LoRAs and embedded ComfyUI graphs from images."""
    from comfyfixer.agent import services
    from comfyfixer.agent.output import console, emit_json
    from comfyfixer.tools.errors import InputError
    from comfyfixer.tools.imagemeta.models import ReadImageInput
    from comfyfixer.tools.imagemeta.reader import read_images, summary

    if len(paths) > 1 and str(paths[0]) == "read" and not paths[0].exists():
        paths = paths[1:]  # `comfyfixer image read …`, the earlier spelling
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputError(f"not found: {', '.join(missing)}", hint="check the path")
    _, ctx = services.context()
    with ctx:
        results = read_images(paths, read=lambda p: services.run(
            "read_image_metadata", ReadImageInput(path=str(p), stealth=not no_stealth), ctx))
    rows = [summary(r) for r in results]
    if json_out:
        single = len(paths) == 1 and not paths[0].is_dir() and len(rows) == 1
        emit_json(_finite(rows[0] if single else rows))
        return 0
    if not rows:
        console.print("no image files found")
    for row in rows:
        _print_row(console, row)
    return 0


def _finite(obj: object) -> object:
    """Replace NaN/Infinity (ComfyUI graphs carry them) so the JSON stays standard."""
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _print_row(c: Console, row: dict[str, Any]) -> None:
    from rich.markup import escape

    c.print(f"[bold]{escape(str(row['path']))}[/]")
    if row.get("error"):
        c.print(f"  [red]error:[/] {escape(str(row['error']))}")
        return
    if row.get("generator") is None:
        c.print("  no metadata")
        return
    model = row.get("model") or {}
    loras = row.get("loras") or []
    fields = [
        ("generator", row["generator"]), ("prompt", row.get("prompt")), ("negative", row.get("negative_prompt")),
        ("seed", row.get("seed")), ("steps", row.get("steps")), ("cfg", row.get("cfg")),
        ("sampler", f"{row.get('sampler')} / {row.get('scheduler')} (raw: {row.get('sampler_raw')} / {row.get('scheduler_raw')})"),
        ("size", f"{row.get('width')}x{row.get('height')}" if row.get("width") else None),
        ("model", model.get("name")),
        ("loras", ", ".join(f"{lo['name']}:{lo['weight']}" for lo in loras) or None),
        ("ComfyUI graphs", ", ".join(k for k in ("has_workflow", "has_prompt_graph") if row.get(k)) or None),
    ]
    for name, value in fields:
        if value not in (None, ""):
            text = str(value).strip()
            text = text if len(text) < 300 else text[:300] + "…"
            c.print(f"  [cyan]{name}:[/] {escape(text)}")
