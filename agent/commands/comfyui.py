"""``comfyfixer comfyui install-nodes``: plan putting ComfyFixerSmart's node pack into a ComfyUI.

Like ``fix``, it only writes a plan; ``comfyfixer approve`` and ``comfyfixer apply`` do the rest.
"""

from __future__ import annotations

from pathlib import Path

import typer

from comfyfixer.agent.options import COMFYUI, JSON_OUT

comfyui_app = typer.Typer(help="Things done inside a ComfyUI installation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(comfyui_app, name="comfyui")


@comfyui_app.command("install-nodes")
def install_nodes_command(
    comfyui: Path | None = COMFYUI,
    copy: bool = typer.Option(False, "--copy", help="Copy the pack instead of linking it (a snapshot of this checkout)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan without saving it."),
    json_out: bool = JSON_OUT,
) -> int:
    """Plan linking (or copying) the ComfyFixer node pack into ComfyUI's custom_nodes. Changes nothing."""
    from comfyfixer.agent import services
    from comfyfixer.agent.node_pack import InstallNodesInput
    from comfyfixer.agent.output import emit_json, show_plan

    _, ctx = services.context(comfyui_dir=comfyui)
    with ctx:
        result = services.run("plan_install_nodes", InstallNodesInput(method="copy" if copy else "symlink",
                                                                      save=not dry_run), ctx)
    if json_out:
        emit_json(result.model_dump(mode="json", exclude={"summary", "next_step"}))
        return 0
    show_plan(result.summary, result.warnings, result.plan_file)
    return 0
