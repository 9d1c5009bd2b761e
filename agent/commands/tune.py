"""``comfyfixer tune``: a copy of a workflow changed to fit a VRAM target (``<name>.vN.json``)."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import COMFYUI, JSON_OUT


def register(app: typer.Typer) -> None:
    app.command("tune")(tune_command)


def tune_command(
    workflow: Path = typer.Argument(..., help="A UI-format workflow JSON, or an image that embeds one."),
    vram: str = typer.Option(..., "--vram", help="The VRAM target: 8GB, 12, 24GiB."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the copy (default: beside the workflow)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the changes; write nothing."),
    plan: bool = typer.Option(False, "--plan", help="Then plan what the copy needs (packs, downloads), as `fix` does."),
    faster: bool = typer.Option(False, "--faster", help="Also cut steps with a distilled LoRA (FLUX.1 dev: Hyper-SD 8 steps)."),
    comfyui: Path | None = COMFYUI,
    json_out: bool = JSON_OUT,
) -> int:
    """Write a tuned copy that fits --vram: batch 1, fp8 cast at load, tiled VAE decode, then fewer
    frames or a lower resolution, each only while needed; validated against the node schemas.
    Lists fp8/GGUF files that would remove the remaining weight streaming."""
    from comfyfixer.agent import services
    from comfyfixer.agent.output import console, emit_json
    from comfyfixer.tools.fit.models import parse_vram
    from comfyfixer.tools.fit.tune import TuneInput

    inp = TuneInput(path=str(workflow), vram_gb=parse_vram(vram) or 0, dry_run=dry_run, faster=faster)
    _, ctx = services.context(comfyui_dir=comfyui)
    if plan:  # before the copy is written, not after
        from comfyfixer.agent.planning import require_comfyui_dir

        require_comfyui_dir(ctx)
    planned = None
    with ctx:
        result = services.run("tune_workflow", inp, ctx, out_dir=out)
        if plan and result.written:
            from comfyfixer.agent.planning import PlanFixInput

            planned = services.run("plan_fix", PlanFixInput(paths=[result.written], pin=not ctx.offline), ctx)
    if json_out:
        emit_json({"tune": result.model_dump(mode="json"), "plan": planned.model_dump(mode="json") if planned else None}
                  if plan else result)
        return 0
    gb = 1024**3
    console.print(f"before: {result.before.verdict} — peak {result.before.peak_bytes / gb:.1f} GB", markup=False)
    for c in result.changes:
        console.print(f"  {c.class_type} node {c.node_id}: {c.input} {c.old!r} → {c.new!r} — {c.why}", markup=False)
    console.print(f"after:  {result.after.verdict} — {result.after.summary}", markup=False)
    if result.variants:
        console.print("lighter files to look for (sizes estimated from the parameter count):", markup=False)
    for v in result.variants:
        needs = f", needs {v.needs}" if v.needs else ""
        verdict = f"fits {inp.vram_gb:.1f} GB" if v.peak_gb <= inp.vram_gb else f"still over {inp.vram_gb:.1f} GB"
        console.print(f"  variant: {v.variant} of {v.replaces}: {v.weights_gb:.1f} GB weights, sampling peak "
                      f"{v.peak_gb:.1f} GB — {verdict} ({v.cost}{needs})", markup=False)
    for e in result.validation_errors:
        console.print(f"  invalid: {e}", markup=False)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    if result.written:
        console.print(f"wrote {result.written}", markup=False)
    if planned is not None:
        for line in planned.summary:
            console.print(f"  plan: {line}", markup=False)
        console.print(planned.next_step, markup=False)
    elif dry_run and result.changes:
        console.print("dry run: nothing written", markup=False)
    return 0
