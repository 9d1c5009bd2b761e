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
from typing import TYPE_CHECKING, Any

import typer

from comfyfixer.agent.output import EXIT_FINDINGS, EXIT_OK, console, emit_json, warn

if TYPE_CHECKING:
    from comfyfixer.agent.config import Settings
    from comfyfixer.agent.executor import ExecutionReport
    from comfyfixer.agent.plan import Plan, PlanInputs


def register(app: typer.Typer) -> None:
    app.command("fix")(fix_command)
    app.command("approve")(approve_command)
    app.command("apply")(apply_command)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


# --- fix ----------------------------------------------------------------------------------------------


def fix_command(
    paths: list[str] | None = typer.Argument(None, help="Workflow files or folders."),
    comfyui: Path | None = typer.Option(None, "--comfyui", help="The ComfyUI folder (holds models/ and custom_nodes/)."),
    inputs: Path | None = typer.Option(None, "--inputs", help="Build the plan from a PlanInputs JSON instead of checking."),
    no_resolve: bool = typer.Option(False, "--no-resolve", help="Do not search online sources; use URLs the workflows carry."),
    no_pin: bool = typer.Option(False, "--no-pin", help="Do not ask git remotes for the commit to pin packs at."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan without saving it."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document only."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when anything is left unresolved."),
) -> int:
    """Plan what would make the workflows runnable here: downloads, moves, node packs. Changes nothing."""
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.plan import PlanInputs, save_plan, to_json_summary
    from comfyfixer.tools.errors import InputError

    settings = load_settings(comfyui_dir=comfyui)
    if inputs is not None:
        try:
            plan_inputs = PlanInputs.model_validate_json(inputs.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read {inputs}: {exc.strerror}") from None
        except ValueError as exc:
            raise InputError(f"{inputs} is not a PlanInputs JSON: {str(exc).splitlines()[0]}") from None
        if comfyui is not None:
            plan_inputs.comfyui_dir = comfyui
    else:
        if not paths:
            raise InputError("no workflows given", hint="pass workflow files or folders")
        if settings.comfyui_dir is None:
            raise InputError("no ComfyUI folder", hint="pass --comfyui DIR or set COMFYFIXER_COMFYUI_DIR")
        plan_inputs = gather_inputs(settings, list(paths), resolve=not (no_resolve or settings.offline))
    plan = make_plan(plan_inputs, settings, pin=not no_pin)
    notes = token_notes(plan, settings)
    path = None if dry_run else save_plan(plan, settings.state_dir)
    if json_out:
        doc = to_json_summary(plan, path or Path(""))
        doc["plan_file"] = str(path) if path else None
        doc["notes"] = notes
        emit_json(doc)
    else:
        _show_plan(plan)
        for note in notes:
            warn(note)
        if path is None:
            console.print("\n(dry run: plan not saved)")
        else:
            console.print(f"\nPlan saved to [bold]{path}[/]")
            if plan.actions:
                console.print(f"Next: [bold]comfyfixer approve {path}[/] then [bold]comfyfixer apply {path} --token …[/]")
    return EXIT_FINDINGS if strict and plan.unresolved else EXIT_OK


def token_notes(plan: Plan, settings: Settings) -> list[str]:
    """Tell the user before approval which downloads will fail for want of a token."""
    from comfyfixer.agent.plan import DownloadAction

    notes = []
    names = {"civitai": ("civitai_token", "COMFYFIXER_CIVITAI_TOKEN (or CIVITAI_API_TOKEN)"),
             "hf": ("hf_token", "HF_TOKEN")}
    for a in plan.actions:
        if isinstance(a, DownloadAction) and a.token and not settings.secret(names[a.token][0]):
            gated = " (gated: accept its license on the website too)" if a.gated else ""
            notes.append(f"{a.item} needs a {a.token} token{gated}: set {names[a.token][1]}")
    return notes


def gather_inputs(settings: Settings, paths: list[str], *, resolve: bool) -> PlanInputs:
    """Readiness check (+ resolver, when available) → :class:`PlanInputs`."""
    from comfyfixer.agent.plan import (
        MisplacedNeed,
        ModelNeed,
        NodeTypeNeed,
        PackRef,
        PlanInputs,
        SourceCandidate,
    )
    from comfyfixer.agent.services import catalog_for
    from comfyfixer.tools.readiness import CheckInput, check_workflows

    assert settings.comfyui_dir is not None
    comfy = Path(settings.comfyui_dir)
    result = check_workflows(CheckInput(
        paths=paths, comfyui_dir=comfy, comfyui_url=settings.comfyui_url,
        extra_model_paths=list(settings.extra_model_paths), object_info_file=settings.object_info_file,
        cache_dir=settings.cache_dir / "inventory"), catalog=catalog_for(settings))
    models: dict[tuple[str | None, str], ModelNeed] = {}
    misplaced: list[MisplacedNeed] = []
    node_types: dict[str, NodeTypeNeed] = {}
    resolver = _resolver(settings) if resolve else None
    for wf in result.workflows:
        for mm in wf.missing_models:
            key = (mm.folder, mm.filename)
            if key in models:
                models[key].node_ids.extend(mm.node_ids)
                continue
            cands: list[SourceCandidate] = []
            verdict = "NOT_FOUND"
            reason = ""
            if resolver is not None:
                verdict, cands, reason = resolver(mm.filename, mm.folder, mm.url or mm.catalog_url)
            else:
                for src, url in (("workflow", mm.url), ("catalog:manager", mm.catalog_url)):
                    if url and not any(c.url == url for c in cands):
                        cands.append(SourceCandidate(source=src, url=url, filename=mm.filename.rsplit("/", 1)[-1]))
                verdict = "RESOLVED" if len(cands) == 1 else "UNCERTAIN" if cands else "NOT_FOUND"
                reason = "" if cands else "no URL in the workflow or catalogs (online search was off)"
            models[key] = ModelNeed(filename=mm.filename, folder=mm.folder, node_ids=list(mm.node_ids),
                                    verdict=verdict, candidates=cands, reason=reason)
        for mis in wf.misplaced_models:
            if mis.expected_folder and mis.move_from:
                try:
                    rel = Path(mis.move_from).resolve().relative_to(comfy.resolve()).as_posix()
                except ValueError:
                    continue  # outside the ComfyUI folder: we never move files we do not own
                misplaced.append(MisplacedNeed(filename=mis.filename, found_in=rel, expected_folder=mis.expected_folder))
        for nt in wf.missing_node_types:
            if nt.class_type in node_types:
                continue
            node_types[nt.class_type] = NodeTypeNeed(
                class_type=nt.class_type, status=nt.status, reason=nt.reason or nt.fix,
                packs=[PackRef(id=p.id, reference=p.reference) for p in nt.packs])
    manager = next((p for p in (comfy / "custom_nodes" / d / "cm-cli.py" for d in ("ComfyUI-Manager", "comfyui-manager"))
                    if p.is_file()), None)
    return PlanInputs(
        comfyui_dir=comfy, workflows=[w.path for w in result.workflows], models=list(models.values()),
        misplaced=misplaced, node_types=list(node_types.values()),
        comfyui_python=str(settings.comfyui_python) if settings.comfyui_python else None,
        manager_cli=str(manager) if manager else None,
    )


def _resolver(settings: Settings) -> Any:
    """A function (filename, folder, url_hint) → (verdict, candidates, reason), or None if unavailable."""
    from comfyfixer.agent.commands.resolve import build_model_resolver
    from comfyfixer.agent.plan import SourceCandidate
    from comfyfixer.agent.services import catalog_for
    from comfyfixer.tools.errors import ComfyFixerError
    from comfyfixer.tools.resolver.models import ModelQuery

    try:
        resolver = build_model_resolver(settings, catalog_for(settings))
    except ComfyFixerError as exc:
        warn(f"online resolution unavailable: {exc}")
        return None

    def resolve(filename: str, folder: str | None, url: str | None) -> tuple[str, list[SourceCandidate], str]:
        try:
            verdict = resolver.resolve(ModelQuery(filename=filename, folder=folder, url_hint=url))
        except ComfyFixerError as exc:
            return "NOT_FOUND", [], f"resolver failed: {exc}"
        cands = [SourceCandidate(source=c.source, url=c.url, filename=c.filename, size=c.size, sha256=c.sha256,
                                 needs_token=c.needs_token, gated=c.gated, license=c.license, score=c.score,
                                 folder=c.folder or verdict.folder, note="; ".join(c.reasons[:3]))
                 for c in verdict.candidates]
        reason = "; ".join(e.said for e in verdict.evidence[-2:]) if str(verdict.status) != "RESOLVED" else ""
        return str(verdict.status), cands, reason

    return resolve


def _repositories_from_registry(inputs: PlanInputs, settings: Settings) -> None:
    """Packs known only by registry id get their git repository from the Comfy registry."""
    from comfyfixer.agent.plan import registry_only
    from comfyfixer.tools.comfy_registry import ComfyRegistryClient
    from comfyfixer.tools.errors import ComfyFixerError

    wanted = [p for nt in inputs.node_types if nt.status == "RESOLVED" for p in nt.packs[:1]
              if registry_only(p.reference)]
    if not wanted or settings.offline:
        return
    found: dict[str, str | None] = {}
    with ComfyRegistryClient(settings.comfy_registry_url, timeout=settings.http_timeout,
                             retries=settings.http_retries) as registry:
        for pack in wanted:
            if pack.id not in found:
                try:
                    repo = registry.node(pack.id).repository
                    found[pack.id] = repo if repo and repo.startswith("https://") else None
                except ComfyFixerError as exc:
                    warn(f"the Comfy registry could not name the repository of {pack.id}: {exc}")
                    found[pack.id] = None
            if found[pack.id]:
                pack.reference = found[pack.id]


def make_plan(inputs: PlanInputs, settings: Settings, *, pin: bool = True) -> Plan:
    """Pin packs (online), fill ComfyUI's Python, apply the settings' policy and build the plan.

    Shared by `comfyfixer fix` and the assistant's ``plan_fix`` tool, so both plan the same way.
    """
    from comfyfixer.agent.plan import PlanPolicy, build_plan, free_disk_bytes

    if pin and not settings.offline:
        inputs = pin_packs(inputs, settings)
    if inputs.comfyui_python is None and settings.comfyui_python is not None:
        inputs.comfyui_python = str(settings.comfyui_python)
    policy = PlanPolicy(max_download_bytes=settings.max_download_bytes, max_total_bytes=settings.max_total_bytes,
                        license_allowlist=list(settings.license_allowlist))
    return build_plan(inputs, policy, free_bytes=free_disk_bytes(inputs.comfyui_dir))


def pin_packs(inputs: PlanInputs, settings: Settings) -> PlanInputs:
    """Pin every pack without a commit to the remote's current HEAD (so the plan is exact)."""
    from comfyfixer.agent.executor import host_policy
    from comfyfixer.agent.plan import registry_only
    from comfyfixer.tools.errors import ComfyFixerError
    from comfyfixer.tools.gitpack import remote_head

    policy = host_policy(settings)
    heads: dict[str, str | None] = {}
    _repositories_from_registry(inputs, settings)
    for nt in inputs.node_types:
        if nt.status != "RESOLVED":
            continue
        for pack in nt.packs[:1]:
            if pack.commit or registry_only(pack.reference):
                continue
            if pack.reference not in heads:
                try:
                    heads[pack.reference] = remote_head(pack.reference, policy, timeout=settings.http_timeout)
                except ComfyFixerError as exc:
                    warn(f"cannot pin {pack.id}: {exc}")
                    heads[pack.reference] = None
            pack.commit = heads[pack.reference]
    return inputs


# --- approve ------------------------------------------------------------------------------------------


def approve_command(
    plan_file: Path = typer.Argument(..., help="A plan file written by `comfyfixer fix`."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve without asking."),
    choose: list[str] | None = typer.Option(None, "--choose", help="ITEM=N: use candidate N for an unresolved item."),
    drop: list[str] | None = typer.Option(None, "--drop", help="ITEM: leave this action out."),
    confirm: list[str] | None = typer.Option(None, "--confirm", help="ITEM: accept an action that needs confirmation."),
    confirm_all: bool = typer.Option(False, "--confirm-all", help="Accept every action that needs confirmation."),
    allow_pickle: list[str] | None = typer.Option(
        None, "--allow-pickle", help="ITEM: place this pickle file even if picklescan flags it (trusted author only)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the (edited) plan; issue no token."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document only."),
) -> int:
    """Review a plan and approve it: prints a single-use approval token for `comfyfixer apply`."""
    from comfyfixer.agent import approval
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.plan import allow_pickle as allow_pickle_in
    from comfyfixer.agent.plan import choose as choose_candidate
    from comfyfixer.agent.plan import drop as drop_action
    from comfyfixer.agent.plan import load_plan, save_plan
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
    needs = [a for a in plan.actions if a.confirm and not confirm_all and a.item not in confirmed]
    if needs and not json_out and _interactive() and not yes and not dry_run:
        _show_plan(plan)
        for a in needs:
            if typer.confirm(f"{a.item}: {'; '.join(a.confirm)}. Include it?", default=False):
                confirmed.add(a.item)
        needs = [a for a in needs if a.item not in confirmed]
    for a in needs:  # not confirmed: left out, never silently included
        plan = drop_action(plan, a.item)
        if not json_out:
            warn(f"left out {a.item} (needs confirmation: {'; '.join(a.confirm)}); pass --confirm {a.item} to include it")
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
    granted = approval.issue(path, plan.plan_id, settings.state_dir, settings.approval_ttl_seconds)
    from comfyfixer.agent.journal import Journal

    with Journal(settings.state_dir) as journal:  # the token itself is never journaled
        journal.append("approve", plan_id=plan.plan_id, inputs={"plan_file": str(path), "parent_plan": original_id},
                       outputs={"expires_at": granted.expires_at, "actions": [a.item for a in plan.actions]},
                       message=f"approved plan {plan.plan_id[:12]} until {granted.expires_at}")
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
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document only."),
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
            if not json_out:
                _show_plan(plan)
            if not yes and not typer.confirm("Apply this plan now?", default=False):
                raise ApprovalError("not approved")
            token = approval.issue(plan_file, plan.plan_id, settings.state_dir, settings.approval_ttl_seconds).token
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
        report.recheck = _recheck(settings, plan)
    if json_out:
        emit_json(report)
    else:
        _show_report(report)
    still = bool(report.recheck and report.recheck.get("not_runnable"))
    return EXIT_FINDINGS if strict and (report.failed or still) else EXIT_OK


def _recheck(settings: Settings, plan: Plan) -> dict[str, Any]:
    from comfyfixer.tools.errors import ComfyFixerError
    from comfyfixer.tools.readiness import CheckInput, check_workflows

    existing = [w for w in plan.workflows if Path(w).exists()]
    if not existing:
        return {"skipped": "workflow files not found"}
    try:
        result = check_workflows(CheckInput(paths=existing, comfyui_dir=Path(plan.comfyui_dir),
                                            extra_model_paths=list(settings.extra_model_paths)))
    except ComfyFixerError as exc:
        return {"error": str(exc)}
    return {
        "runnable": [w.path for w in result.workflows if w.status == "runnable"],
        "not_runnable": [{"path": w.path, "status": w.status,
                          "missing_models": [m.filename for m in w.missing_models],
                          "missing_node_types": [n.class_type for n in w.missing_node_types]}
                         for w in result.workflows if w.status != "runnable"],
    }


# --- rendering ----------------------------------------------------------------------------------------


def _show_plan(plan: Plan) -> None:
    from comfyfixer.agent.plan import summary_lines

    for line in summary_lines(plan):
        console.print(line, markup=False)


def _show_report(report: ExecutionReport) -> None:
    marks = {"done": "✔", "already_done": "=", "failed": "✘", "manual": "→", "dry_run": "·"}
    for o in report.outcomes:
        console.print(f"{marks.get(o.status, '?')} {o.item}: {o.message}", markup=False)
    if report.recheck:
        ok = report.recheck.get("runnable") or []
        bad = report.recheck.get("not_runnable") or []
        console.print(f"Re-check: {len(ok)} runnable, {len(bad)} not runnable", markup=False)
        for b in bad:
            console.print(f"  {b['path']}: missing {', '.join(b['missing_models'] + b['missing_node_types'])}",
                          markup=False)
