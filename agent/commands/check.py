"""``comfyfixer check``: will each workflow run on this ComfyUI, and exactly what is missing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from comfyfixer.agent.check_run import DEMO_OUT, demo_dir
from comfyfixer.agent.options import COMFYUI, JSON_OUT
from comfyfixer.agent.output import console, warn

if TYPE_CHECKING:
    from comfyfixer.agent.reports import ReportPaths
    from comfyfixer.tools.readiness import CheckResult

__all__ = ["DEMO_OUT", "check_command", "demo_dir", "register"]


def register(app: typer.Typer) -> None:
    app.command("check")(check_command)


def check_command(
    paths: list[str] | None = typer.Argument(None, help="Workflow files or folders (searched recursively; JSON and images)."),
    comfyui: Path | None = COMFYUI,
    comfyui_url: str | None = typer.Option(None, "--comfyui-url", help="A running ComfyUI; authoritative when it answers."),
    extra_model_paths: list[Path] | None = typer.Option(
        None, "--extra-model-paths", help="An extra_model_paths.yaml besides <comfyui>/extra_model_paths.yaml (repeatable)."
    ),
    object_info: Path | None = typer.Option(None, "--object-info", help="A saved /object_info JSON to use as node schemas."),
    out: Path | None = typer.Option(None, "--out", help="Write Markdown/JSON reports and the HTML dashboard here."),
    json_out: bool = JSON_OUT,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any workflow is not runnable."),
    demo: bool = typer.Option(False, "--demo", help=f"Check the bundled demo workspace (reports go to ./{DEMO_OUT})."),
    hashes: bool = typer.Option(False, "--hashes", help="Also compute sha256 of the models found (cached)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the inventory cache."),
    vram: str | None = typer.Option(None, "--vram", help="Size each report's VRAM fit for this card (8GB, 12, 24GiB); "
                                    "default: this machine's GPU."),
) -> int:
    """Check a folder of workflows against the local ComfyUI: runnable, missing (what and how to fix), or invalid."""
    from comfyfixer.agent.check_run import run_check

    return run_check(paths, comfyui=comfyui, comfyui_url=comfyui_url, extra_model_paths=extra_model_paths,
                     object_info=object_info, out=out, json_out=json_out, strict=strict, demo=demo, hashes=hashes,
                     no_cache=no_cache, vram=vram, render=_render)


_STYLE = {"runnable": "green", "missing": "yellow", "invalid": "red"}
_MAX_ROWS = 40


def _gaps(w: Any) -> str:
    parts = []
    if w.status == "invalid":
        return str(w.error or "")
    if w.missing_node_types:
        names = ", ".join(n.class_type for n in w.missing_node_types[:3])
        more = f" +{len(w.missing_node_types) - 3}" if len(w.missing_node_types) > 3 else ""
        parts.append(f"nodes: {names}{more}")
    if w.missing_models:
        names = ", ".join(m.filename for m in w.missing_models[:2])
        more = f" +{len(w.missing_models) - 2}" if len(w.missing_models) > 2 else ""
        parts.append(f"models: {names}{more}")
    if w.misplaced_models:
        parts.append("misplaced: " + ", ".join(f"{m.filename} (in {m.found_in})" for m in w.misplaced_models[:2]))
    return "; ".join(parts)


def _render(result: CheckResult, reports: ReportPaths | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    inv = result.inventory
    console.print(f"[bold]Inventory:[/] {escape(str(inv.get('source')))}")
    console.print(f"[dim]{escape(str(inv.get('limits', '')))}[/]")
    folders = ", ".join(f"{k} {v}" for k, v in (inv.get("models_by_folder") or {}).items()) or "no model files"
    console.print(f"[dim]models: {escape(folders)}; packs: {len(inv.get('packs') or [])}; schemas: "
                  f"{escape(result.schema_source)}[/]")
    for note in result.notes:
        warn(note)
    order = {"missing": 0, "invalid": 1, "runnable": 2}
    rows = sorted(result.workflows, key=lambda w: (order[w.status], w.name))
    table = Table("status", "workflow", "what is missing", show_lines=False, expand=False)
    for w in rows[:_MAX_ROWS]:
        table.add_row(f"[{_STYLE[w.status]}]{w.status}[/]", escape(w.name), escape(_gaps(w)))
    console.print(table)
    if len(rows) > _MAX_ROWS:
        console.print(f"[dim]… and {len(rows) - _MAX_ROWS} more (see the reports)[/]")
    s = result.summary
    console.print(
        f"[bold]{s.total} workflows:[/] [green]{s.runnable} runnable[/], [yellow]{s.missing} missing[/], "
        f"[red]{s.invalid} invalid[/]"
    )
    if reports is not None:
        console.print(f"Reports:   {escape(str(reports.index_md))}")
        console.print(f"Dashboard: {escape(reports.dashboard.resolve().as_uri())}")
    else:
        console.print("[dim]Add --out DIR for Markdown/JSON reports and an HTML dashboard.[/]")
