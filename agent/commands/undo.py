"""``comfyfixer undo`` / ``snapshots``: take an applied plan back, through a plan of its own.

``undo PLAN_OR_JOURNAL_ID`` writes an undo plan from the snapshot taken before that plan was applied
(nothing changes yet); the user approves it with ``comfyfixer approve`` and applies it with
``comfyfixer apply --token`` like any plan. ``snapshots`` lists what can be undone.
"""

from __future__ import annotations

import typer

from comfyfixer.agent.options import JSON_OUT
from comfyfixer.agent.output import EXIT_OK, console, emit_json


def register(app: typer.Typer) -> None:
    app.command("undo")(undo_command)
    app.command("snapshots")(snapshots_command)


def undo_command(
    ref: str = typer.Argument(..., metavar="PLAN_OR_JOURNAL_ID",
                              help="The applied plan: its id (8+ characters), its plan file, a snapshot id or a journal entry id."),
    purge: bool = typer.Option(False, "--purge", help="Delete the files the plan downloaded instead of quarantining them."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the undo plan without saving it."),
    json_out: bool = JSON_OUT,
) -> int:
    """Plan the reversal of an applied plan (packs and downloads to quarantine, moves back, Python pins restored)."""
    from comfyfixer.agent import services
    from comfyfixer.agent.snapshots import PlanUndoInput

    _, ctx = services.context()
    with ctx:
        result = services.run("plan_undo", PlanUndoInput(ref=ref, purge=purge, save=not dry_run), ctx)
    if json_out:
        emit_json(result.model_dump(mode="json", exclude={"summary"}))
        return EXIT_OK
    console.print(f"From snapshot {result.snapshot_id}", markup=False)
    for line in result.summary:
        console.print(line, markup=False)
    console.print(f"\n{result.next_step}", markup=False)
    return EXIT_OK


def snapshots_command(
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many, newest first."),
    json_out: bool = JSON_OUT,
) -> int:
    """List the snapshots taken before each applied plan, newest first, with the undo command for each."""
    from comfyfixer.agent import services
    from comfyfixer.agent.snapshots import ListSnapshotsInput

    _, ctx = services.context()
    with ctx:
        result = services.run("list_snapshots", ListSnapshotsInput(limit=limit), ctx)
    if json_out:
        emit_json(result)
        return EXIT_OK
    if not result.snapshots:
        console.print("no snapshots yet (one is taken each time a plan is applied)", markup=False)
    for s in result.snapshots:
        freeze = f"{s.pip_freeze_lines} pins" if s.pip_freeze_lines is not None else "no pip freeze"
        what = f"undo of {s.undo_of[:12]}" if s.undo_of else f"plan {s.plan_id[:12]}"
        state = "" if s.finished else " (run did not finish)"
        console.print(f"{s.created_at}  {what}  {s.comfyui_dir}  {freeze}, {s.packs} packs, {s.placed} placed{state}"
                      f"  → {s.undo_command}", markup=False)
    return EXIT_OK
