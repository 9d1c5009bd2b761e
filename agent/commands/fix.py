"""``comfyfixer fix`` / ``approve`` / ``apply``: from "missing things" to "runnable", with the user in control.

1. ``fix PATH...`` checks readiness, resolves every gap and writes a plan file (nothing on disk changes
   except the plan itself under the state folder).
2. ``approve PLAN_FILE`` shows the plan, asks (or takes ``--yes``), optionally picks candidates
   (``--choose ITEM=N``) or drops actions (``--drop ITEM``) — which makes a new plan file — and
   prints a single-use, expiring token ``approve:<plan_id>:<nonce>``.
3. ``apply PLAN_FILE --token TOKEN`` executes it, journals every change and checks the workflows again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from comfyfixer.agent.options import COMFYUI, JSON_OUT
from comfyfixer.agent.output import EXIT_FINDINGS, EXIT_OK, console, emit_json, show_plan, warn
from comfyfixer.tools.text import inert

if TYPE_CHECKING:
    from comfyfixer.agent.executor import ExecutionReport
    from comfyfixer.agent.plan import Plan


def register(app: typer.Typer) -> None:
    app.command("fix")(fix_command)
    app.command("approve")(approve_command)
    app.command("apply")(apply_command)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


# --- fix ----------------------------------------------------------------------------------------------


def fix_command(
    paths: list[str] | None = typer.Argument(None, help="Workflow files or folders."),
    comfyui: Path | None = COMFYUI,
    inputs: Path | None = typer.Option(None, "--inputs", help="Build the plan from a PlanInputs JSON instead of checking."),
    no_resolve: bool = typer.Option(False, "--no-resolve", help="Do not search online sources; use URLs the workflows carry."),
    no_pin: bool = typer.Option(False, "--no-pin", help="Do not ask git remotes for the commit to pin packs at (their requirements are then not checked)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan without saving it."),
    json_out: bool = JSON_OUT,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when anything is left unresolved."),
) -> int:
    """Plan what would make the workflows runnable here: downloads, moves, node packs. Changes nothing."""
    from comfyfixer.agent import services
    from comfyfixer.agent.plan import PlanInputs, save_plan
    from comfyfixer.agent.planning import PlanFixInput, make_plan, plan_result
    from comfyfixer.tools.errors import InputError

    _, ctx = services.context(comfyui_dir=comfyui)
    with ctx:
        if inputs is not None:
            try:
                plan_inputs = PlanInputs.model_validate_json(inputs.read_text(encoding="utf-8"))
            except OSError as exc:
                raise InputError(f"cannot read {inputs}: {exc.strerror}") from None
            except ValueError as exc:
                raise InputError(f"{inputs} is not a PlanInputs JSON: {str(exc).splitlines()[0]}") from None
            if comfyui is not None:
                plan_inputs.comfyui_dir = comfyui
            plan = make_plan(plan_inputs, ctx, pin=not no_pin)
            result = plan_result(plan, None if dry_run else save_plan(plan, ctx.state_dir), ctx)
        else:
            if not paths:
                raise InputError("no workflows given", hint="pass workflow files or folders")
            result = services.run("plan_fix", PlanFixInput(paths=list(paths), resolve=not no_resolve, pin=not no_pin,
                                                           save=not dry_run), ctx)
    if json_out:
        emit_json(result.model_dump(mode="json", exclude={"summary", "next_step"}))
    else:
        show_plan(result.summary, result.notes, result.plan_file, has_actions=bool(result.actions))
    return EXIT_FINDINGS if strict and result.unresolved else EXIT_OK


# --- approve ------------------------------------------------------------------------------------------


def approve_command(
    plan_file: Path = typer.Argument(..., help="A plan file written by `comfyfixer fix`."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve without asking."),
    choose: list[str] | None = typer.Option(None, "--choose", help="ITEM=N: use candidate N for an unresolved item."),
    drop: list[str] | None = typer.Option(None, "--drop", help="ITEM: leave this action out."),
    confirm: list[str] | None = typer.Option(None, "--confirm", help="ITEM: accept an action that needs confirmation."),
    confirm_all: bool = typer.Option(False, "--confirm-all", help="Accept every action that needs confirmation."),
    allow_pickle: list[str] | None = typer.Option(
        None, "--allow-pickle", help="ITEM: place this pickle file even if it imports globals a weights file never needs (trusted author only)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the (edited) plan; issue no token."),
    json_out: bool = JSON_OUT,
) -> int:
    """Review a plan and approve it: prints a single-use approval token for `comfyfixer apply`."""
    from comfyfixer.agent import approval
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.plan import allow_pickle as allow_pickle_in
    from comfyfixer.agent.plan import choose as choose_candidate
    from comfyfixer.agent.plan import confirm_by_name_only, load_plan, save_plan
    from comfyfixer.agent.plan import drop as drop_action
    from comfyfixer.tools.errors import ApprovalError, InputError

    settings = load_settings()
    plan = load_plan(plan_file)
    original_id = plan.plan_id
    for spec in choose or []:
        item, sep, num = spec.rpartition("=")
        if not sep or not num.isdigit():
            raise InputError(f"--choose {spec!r}: expected ITEM=N")
        plan = choose_candidate(plan, item, int(num))
    for item in drop or []:
        plan = drop_action(plan, item)
    for item in allow_pickle or []:
        plan = allow_pickle_in(plan, item)
    confirmed = set(confirm or [])
    unknown = confirmed - {a.item for a in plan.actions}
    if unknown:
        raise InputError(f"--confirm names no action: {', '.join(sorted(unknown))}")
    # --confirm-all never covers a GPU-stack change: that one is accepted only by naming its item
    needs = [a for a in plan.actions if a.confirm and a.item not in confirmed
             and (not confirm_all or confirm_by_name_only(a))]
    if needs and not json_out and _interactive() and not yes and not dry_run:
        _show_plan(plan)
        for a in needs:
            if typer.confirm(inert(f"{a.item}: {'; '.join(a.confirm)}. Include it?"), default=False):
                confirmed.add(a.item)
        needs = [a for a in needs if a.item not in confirmed]
    for a in needs:  # not confirmed: left out, never silently included
        plan = drop_action(plan, a.item)
        if not json_out:
            named = " (--confirm-all does not cover it)" if confirm_all else ""
            warn(f"left out {a.item} (needs confirmation: {'; '.join(a.confirm)}); pass --confirm {a.item} to include "
                 f"it{named}")
    if plan.total_download_bytes > plan.policy.max_total_bytes and not confirm_all:
        raise ApprovalError(
            f"the plan downloads {plan.total_download_bytes} bytes, over the cap of {plan.policy.max_total_bytes}",
            hint="drop some downloads (--drop ITEM) or pass --confirm-all to accept it")
    path = plan_file if plan.plan_id == original_id else save_plan(plan, settings.state_dir)
    if dry_run:
        if json_out:
            emit_json({"plan_file": str(path), "plan_id": plan.plan_id, "token": None, "dry_run": True})
        else:
            _show_plan(plan)
        return EXIT_OK
    if not yes:
        if not _interactive():
            raise ApprovalError("approval needs a terminal to ask at", hint="pass --yes to approve non-interactively")
        if not json_out:
            _show_plan(plan)
        if not typer.confirm("Approve this plan?", default=False):
            raise ApprovalError("not approved")
    from comfyfixer.agent.journal import Journal

    with Journal(settings.state_dir) as journal:  # the token itself is never journaled
        granted = approval.grant(path, plan.plan_id, settings.state_dir, settings.approval_ttl_seconds, journal,
                                 parent_plan=original_id, actions=[a.item for a in plan.actions])
    if json_out:
        emit_json({"token": granted.token, "expires_at": granted.expires_at, "plan_file": str(path),
                   "plan_id": plan.plan_id})
    else:
        if path != plan_file:
            console.print(f"Edited plan saved as [bold]{path}[/]")
        console.print(f"Approved until {granted.expires_at}. Token (single use):\n{granted.token}")
        console.print(f"Run: comfyfixer apply {path} --token {granted.token}")
    return EXIT_OK


# --- apply --------------------------------------------------------------------------------------------


def apply_command(
    plan_file: Path = typer.Argument(..., help="An approved plan file."),
    token: str | None = typer.Option(None, "--token", help="The token printed by `comfyfixer approve`."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask again (needs --token when not at a terminal)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would happen; change nothing, keep the token."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=8, help="Parallel downloads."),
    no_recheck: bool = typer.Option(False, "--no-recheck", help="Skip checking the workflows again afterwards."),
    json_out: bool = JSON_OUT,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when an action failed or a workflow is still not runnable."),
) -> int:
    """Execute an approved plan: downloads (resumable, verified), moves, node packs; then re-check."""
    from comfyfixer.agent import approval
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.executor import Executor
    from comfyfixer.agent.journal import Journal
    from comfyfixer.agent.plan import load_plan
    from comfyfixer.tools.errors import ApprovalError

    settings = load_settings()
    plan = load_plan(plan_file)
    if token is None:
        if dry_run:
            pass
        elif not _interactive():
            raise ApprovalError("applying a plan needs an approval token when not at a terminal",
                                hint=f"run `comfyfixer approve {plan_file}` and pass --token")
        else:
            from comfyfixer.agent.plan import confirm_by_name_only

            named = [a.item for a in plan.actions if confirm_by_name_only(a)]
            if named:  # a GPU-stack change is accepted only by naming it, never by a yes to the whole plan
                raise ApprovalError(f"the plan changes ComfyUI's GPU stack ({', '.join(named)})",
                                    hint=f"accept it by name: `comfyfixer approve {plan_file} "
                                    + " ".join(f"--confirm {i}" for i in named) + "`, then apply with --token")
            if not json_out:
                _show_plan(plan)
            if not yes and not typer.confirm("Apply this plan now?", default=False):
                raise ApprovalError("not approved")
            # Approved here, at the terminal: journaled as an approval like `comfyfixer approve`.
            with Journal(settings.state_dir) as journal:
                token = approval.grant(plan_file, plan.plan_id, settings.state_dir, settings.approval_ttl_seconds,
                                       journal, via="apply --yes" if yes else "apply-confirmed",
                                       actions=[a.item for a in plan.actions]).token
    if token is not None:
        if dry_run:
            approval.check(token, plan_file, plan.plan_id, settings.state_dir)
        else:
            approval.consume(token, plan_file, plan.plan_id, settings.state_dir)
    with Journal(settings.state_dir) as journal:
        if not dry_run:
            journal.append("approval_used", plan_id=plan.plan_id, inputs={"plan_file": str(plan_file)},
                           message=f"applying plan {plan.plan_id[:12]}")
        report = Executor(plan, settings, journal, dry_run=dry_run, concurrency=concurrency,
                          show_progress=not json_out).run()
    if not dry_run and not no_recheck and plan.workflows:
        from comfyfixer.agent.planning import recheck
        from comfyfixer.agent.services import build_context

        with build_context(settings) as ctx:
            report.recheck = recheck(plan, ctx)
    if json_out:
        emit_json(report)
    else:
        _show_report(report)
    still = bool(report.recheck and report.recheck.get("not_runnable"))
    return EXIT_FINDINGS if strict and (report.failed or still) else EXIT_OK


# --- rendering ----------------------------------------------------------------------------------------


def _show_plan(plan: Plan) -> None:
    from comfyfixer.agent.plan import summary_lines

    for line in summary_lines(plan):
        console.print(line, markup=False)


def _show_report(report: ExecutionReport) -> None:
    marks = {"done": "✔", "already_done": "=", "failed": "✘", "manual": "→", "dry_run": "·", "left_alone": "!"}
    for o in report.outcomes:
        console.print(inert(f"{marks.get(o.status, '?')} {o.item}: {o.message}"), markup=False)
    if report.snapshot_id:
        console.print(f"Snapshot {report.snapshot_id} taken before applying: undo with "
                      f"`comfyfixer undo {report.plan_id[:12]}`", markup=False)
    if report.recheck:
        ok = report.recheck.get("runnable") or []
        bad = report.recheck.get("not_runnable") or []
        console.print(f"Re-check: {len(ok)} runnable, {len(bad)} not runnable", markup=False)
        for b in bad:
            console.print(inert(f"  {b['path']}: missing {', '.join(b['missing_models'] + b['missing_node_types'])}"),
                          markup=False)
