"""``comfyfixer build MODEL --task …``: a minimal, validated UI + API workflow that uses a model."""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("build")(build_command)


def build_command(
    model: str = typer.Argument(..., help="A model file, a file name, a Civitai/Hugging Face/ModelScope URL, a Civitai "
                                          "id or AIR, or a SHA256."),
    task: str | None = typer.Option(None, "--task", help="txt2img, img2img, inpaint, upscale, video, audio, 3d, text "
                                                          "or process (default: the family's or its template's)."),
    family: str | None = typer.Option(None, "--family", help="The family, when identification cannot tell."),
    prompt: str | None = typer.Option(None, "--prompt", help="The positive prompt."),
    out: Path | None = typer.Option(None, "--out", help="Write the UI and API workflows into this folder."),
    object_info: Path | None = typer.Option(None, "--object-info", help="Validate against this object_info JSON."),
    json_out: bool = JSON_OUT,
) -> int:
    """Build a minimal workflow for a model (its family's recipe, or the chain of the official template made for
    it), validated against the node schemas; never overwrites."""
    from typing import get_args

    from comfyfixer.agent import services
    from comfyfixer.tools.errors import InputError
    from comfyfixer.tools.identify.build import DEFAULT_PROMPT, BuildInput
    from comfyfixer.tools.identify.template_recipes import Task
    from comfyfixer.tools.text import inert

    if task is not None and task not in get_args(Task):
        raise InputError(f"unknown task {task!r}", hint="choose one of " + ", ".join(get_args(Task)))
    inp = BuildInput.model_validate({"model": model, "task": task, "family": family, "prompt": prompt or DEFAULT_PROMPT})
    _, ctx = services.context(object_info_file=object_info)
    with ctx:
        result = services.run("build_workflow", inp, ctx, out_dir=out)
    if json_out:
        emit_json(result)
        return _code(result.status)
    ident = result.identity
    what = f"{result.task} workflow" if result.task else "workflow"
    console.print(f"{result.status}: {what} for {ident.name} ({ident.kind()})", markup=False)
    if result.status in ("UNSUPPORTED", "UNCERTAIN"):  # nothing was built: only why, and what to do
        for note in result.notes:
            console.print(inert(f"  {note}"), markup=False)
        return _code(result.status)
    s = result.settings
    if "sampler" in s:
        console.print(f"  {s['sampler']}/{s['scheduler']}, {s['steps']} steps, CFG {s['cfg']}, "
                      f"{s['size'][0]}×{s['size'][1]} (from {s['source']})", markup=False)
    elif s:
        console.print(f"  from {s['source']}", markup=False)
    console.print(f"  validated against {result.schemas or 'node schemas'}: {len(result.errors)} errors", markup=False)
    for err in result.errors:
        console.print(inert(f"  error: {err}"), markup=False)
    for comp in result.companions:
        console.print(inert(f"  needs {comp.folder}/{comp.file}" + (f" ({comp.url})" if comp.url else "")), markup=False)
    for note in result.notes:
        console.print(inert(f"  note: {note}"), markup=False)  # trigger words come from Civitai pages
    for path in result.written:
        console.print(f"  wrote {path}", markup=False)
    return _code(result.status)


def _code(status: str) -> int:
    """0 built, 1 built but invalid against the schemas (nothing written), 2 nothing built: no recipe for this
    model and task, or identification left a choice to the user (UNCERTAIN)."""
    return {"BUILT": 0, "INVALID": 1}.get(status, 2)
