"""``comfyfixer fit``: does this workflow fit this GPU (or ``--vram 8GB``)? Explained stage by stage."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import COMFYUI, JSON_OUT


def register(app: typer.Typer) -> None:
    app.command("fit")(fit_command)


def _gb(n: int) -> str:
    return f"{n / 1024**3:5.1f} GB"


def fit_command(
    workflow: Path = typer.Argument(..., help="A workflow JSON (UI or API) or an image that embeds one."),
    vram: str | None = typer.Option(None, "--vram", help="Size for this much VRAM (8GB, 12, 24GiB). Default: this machine's GPU."),
    comfyui: Path | None = COMFYUI,
    comfyui_url: str | None = typer.Option(None, "--comfyui-url", help="A running ComfyUI: its device is the default VRAM."),
    json_out: bool = JSON_OUT,
) -> int:
    """Estimate the VRAM a workflow needs and whether it fits: the weights each loader keeps resident
    (exact from the file headers when the files are in --comfyui), the working set at the workflow's
    resolution, frames and batch, and the VAE decode; then fits / fits with offloading / does not fit."""
    from comfyfixer.agent import services
    from comfyfixer.agent.output import console, emit_json
    from comfyfixer.tools.fit.models import FitInput, parse_vram

    inp = FitInput(path=str(workflow), vram_gb=parse_vram(vram))
    _, ctx = services.context(comfyui_dir=comfyui, comfyui_url=comfyui_url)
    with ctx:
        report = services.run("estimate_fit", inp, ctx)
    if json_out:
        emit_json(report)
        return 0
    where = f"{report.width}×{report.height}" + (f", {report.frames} frames" if report.frames > 1 else "")
    console.print(f"{report.path}: {report.family_label or 'no model family'} at {where}, batch {report.batch}"
                  + (", tiled VAE decode" if report.tiled_decode else ""), markup=False)
    for st in report.stages:
        mark = " (adapts: not counted in the peak)" if st.adaptive else ""
        console.print(f"  {st.stage}: {_gb(st.bytes).strip()}{mark}", markup=False)
        for line in st.lines:
            console.print(f"    {_gb(line.bytes)}  {line.what} — {line.how}", markup=False)
    console.print(f"  all models resident at once: {_gb(report.all_resident_bytes).strip()}", markup=False)
    vram_text = f"{report.vram_bytes / 1024**3:.1f} GB ({report.vram_source})" if report.vram_bytes else \
        f"none — {report.vram_source}"
    console.print(f"VRAM: {vram_text}", markup=False)
    console.print(f"{report.verdict}: {report.summary}", markup=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    return 0
