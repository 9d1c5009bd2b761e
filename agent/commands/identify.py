"""``comfyfixer identify MODEL``: what a model is (family and role) and how sure."""

from __future__ import annotations

import typer

from comfyfixer.agent.options import JSON_OUT
from comfyfixer.agent.output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("identify")(identify_command)


def identify_command(
    model: str = typer.Argument(..., help="A model file, a file name, a Civitai/Hugging Face/ModelScope URL, a Civitai "
                                          "id or AIR, or a SHA256."),
    json_out: bool = JSON_OUT,
) -> int:
    """Identify a model: family (SD 1.5, SDXL, Flux, Wan, …), role (checkpoint, LoRA, VAE, …), evidence."""
    from comfyfixer.agent import services
    from comfyfixer.tools.identify import IdentifyInput
    from comfyfixer.tools.text import inert

    _, ctx = services.context()
    with ctx:
        ident = services.run("identify_model", IdentifyInput(model=model), ctx)
    if json_out:
        emit_json(ident)
        return 0
    console.print(f"{ident.status}: {ident.name}", markup=False)
    console.print(f"  {ident.kind()}" + (f" ({ident.variant})" if ident.variant else "")
                  + f" · confidence {ident.confidence:.2f} · source: {ident.source}", markup=False)
    if ident.folder:
        console.print(f"  goes in models/{ident.folder}", markup=False)
    # One line per fact, each made single-line: trigger words, names and header metadata come from strangers.
    if ident.trained_words:
        console.print(inert(f"  trigger words: {', '.join(ident.trained_words)}"), markup=False)
    for line in ident.evidence:
        console.print(inert(f"  - {line}"), markup=False)
    for cand in ident.candidates:
        console.print(f"  ? {cand.family or '?'} {cand.role} ({cand.confidence:.2f}): {cand.why}", markup=False)
    return 0
